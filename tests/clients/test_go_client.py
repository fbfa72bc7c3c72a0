"""The Go client (clients/go): `go vet`, staticcheck (pinned, built from the module
proxy), then `go test ./...`, whose vector runner
writes `go.results.json`; that file must equal the Python sync runner's, byte for
byte after `runner` (spec/README.md#the-results-file).

`go test` runs the vectors, the tests through openai-go and anthropic-sdk-go
against `httptest` stand-ins of the providers (providers are the one thing
faked), the canary test and the distribution test. The first build of both SDKs
takes a few minutes on 2 cores; the Go module and build caches (default places)
are kept between runs, so later runs take seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ..spec.player import RESULTS_ENV, VECTORS, results_document, run_all
from ..spec.test_results_agree import compare

ROOT = Path(__file__).resolve().parents[2]
STATICCHECK = "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
MODULE = ROOT / "clients" / "go"
pytestmark = pytest.mark.integration


def go_env(results: Path) -> dict[str, str]:
    """The environment of the go commands: VCS stamping off inside a git checkout."""
    env = dict(os.environ)
    flags = env.get("GOFLAGS", "")
    if "-buildvcs" not in flags:
        env["GOFLAGS"] = (flags + " -buildvcs=false").strip()
    env["AIGW_RESULTS_DIR"] = str(results)
    return env


def run_go(args: list[str], env: dict[str, str]) -> None:
    """Run `go ARGS` in clients/go; fail the test with its output when it fails."""
    proc = subprocess.run(["go", *args], cwd=MODULE, env=env, capture_output=True, text=True,
                          timeout=1200, check=False)
    if proc.returncode != 0:
        pytest.fail(f"go {' '.join(args)} failed ({proc.returncode}):\n"
                    f"{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}")


@pytest.fixture(scope="module")
def go_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder where `go test` wrote go.results.json."""
    if shutil.which("go") is None:
        if os.environ.get("CI"):
            pytest.fail("the Go toolchain is not on PATH (CI runs the Go client's tests)")
        pytest.skip("the Go toolchain is not on PATH")
    results = tmp_path_factory.mktemp("go-results")
    env = go_env(results)
    run_go(["vet", "./..."], env)
    run_go(["run", STATICCHECK, "./..."], env)
    run_go(["test", "-count=1", "./..."], env)
    shared = os.environ.get(RESULTS_ENV)
    if shared:  # CI's folder, where every runner's results file goes
        Path(shared).mkdir(parents=True, exist_ok=True)
        shutil.copy(results / "go.results.json", Path(shared) / "go.results.json")
    return results


def test_go_vet_staticcheck_and_go_test_pass(go_results: Path) -> None:
    assert (go_results / "go.results.json").is_file()


def test_go_results_equal_pythons(go_results: Path, tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copy(go_results / "go.results.json", folder / "go.results.json")
    vectors = run_all(tmp_path / "python-sync", aio=False)
    (folder / "python-sync.results.json").write_text(results_document("python-sync", vectors))
    problems = compare(folder, [p.stem for p in VECTORS])
    assert not problems, "\n".join(problems)
