"""Fixtures for `aigw eval`: a git catalog repo, stand-in providers, eval key files.

The providers are stand-ins (testing/eval_provider.py: an OpenAI-compatible
server on 127.0.0.1 whose models answer from a script); everything else is real:
the official openai SDK over aigw.client, git, OPA.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testing.eval_provider import ScriptedProvider

from tests.governance.conftest import git, opa

assert opa  # a fixture, imported for the tests here

EVAL_KEY = "eval-canary-" + secrets.token_hex(8)  # the eval slot's key: must never be printed
CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Italy": "Rome", "Spain": "Madrid",
            "Egypt": "Cairo", "Peru": "Lima"}


def _asked(messages: list[dict[str, Any]]) -> str:
    return str(messages[-1].get("content", "")) if messages else ""


def answer(model: str, messages: list[dict[str, Any]]) -> str:
    """good-model knows every capital; bad-model (the 'new' model) only the first two."""
    text = _asked(messages)
    if model == "judge-model":
        output = re.search(r"<Output>\n(.*)\n</Output>", text, re.DOTALL)
        said = output.group(1) if output else ""
        ok = any(city in said for city in CAPITALS.values())
        return ('{"reason": "names a capital", "pass": true, "score": 1.0}' if ok
                else '{"reason": "no capital named", "pass": false, "score": 0.0}')
    m = re.search(r"capital of (\w+)", text)
    country = m.group(1) if m else ""
    known = list(CAPITALS)[:2] if model == "bad-model" else list(CAPITALS)
    if "Give the year" in text:
        return "1989" if model == "good-model" else "about 1991"
    return CAPITALS[country] if country in known else "I am not sure."


@pytest.fixture
def provider() -> Iterator[ScriptedProvider]:
    """The stand-in provider `lab` (models good-model, bad-model, judge-model)."""
    with ScriptedProvider("lab", [EVAL_KEY], answer) as fake:
        yield fake


CATALOG = """\
environments: {{staging: {{}}, prod: {{}}}}
providers:
  lab:
    api: openai
    base_url: "{url}"
    region: eu
    slots: [default, eval]
    prices:
      good-model: {{currency: USD, as_of: 2026-11-01, input: "1.00", output: "2.00"}}
      bad-model: {{currency: USD, as_of: 2026-11-01, input: "0.50", output: "1.00"}}
  lab2:
    api: openai
    base_url: "{url}"
    region: eu
    slots: [default, eval]
    prices:
      good-model: {{currency: USD, as_of: 2026-11-01, input: "1.00", output: "2.00"}}
      bad-model: {{currency: USD, as_of: 2026-11-01, input: "0.50", output: "1.00"}}
models:
  qa:
    routes:
      - {{provider: lab, model: {model}}}
      - {{provider: lab2, model: {model}}}
    eval: {{set: capitals, judge: judge, floor: 0.7, max_drop: 0.05}}
  judge:
    routes: [{{provider: lab, model: judge-model}}]
services:
  support-bot:
    environments: [staging, prod]
    models: [qa]
    keys: per-service
    regions: [eu]
"""

EVAL_SET = """\
description: Capital cities
prompts:
  - "What is the capital of {{{{country}}}}? Answer with the city only."
defaultTest:
  assert:
    - {{type: latency, threshold: 60000}}
tests: file://capitals.jsonl
"""


def case_lines() -> str:
    """The cases, in promptfoo's JSONL test format."""
    import json

    lines = []
    for i, (country, city) in enumerate(CAPITALS.items()):
        asserts: list[dict[str, Any]] = [{"type": "equals", "value": city},
                                         {"type": "icontains", "value": city.lower()}]
        if i in (0, 3):  # France (both models know it), Spain (only good-model does)
            asserts.append({"type": "llm-rubric", "value": "The answer names a capital city"})
        lines.append(json.dumps({"description": country, "vars": {"country": country},
                                 "assert": asserts}))
    return "\n".join(lines) + "\n"


def write_catalog(repo: Path, url: str, model: str) -> None:
    """The catalog with alias qa on MODEL; the eval set beside it."""
    (repo / "aigw.yaml").write_text(CATALOG.format(url=url, model=model))
    (repo / "evals").mkdir(exist_ok=True)
    (repo / "evals" / "capitals.yaml").write_text(EVAL_SET.format())
    (repo / "evals" / "capitals.jsonl").write_text(case_lines())


@pytest.fixture
def eval_repo(tmp_path: Path, provider: ScriptedProvider,
              monkeypatch: pytest.MonkeyPatch) -> Path:
    """main: qa on good-model; the working tree switches it to bad-model (the PR)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_catalog(repo, provider.base_url, "good-model")
    (repo / ".gitignore").write_text(".aigw/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "catalog")
    write_catalog(repo, provider.base_url, "bad-model")
    for name in ("BAO_ADDR", "VAULT_ADDR", "BAO_TOKEN", "VAULT_TOKEN", "AIGW_HOME",
                 "AIGW_EVAL_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """A folder with the providers' eval key files, mode 0600."""
    folder = tmp_path / "eval-keys"
    folder.mkdir(mode=0o700)
    for p in ("lab", "lab2"):
        path = folder / f"{p}.eval.key"
        path.write_text(EVAL_KEY + "\n")
        path.chmod(0o600)
    return folder
