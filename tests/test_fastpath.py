"""The fast paths and their plain twins (docs/architecture.md#fast-paths).

Every speed trick (aigw.client.fastpath, the catalog view's shared route cache) has a
plain twin that gives the same result through public APIs only; AIGW_NO_FASTPATH=1
picks the twins, process-wide. The normal run is the fast path, so the suite holds it;
here the conformance vectors and the golden renders run again on the plain path (a
pytest in a subprocess with the switch on), and each run checks it really is on the
path it was asked for: a fast path that silently fell back to its twin fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import ChainMap
from pathlib import Path

import httpx
import httpx2
from jinja2.sandbox import SandboxedEnvironment

from aigw import fastpath, render_fast
from aigw.catalog import load_catalog
from aigw.client import fastpath as client_fastpath
from aigw.client.core import Result
from aigw.client.errors import Attempt, attempt
from aigw.envvars import NO_FASTPATH
from aigw.render import Renderer

ROOT = Path(__file__).resolve().parents[1]
VECTORS = sorted(p.stem for p in (ROOT / "spec" / "vectors").glob("*.json"))
# What runs again with the switch on: the vectors (sync and async), the golden renders,
# the route cache, and the check below.
PLAIN_RUN = ["tests/spec/test_vectors.py", "tests/render/test_render.py::test_golden_files_match",
             "tests/catalog/test_view_cache.py",
             "tests/test_fastpath.py::test_this_process_runs_the_path_its_environment_asks_for",
             "tests/test_fastpath.py::test_render_runs_the_path_its_environment_asks_for"]


def test_the_switch_reads_the_environment() -> None:
    """Unset, empty or 0 leaves the fast paths on; 1 (or any other value) turns them off."""
    for value, on in (("", True), ("0", True), ("false", True), ("1", False),
                      ("yes", False), (" 1 ", False)):
        assert fastpath.enabled({NO_FASTPATH: value}) is on, value
    assert fastpath.enabled({}) is True


def test_this_process_runs_the_path_its_environment_asks_for() -> None:
    """Fast: httpx requests built from internals (its self-check passed for httpx and
    httpx2), NamedTuples and attempts built without their constructors. Plain: none."""
    fast = fastpath.enabled(os.environ)
    assert fastpath.ENABLED is fast
    for h in (httpx, httpx2):
        assert client_fastpath.Requests(h).fast is fast, (h.__name__, "request builder")
    assert (client_fastpath.new_tuple is tuple.__new__) is fast
    assert (client_fastpath.keyword_builder(Attempt) is Attempt) is not fast
    # Either way the same values come out.
    assert client_fastpath.new_tuple(Result, (200, "v", "ok", 0.5)) == Result(200, "v", "ok", 0.5)
    a = attempt("chat", "p", "default", 0, "ok", 0.1, "fp", 200, "rev")
    assert a == Attempt("chat", "p", "default", 0, "ok", 0.1, "fp", 200, "rev")


def test_render_runs_the_path_its_environment_asks_for() -> None:
    """Fast: the `q` filter from json's C encoder, the sandbox's dict-lookup shortcut,
    templates' globals one dict, shared parts kept. Plain: json.dumps, Jinja's own
    sandbox and globals, and nothing kept. Either way the same text comes out."""
    fast = fastpath.enabled(os.environ)
    assert (render_fast.quoted is render_fast._quoted_fast) is fast
    renderer = Renderer(load_catalog(ROOT / "examples"))
    assert (type(renderer.env) is render_fast.PlainDataEnvironment) is fast
    assert (type(renderer.env) is SandboxedEnvironment) is not fast
    template = renderer.template("litellm.yaml.j2")
    assert (type(template.globals) is dict) is fast
    assert (type(template.globals) is ChainMap) is not fast
    memo = renderer.cache("a part")
    memo["k"] = "v"
    assert (renderer.cache("a part").get("k") == "v") is fast
    for value in ("plain", 'quote " and \\ and \u00e9 and \n', 3, None, ["a", 1]):
        assert render_fast.quoted(value) == json.dumps(value), value


def test_vectors_and_golden_renders_on_the_plain_path(tmp_path: Path) -> None:
    """The conformance vectors (sync and async) and the golden renders pass with
    AIGW_NO_FASTPATH=1, every vector played by both runners."""
    results = tmp_path / "results"
    env = {**os.environ, NO_FASTPATH: "1", "AIGW_SPEC_RESULTS": str(results)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--basetemp={tmp_path / 'plain'}", *PLAIN_RUN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    for runner in ("python-sync", "python-async"):
        played = json.loads((results / f"{runner}.results.json").read_text())["vectors"]
        assert sorted(played) == VECTORS, runner
