"""GitHub workflows (this repo's and the scaffold's) pass actionlint and call real commands."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from aigw import cli
from aigw.diff import MARKER
from aigw.scaffold import init_repo
from tests.governance.conftest import ROOT, git

# `aigw CMD ARGS` where a command starts: a `run:`/`entry:` value or a script line.
_CALL = re.compile(r"^\s*(?:-\s+)?(?:run:\s*|entry:\s*)?aigw ([a-z][a-z-]*)((?: [^|;<>\n&]*)?)")


def _lint(actionlint: Path, folder: Path) -> None:
    files = sorted(str(p) for p in (folder / ".github" / "workflows").glob("*.y*ml"))
    assert files, f"no workflows under {folder}"
    out = subprocess.run([str(actionlint), "-no-color", *files], cwd=folder, capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_this_repos_workflows_pass_actionlint(actionlint: Path) -> None:
    _lint(actionlint, ROOT)


@pytest.fixture
def scaffold(tmp_path: Path) -> Path:
    """`aigw init` output in a git repo (actionlint resolves local actions from its root)."""
    init_repo(tmp_path)
    git(tmp_path, "init", "-q")
    return tmp_path


def test_scaffold_workflows_pass_actionlint(actionlint: Path, scaffold: Path) -> None:
    _lint(actionlint, scaffold)


def _load(path: Path) -> dict[Any, Any]:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def test_pull_request_workflow(scaffold: Path) -> None:
    doc = _load(scaffold / ".github/workflows/aigw-pr.yml")
    assert "pull_request" in doc["on"]
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write",
                                  "id-token": "write"}
    steps = doc["jobs"]["check"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    for command in ("aigw validate", "aigw policy check", "aigw render", "--check", "aigw plan",
                    "aigw diff", "--format markdown"):
        assert command in runs
    script = next(s["with"]["script"] for s in steps if "github-script" in s.get("uses", ""))
    assert f"'{MARKER}'" in script and "updateComment" in script and "createComment" in script
    assert "fetch-depth" in steps[0]["with"]


def test_pull_requests_plan_without_refresh_and_a_schedule_checks_drift(
        scaffold: Path) -> None:
    pr = _load(scaffold / ".github/workflows/aigw-pr.yml")
    plans = [s["run"] for s in pr["jobs"]["check"]["steps"] if "aigw plan" in s.get("run", "")]
    assert plans and not any("--refresh" in run for run in plans)  # the fast path
    drift = _load(scaffold / ".github/workflows/aigw-drift.yml")
    assert drift["on"]["schedule"] and "pull_request" not in drift["on"]
    steps = drift["jobs"]["drift"]["steps"]
    assert any("aigw plan" in s.get("run", "") and "--refresh" in s["run"] for s in steps)
    assert any(s.get("with", {}).get("vault-role") == "aigw-ci-plan" for s in steps)
    assert drift["permissions"] == {"contents": "read", "id-token": "write"}


def test_apply_workflow_orders_environments_behind_a_gate(scaffold: Path) -> None:
    doc = _load(scaffold / ".github/workflows/aigw-apply.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    assert jobs["apply-staging"]["needs"] == "check"
    assert jobs["apply-prod"]["needs"] == "apply-staging"
    assert (jobs["apply-staging"]["environment"], jobs["apply-prod"]["environment"]) == (
        "staging", "prod")
    assert doc["concurrency"]["cancel-in-progress"] is False
    for job, env in (("apply-staging", "staging"), ("apply-prod", "prod")):
        steps = jobs[job]["steps"]
        assert any(f"--env {env} --yes" in s.get("run", "") for s in steps)
        assert any(s.get("with", {}).get("vault-role") == f"aigw-ci-apply-{env}" for s in steps)
        assert any("upload-artifact" in s.get("uses", "") for s in steps)
    assert "secrets.PULUMI_CONFIG_PASSPHRASE" in doc["env"]["PULUMI_CONFIG_PASSPHRASE"]


def test_rotation_workflow(scaffold: Path) -> None:
    doc = _load(scaffold / ".github/workflows/aigw-rotate.yml")
    assert doc["on"]["schedule"] and doc["permissions"]["id-token"] == "write"
    runs = " ".join(s.get("run", "") for s in doc["jobs"]["rotate"]["steps"])
    assert "aigw rotate-keys" in runs and "--due" in runs and "GITHUB_STEP_SUMMARY" in runs
    assert "aigw audit" in runs


def test_oidc_login_uses_the_jwt_auth_method(scaffold: Path) -> None:
    action = yaml.safe_load((scaffold / ".github/actions/setup-aigw/action.yml").read_text())
    login = action["runs"]["steps"][-1]["run"]
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in login and "/v1/auth/$VAULT_AUTH_PATH/login" in login
    assert "::add-mask::" in login and "VAULT_TOKEN" not in action["runs"]["steps"][-1]["env"]


def _command(name: str, sub: str | None) -> tuple[Any, list[str]]:
    group: Any = typer.main.get_command(cli.app)
    cmd = group.commands.get(name)
    assert cmd is not None, f"aigw {name} does not exist"
    if hasattr(cmd, "commands") and sub:
        sub_cmd = cmd.commands.get(sub)
        assert sub_cmd is not None, f"aigw {name} {sub} does not exist"
        return sub_cmd, [name, sub]
    return cmd, [name]


def test_every_aigw_call_in_the_scaffold_names_real_flags(scaffold: Path) -> None:
    cli._register()  # what `aigw` registers before it parses
    texts = [p.read_text() for p in (scaffold / ".github").rglob("*.y*ml")]
    texts.append((scaffold / ".pre-commit-config.yaml").read_text())
    texts.append((ROOT / ".pre-commit-hooks.yaml").read_text())
    lines = [ln for text in texts for ln in text.splitlines()
             if not ln.strip().startswith("#")]
    calls = [m for ln in lines for m in _CALL.finditer(ln)]
    assert len(calls) >= 15
    for match in calls:
        words = shlex.split(match.group(2).replace('"$AIGW_CATALOG"', "CATALOG"))
        sub = words[0] if words and not words[0].startswith("-") else None
        cmd, path = _command(match.group(1), sub)
        flags = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for word in words:
            if word.startswith("--"):
                assert word in flags, f"aigw {' '.join(path)}: no option {word}"


@pytest.mark.parametrize(("script", "binary"), [("install-opa.sh", "opa"),
                                                ("install-actionlint.sh", "actionlint")])
def test_install_scripts_are_idempotent(script: str, binary: str, opa: Path,
                                        actionlint: Path) -> None:
    # The tools are installed (fixtures): a second run finds them and builds nothing.
    out = subprocess.run(["bash", str(ROOT / "scripts" / script)], capture_output=True,
                         text=True, timeout=60, check=True)
    folder = Path(out.stdout.strip())
    assert (folder / binary).is_file() and "building" not in out.stderr


GIT_SOURCE = "aigw[cli] @ git+https://github.com/example-org/aigw@v0.1.0"


def _install_step(folder: Path) -> dict[str, Any]:
    action = yaml.safe_load((folder / ".github/actions/setup-aigw/action.yml").read_text())
    return next(s for s in action["runs"]["steps"] if s.get("name") == "Install aigw")


def _dry_run(step: dict[str, Any], tmp_path: Path, **inputs: str) -> list[list[str]]:
    """Run the step's shell as the runner would (bash -e), with `python`/`aigw` stubs that
    record their argv; `${{ inputs.X }}` in the step's env takes INPUTS (else the default)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "calls"
    for name in ("python", "aigw"):
        stub = bin_dir / name
        stub.write_text(f'#!/bin/sh\nprintf "%s\\0" {name} "$@" >> "{log}"\nprintf "\\n" >> '
                        f'"{log}"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    for var, expr in step["env"].items():
        name = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", expr)
        assert name, f"{var}: {expr}"
        env[var] = inputs.get(name[1].replace("-", "_"), "")
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, capture_output=True)
    return [line.strip("\0").split("\0") for line in log.read_text().splitlines() if line]


def test_the_install_source_is_an_input_and_passes_actionlint(actionlint: Path,
                                                              tmp_path: Path) -> None:
    from packaging.requirements import Requirement

    init_repo(tmp_path, install_source=GIT_SOURCE)
    git(tmp_path, "init", "-q")
    _lint(actionlint, tmp_path)
    action = yaml.safe_load((tmp_path / ".github/actions/setup-aigw/action.yml").read_text())
    assert action["inputs"]["aigw"]["default"] == GIT_SOURCE
    assert action["inputs"]["index-url"]["default"] == ""
    req = Requirement(GIT_SOURCE)
    assert (req.name, req.extras, req.url) == ("aigw", {"cli"},
                                               "git+https://github.com/example-org/aigw@v0.1.0")
    # A workflow that picks another source and index: still lints (inputs exist).
    pr = tmp_path / ".github/workflows/aigw-pr.yml"
    pr.write_text(pr.read_text().replace(
        "      - uses: ./.github/actions/setup-aigw\n        with:\n",
        "      - uses: ./.github/actions/setup-aigw\n        with:\n"
        "          aigw: ./dist/aigw-0.1.0-py3-none-any.whl[cli]\n"
        "          index-url: https://pypi.example.invalid/simple\n", 1))
    _lint(actionlint, tmp_path)


def test_the_install_step_passes_the_source_to_pip_as_one_argument(tmp_path: Path) -> None:
    init_repo(tmp_path / "repo", install_source=GIT_SOURCE)
    step = _install_step(tmp_path / "repo")
    calls = _dry_run(step, tmp_path / "a", aigw=GIT_SOURCE)
    assert calls == [["python", "-m", "pip", "install", "--disable-pip-version-check",
                      GIT_SOURCE], ["aigw", "--version"]]
    calls = _dry_run(step, tmp_path / "b", aigw="aigw[cli]==0.1.0",
                     index_url="https://pypi.example.invalid/simple")
    assert calls[0] == ["python", "-m", "pip", "install", "--disable-pip-version-check",
                        "--index-url", "https://pypi.example.invalid/simple", "aigw[cli]==0.1.0"]
