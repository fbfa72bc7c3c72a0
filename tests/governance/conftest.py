"""Fixtures for governance, diff and init tests: OPA/actionlint, a throwaway git repo.

OPA and actionlint are real binaries (scripts/install-opa.sh, install-actionlint.sh).
Where they are missing the tests skip on a workstation but FAIL under CI=true, so a
CI run can never pass without having checked the rules and the workflows.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aigw.errors import ToolMissing
from aigw.tools import find_actionlint, find_opa

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
_VAULT_ENV = ("BAO_ADDR", "VAULT_ADDR", "BAO_TOKEN", "VAULT_TOKEN", "AIGW_HOME",
              "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE")


def _need(finder: Callable[[], Path], script: str) -> Path:
    try:
        return finder()
    except ToolMissing as exc:
        message = f"{exc.message}: run scripts/{script} (aigw tools install)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} (CI=true: a missing tool fails the run)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def opa() -> Path:
    """The OPA binary."""
    return _need(find_opa, "install-opa.sh")


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """The actionlint binary."""
    return _need(find_actionlint, "install-actionlint.sh")


@pytest.fixture
def no_vault(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No OpenBao configured, no dev server found (cwd is a fresh folder)."""
    for name in _VAULT_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def git(repo: Path, *args: str) -> str:
    """Run git in REPO (identity and signing fixed, so it runs anywhere)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    out = subprocess.run(["git", "-C", str(repo), "-c", "commit.gpgsign=false", *args],
                         capture_output=True, text=True, env=env, check=True)
    return out.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A git repository whose first commit holds the example catalog as aigw.yaml."""
    path = tmp_path / "catalog-repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shutil.copy(EXAMPLES / "aigw.yaml", path / "aigw.yaml")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "catalog")
    yield path
