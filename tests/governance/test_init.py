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
    ".github/workflows/aigw-rotate.yml", ".github/workflows/aigw-drift.yml",
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
    # The example team rule runs, and the fresh scaffold passes it (no warning about itself).
    assert "policy check: 0 deny, 0 warn, 9 waived (11 rules)" in checked
    assert "team.require-description" not in checked
    assert (repo / "rendered" / "prod" / "support-bot" / "aigw-client.json").is_file()


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "aigw.yaml").write_text("# mine\n")
    refused = run_cli(capsys, "init", str(repo))
    assert refused.code == 2 and f"{repo / 'aigw.yaml'} already exists" in refused.err
    assert "--force" in refused.err
    assert not (repo / "README.md").exists()  # nothing written
    forced = run_cli(capsys, "init", str(repo), "--force", "--yes")
    assert forced.code == 0 and "overwrite aigw.yaml" in forced.out
    assert (repo / "aigw.yaml").read_text() == (EXAMPLES / "aigw.yaml").read_text()
    again = run_cli(capsys, "init", str(repo))
    assert again.code == 2 and "already exists (and 11 more scaffold file(s))" in again.err


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
        assert "**Vault plan:** `aigw/staging`: no changes; `aigw/prod`: no changes" in report.out  # declared order
        assert git(repo, "status", "--porcelain") == ""  # .aigw/ state stays out of git
    finally:
        dev.down(repo)


def _edited_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A scaffold whose catalog, waivers and PR workflow the user has since edited."""
    repo = tmp_path / "r"
    assert run_cli(capsys, "init", str(repo)).code == 0
    for rel in ("aigw.yaml", "policies/waivers.yaml", ".github/workflows/aigw-pr.yml"):
        with (repo / rel).open("a") as f:
            f.write("# edited by the user\n")
    return repo


def test_init_update_refreshes_only_aigws_own_files(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    repo = _edited_repo(tmp_path, capsys)
    (repo / ".github/actions/setup-aigw/action.yml").unlink()
    catalog, waivers = ((repo / rel).read_text() for rel in ("aigw.yaml",
                                                               "policies/waivers.yaml"))
    updated = run_cli(capsys, "init", str(repo), "--update")
    assert updated.code == 0, updated.err
    assert "overwrite .github/workflows/aigw-pr.yml" in updated.out
    assert "create    .github/actions/setup-aigw/action.yml" in updated.out
    assert "keep      aigw.yaml" in updated.out and "catalog and policies untouched" in updated.out
    files = scaffold_files()
    for rel in (".github/workflows/aigw-pr.yml", ".github/actions/setup-aigw/action.yml"):
        assert (repo / rel).read_text() == files[rel]
    assert (repo / "aigw.yaml").read_text() == catalog
    assert (repo / "policies/waivers.yaml").read_text() == waivers
    again = run_cli(capsys, "init", str(repo), "--update")
    assert again.code == 0 and "0 created, 0 updated, 6 unchanged" in again.out


def test_init_update_needs_a_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "init", str(tmp_path), "--update")
    assert result.code == 2 and "no aigw catalog in" in result.err
    assert not (tmp_path / ".github").exists()
    both = run_cli(capsys, "init", str(tmp_path), "--update", "--force")
    assert both.code == 2 and "do not go together" in both.err


def test_init_force_names_what_it_overwrites_and_asks(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    import io

    import typer

    repo = _edited_repo(tmp_path, capsys)
    before = {p: p.read_text() for p in repo.rglob("*") if p.is_file()}
    piped = run_cli(capsys, "init", str(repo), "--force")  # no terminal: needs --yes
    assert piped.code == 2, piped
    assert ("would overwrite 3 file(s): .github/workflows/aigw-pr.yml, aigw.yaml, "
            "policies/waivers.yaml") in piped.err and "--yes" in piped.err
    assert {p: p.read_text() for p in repo.rglob("*") if p.is_file()} == before

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []

    def answer(reply: bool) -> object:
        def confirm(question: str, **kw: object) -> bool:
            asked.append(question)
            if not reply and kw.get("abort"):
                raise typer.Abort()
            return reply
        return confirm

    monkeypatch.setattr("sys.stdin", Tty())
    monkeypatch.setattr(typer, "confirm", answer(False))
    refused = run_cli(capsys, "init", str(repo), "--force")
    assert refused.code == 1 and refused.err.strip().splitlines()[-1] == "aborted"
    assert "  aigw.yaml" in refused.err and "  policies/waivers.yaml" in refused.err
    assert {p: p.read_text() for p in repo.rglob("*") if p.is_file()} == before
    monkeypatch.setattr(typer, "confirm", answer(True))
    forced = run_cli(capsys, "init", str(repo), "--force")
    assert forced.code == 0 and len(asked) == 2
    assert (repo / "aigw.yaml").read_text() == scaffold_files()["aigw.yaml"]


def test_init_writes_the_install_source(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    source = "aigw[cli] @ git+https://github.com/example-org/aigw@v0.1.0"
    result = run_cli(capsys, "init", str(tmp_path / "r"), "--install-source", source)
    assert result.code == 0 and f"CI installs aigw from: {source}" in result.out
    action = yaml.safe_load((tmp_path / "r/.github/actions/setup-aigw/action.yml").read_text())
    assert action["inputs"]["aigw"]["default"] == source
    assert f"pip install '{source}'" in (tmp_path / "r/README.md").read_text()
    bad = run_cli(capsys, "init", str(tmp_path / "s"), "--install-source", "${{ secrets.X }}")
    assert bad.code == 2 and "--install-source" in bad.err and not (tmp_path / "s").exists()


def test_install_source_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The default is where this aigw came from: pip's direct_url.json, a checkout, a pin."""
    from aigw import __version__
    from aigw.scaffold import source

    assert source.git_requirement("git@github.com:org/aigw.git", "v1") == (
        "aigw[cli] @ git+ssh://git@github.com/org/aigw.git@v1")
    assert source.git_requirement("/home/me/aigw", "abc") is None  # not reachable from CI
    checkout = tmp_path / "aigw"
    checkout.mkdir()
    for args in (("init", "-q"), ("remote", "add", "origin", "https://github.com/org/aigw.git"),
                 ("-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
                  "--allow-empty", "-m", "x"), ("tag", "v0.1.0")):
        git(checkout, *args)

    class Dist:
        def __init__(self, text: str) -> None:
            self.text = text

        def read_text(self, name: str) -> str:
            assert name == "direct_url.json"
            return self.text

    def installed(text: str) -> None:
        monkeypatch.setattr(source.metadata, "distribution", lambda _name: Dist(text))

    installed('{"url": "https://github.com/org/aigw", "vcs_info": {"vcs": "git", '
              '"requested_revision": "v0.1.0", "commit_id": "abc"}}')
    assert source.detect() == ("aigw[cli] @ git+https://github.com/org/aigw@v0.1.0", None)
    installed(f'{{"url": "file://{checkout}", "dir_info": {{"editable": true}}}}')
    assert source.detect() == ("aigw[cli] @ git+https://github.com/org/aigw.git@v0.1.0", None)
    installed('{"url": "file:///tmp/aigw-0.1.0-py3-none-any.whl", "archive_info": {}}')
    pin, note = source.detect()
    assert pin == f"aigw[cli]=={__version__}" and note and "--install-source" in note
