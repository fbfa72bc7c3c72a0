"""aigw init: a catalog repo that validates, passes its policies and renders; dev up + apply."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aigw import dev
from aigw.scaffold import scaffold_files
from tests.governance.conftest import _VAULT_ENV, EXAMPLES, git
from tests.helpers import run_cli

EXPECTED = {
    "aigw.yaml", "README.md", ".gitignore", ".pre-commit-config.yaml",
    "policies/waivers.yaml", "policies/require_description.rego",
    "policies/require_description_test.rego", ".github/actions/setup-aigw/action.yml",
    ".github/workflows/aigw-pr.yml", ".github/workflows/aigw-apply.yml",
    ".github/workflows/aigw-rotate.yml",
}


def test_scaffold_files() -> None:
    files = scaffold_files()
    assert set(files) == EXPECTED
    assert "@@" not in "".join(files.values())
    # The example catalog is shipped as a copy (the wheel has no examples/): keep it equal.
    assert files["aigw.yaml"] == (EXAMPLES / "aigw.yaml").read_text(), \
        "cp examples/aigw.yaml cli/aigw/scaffold/files/aigw.yaml (and check its waivers)"


@pytest.mark.usefixtures("opa")
def test_init_then_validate_check_render(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "new-catalog"
    created = run_cli(capsys, "init", str(repo))
    assert created.code == 0, created.err
    assert "create    .github/workflows/aigw-pr.yml" in created.out
    assert {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()} == EXPECTED
    for args in (("validate",), ("policy", "check"), ("policy", "test"), ("render",),
                 ("render", "--check")):
        result = run_cli(capsys, *args, str(repo))
        assert result.code == 0, (args, result.out, result.err)
    checked = run_cli(capsys, "policy", "check", str(repo)).out
    assert "policy check: 0 deny, 1 warn, 8 waived (6 rules)" in checked
    assert "warn team.require-description" in checked  # the example team rule runs
    assert (repo / "rendered" / "prod" / "support-bot" / "aigw-client.json").is_file()


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "aigw.yaml").write_text("# mine\n")
    refused = run_cli(capsys, "init", str(repo))
    assert refused.code == 2 and f"{repo / 'aigw.yaml'} already exists" in refused.err
    assert "--force" in refused.err
    assert not (repo / "README.md").exists()  # nothing written
    forced = run_cli(capsys, "init", str(repo), "--force")
    assert forced.code == 0 and "overwrite aigw.yaml" in forced.out
    assert (repo / "aigw.yaml").read_text() == (EXAMPLES / "aigw.yaml").read_text()
    again = run_cli(capsys, "init", str(repo))
    assert again.code == 2 and "already exists (and 10 more scaffold file(s))" in again.err


def test_gitignore_keeps_state_and_secrets_out(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "r"
    assert run_cli(capsys, "init", str(repo)).code == 0
    git(repo, "init", "-q")
    for path in (".aigw/dev/token", ".aigw/passphrase", "openai.key", ".env", "aigw-diff.md"):
        assert git(repo, "check-ignore", path).strip() == path
    for path in ("rendered/prod/support-bot/aigw.env", "aigw.yaml", "policies/waivers.yaml"):
        kept = subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", path], check=False)
        assert kept.returncode == 1, f"{path} must not be ignored"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.usefixtures("opa")
def test_init_then_dev_up_apply_plan_and_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from aigw import cli
    from aigw.commands import stack

    if "apply" not in {c.name or (c.callback.__name__ if c.callback else "")
                       for c in cli.app.registered_commands}:
        stack.register(cli.app)
    for name in _VAULT_ENV:
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "catalog"
    assert run_cli(capsys, "init", str(repo)).code == 0
    monkeypatch.chdir(repo)
    assert run_cli(capsys, "render", str(repo)).code == 0
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "aigw init")
    up = run_cli(capsys, "dev", "up", "--home", str(repo))
    assert up.code == 0, up.err
    try:
        applied = run_cli(capsys, "apply", str(repo), "--yes")
        assert applied.code == 0, applied.out + applied.err
        assert "aigw/prod:" in applied.out and "aigw/staging:" in applied.out
        planned = run_cli(capsys, "plan", str(repo))
        assert planned.code == 0, planned.out + planned.err
        report = run_cli(capsys, "diff", str(repo), "--format", "markdown")
        assert report.code == 0, report.err
        assert "**Vault plan:** `aigw/prod`: no changes; `aigw/staging`: no changes" in report.out
        assert git(repo, "status", "--porcelain") == ""  # .aigw/ state stays out of git
    finally:
        dev.down(repo)
