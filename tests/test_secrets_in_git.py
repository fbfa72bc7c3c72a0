"""No token, key or login reaches git (issue 23, item 1).

The team's sequence with the relative `key_dir: keys` the docs suggest for local agents:
`git init`, `aigw init`, `aigw render`, `aigw keys put`, `aigw agent-credentials`, a real
`bao agent` run from the rendered folder (it writes its live token and the key files into
`rendered/prod/SERVICE/keys/`), `git add -A`, `git commit`. Real OpenBao (the session dev
server) and a real agent; the service's policy and AppRole role are written from the
stack's own spec with hvac (what `aigw apply` declares; tests/test_adoption.py runs apply).
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from testing.bao import BaoDevServer

from aigw.catalog import load_catalog
from aigw.names import TOKEN_FILES, aws_key_parts, key_file
from aigw.scaffold import scaffold_files
from aigw.stack.spec import environment_spec
from aigw.tools import find_bao
from tests.helpers import Result, run_cli, wait_for

GIT_ENV = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.invalid",
           "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.invalid"}


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env={**os.environ, **GIT_ENV}, timeout=60)
    return done.stdout


def _catalog(service: str, mount: str, key_dir: str) -> dict[str, Any]:
    return {
        "version": 1,
        "environments": {"prod": {"mount": mount, "key_dir": key_dir}},
        "providers": {"openai": {"api": "openai", "base_url": "http://127.0.0.1:9/v1",
                                 "region": "us"}},
        "models": {"chat": {"description": "chat", "routes": [
            {"provider": "openai", "model": "gpt-4o-mini"}]}},
        "services": {service: {"description": "a service", "environments": ["prod"],
                               "models": ["chat"], "keys": "per-service"}},
    }


def _declare(bao: BaoDevServer, repo: Path) -> None:
    """The service's policy and AppRole role, as `aigw apply` declares them."""
    client = bao.client()
    if "approle/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("approle")
    spec = environment_spec(load_catalog(repo).catalog, "prod")
    for pol in spec.policies:
        client.sys.create_or_update_policy(name=pol.name, policy=pol.text)
    for role in spec.roles:
        client.write_data(f"auth/{role.mount}/role/{role.name}", data=dict(role.params))


def _cli(capsys: Any, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> Result:
    monkeypatch.setattr("sys.stdin", _Stdin(stdin))
    return run_cli(capsys, *args)


@pytest.mark.integration
@pytest.mark.parametrize("scaffold", [True, False], ids=["aigw-init", "plain-repo"])
def test_the_teams_sequence_commits_no_token_key_or_login(
        scaffold: bool, tmp_path: Path, bao: BaoDevServer, vault_mount: str, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the scaffold, and in a repository without its .gitignore (render's own suffices)."""
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
    service = f"git-{secrets.token_hex(3)}"
    repo = tmp_path / "catalog-repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    _git(repo, "init", "-q")
    if scaffold:
        assert _cli(capsys, monkeypatch, "init").code == 0
    (repo / "aigw.yaml").write_text(yaml.safe_dump(_catalog(service, vault_mount, "keys"),
                                                   sort_keys=False))
    _declare(bao, repo)

    rendered = _cli(capsys, monkeypatch, "render")
    assert rendered.code == 0, rendered.err
    value = f"sk-canary-git-{secrets.token_hex(8)}"
    put = _cli(capsys, monkeypatch, "keys", "put", f"openai/svc-{service}", "--env", "prod",
               stdin=value + "\n")
    assert put.code == 0, put.err
    made = _cli(capsys, monkeypatch, "agent-credentials", service, "--env", "prod")
    assert made.code == 0, made.err

    folder = repo / "rendered" / "prod" / service
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env["BAO_ADDR"] = bao.addr  # no token: the agent logs in by itself
    with (tmp_path / "agent.log").open("wb") as log:
        agent = subprocess.Popen([str(find_bao()), "agent", "-config=bao-agent.hcl"],
                                 cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            key = folder / "keys" / key_file("openai", f"svc-{service}")
            token = folder / "keys" / TOKEN_FILES[0]
            assert wait_for(lambda: key.exists() and value in key.read_text()
                            and token.exists() and token.read_text().strip() != ""), (
                (tmp_path / "agent.log").read_text())
            assert wait_for(lambda: (folder / "agent.pid").exists())
        finally:
            agent.terminate()
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()

    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "the team's first commit")
    committed = _git(repo, "ls-files").split()
    history = _git(repo, "log", "-p", "--all")
    assert f"rendered/prod/{service}/bao-agent.hcl" in committed  # rendered files are committed
    live_token = token.read_text().strip()
    secret_id = (folder / "secret-id").read_text().strip()
    role_id = (folder / "role-id").read_text().strip()
    for name, secret in {"the agent's token": live_token, "the key": value,
                         "the secret-id": secret_id, "the role-id": role_id}.items():
        if secret in history:  # not `assert`: its message would print the value
            pytest.fail(f"{name} was committed")
    for rel in committed:
        assert "/keys/" not in rel and Path(rel).name not in (
            "role-id", "secret-id", "agent.pid", *TOKEN_FILES), f"{rel} was committed"
    assert "warning" not in rendered.err  # render's .gitignore covers the key folder


def test_the_scaffold_gitignore_covers_every_file_an_agent_writes(tmp_path: Path) -> None:
    """Key files (AWS split files too), the agent's token, its login and pid file, anywhere."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / ".gitignore").write_text(scaffold_files("aigw")[".gitignore"])
    key = key_file("bedrock", "svc-bot")
    names = [key, *(name for name, _ in aws_key_parts(key)), *TOKEN_FILES[:1],
             "role-id", "secret-id", "agent.pid"]
    paths = [f"deploy/prod/bot/{sub}{name}" for name in names for sub in ("", "secrets/")]
    done = subprocess.run(["git", "-C", str(repo), "check-ignore", "--stdin"],
                          input="\n".join(paths), capture_output=True, text=True, check=False)
    assert sorted(done.stdout.split()) == sorted(paths)


def test_render_warns_and_agent_credentials_refuses_a_key_folder_git_would_track(
        tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An absolute key_dir inside the work tree, not ignored: render warns, exit 0;
    agent-credentials refuses before it asks OpenBao for anything (no server here)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.chdir(repo)
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:9")  # never reached
    monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
    keys = repo / "secrets"
    (repo / "aigw.yaml").write_text(yaml.safe_dump(_catalog("bot", "aigw", str(keys)),
                                                   sort_keys=False))
    outside = _cli(capsys, monkeypatch, "render")  # no work tree yet: nothing to warn about
    assert outside.code == 0 and "warning" not in outside.err
    _git(repo, "init", "-q")
    warned = _cli(capsys, monkeypatch, "render")
    assert warned.code == 0
    lines = [ln for ln in warned.err.splitlines() if ln.startswith("warning:")]
    assert len(lines) == 1 and f"{keys}/ (token, keys)" in lines[0], warned.err
    as_json = _cli(capsys, monkeypatch, "render", "--json")
    assert f"{keys}/ (token, keys)" in as_json.out
    refused = _cli(capsys, monkeypatch, "agent-credentials", "bot", "--env", "prod")
    assert refused.code == 2 and len(refused.err.splitlines()) == 1, refused.err
    assert f"{keys / TOKEN_FILES[0]} is in a git work tree and not git-ignored" in refused.err
    assert "the agent's token and keys" in refused.err

    (repo / ".gitignore").write_text("/secrets/\n")
    quiet = _cli(capsys, monkeypatch, "render")
    assert quiet.code == 0 and "warning" not in quiet.err
