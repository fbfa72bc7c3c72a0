"""`aigw agent-credentials`: the files a rendered bao-agent.hcl logs in with (issue 14, item 3).

Real OpenBao dev server (the session one) and a real `bao agent` started in the
folder `aigw render` wrote. The service's policy and AppRole role are written from
the stack's own spec (`environment_spec`, exactly what `aigw apply` declares) with
hvac, so this test does not need the Pulumi engine; tests/test_adoption.py runs the
whole path with `aigw apply`.
"""

from __future__ import annotations

import io
import os
import secrets
import stat
import subprocess
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml
from testing.bao import BaoDevServer

from aigw.catalog import load_catalog
from aigw.stack.spec import environment_spec
from aigw.tools import find_bao
from tests.helpers import Result, run_cli, wait_for

pytestmark = pytest.mark.integration


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def setup(tmp_path: Path, bao: BaoDevServer, vault_mount: str,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A catalog with one service `agent-<hex>` in `prod`; its policy and role in OpenBao."""
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
    service = f"agent-{secrets.token_hex(3)}"
    doc = {
        "version": 1,
        "environments": {"prod": {"mount": vault_mount, "key_dir": str(tmp_path / "keys")}},
        "providers": {"openai": {"api": "openai", "base_url": "http://127.0.0.1:9/v1",
                                 "region": "us"}},
        "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
        "services": {service: {"environments": ["prod"], "models": ["chat"],
                               "keys": "per-service"},
                     "no-agent": {"environments": ["prod"], "models": ["chat"],
                                  "outputs": ["aigw-client"]}},
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    client = bao.client()
    if "approle/" not in client.sys.list_auth_methods()["data"]:
        client.sys.enable_auth_method("approle")
    spec = environment_spec(load_catalog(repo).catalog, "prod")
    for pol in spec.policies:
        client.sys.create_or_update_policy(name=pol.name, policy=pol.text)
    for role in spec.roles:
        client.write_data(f"auth/{role.mount}/role/{role.name}", data=dict(role.params))
    return {"repo": repo, "service": service, "client": client, "mount": vault_mount}


def _cli(capsys: Any, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> Result:
    monkeypatch.setattr("sys.stdin", _Stdin(stdin))
    return run_cli(capsys, *args)




def test_written_files_let_the_rendered_agent_log_in_and_render_the_key(
        setup: dict[str, Any], bao: BaoDevServer, tmp_path: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, service = setup["repo"], setup["service"]
    monkeypatch.chdir(repo)  # the commands as the docs print them, from the catalog repo
    assert _cli(capsys, monkeypatch, "render").code == 0
    value = f"sk-canary-{secrets.token_hex(6)}"
    put = _cli(capsys, monkeypatch, "keys", "put", "openai/svc-" + service, "--env", "prod",
               stdin=value + "\n")
    assert put.code == 0, put.err

    made = _cli(capsys, monkeypatch, "agent-credentials", service, "--env", "prod")
    assert made.code == 0, made.err
    folder = repo / "rendered" / "prod" / service
    role_id, secret_id = (folder / "role-id").read_text(), (folder / "secret-id").read_text()
    for name in ("role-id", "secret-id"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    assert role_id.strip() and secret_id.strip()
    assert role_id.strip() not in made.out + made.err
    assert secret_id.strip() not in made.out + made.err
    assert f"aigw-prod-{service}: wrote " in made.out
    assert not list(folder.glob(".*.tmp"))  # atomic: no temp file left behind

    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env.update({"BAO_ADDR": bao.addr})  # no token: the agent must log in by itself
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen([str(find_bao()), "agent", "-config=bao-agent.hcl"], cwd=folder,
                             env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        key_file = tmp_path / "keys" / f"openai.svc-{service}.key"
        assert wait_for(lambda: key_file.exists() and value in key_file.read_text()), (
            (tmp_path / "agent.log").read_text())
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert agent.poll() is None
    finally:
        agent.terminate()
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
        log.close()

    # Each run mints a fresh secret-id (the old one keeps working until it expires).
    again = _cli(capsys, monkeypatch, "agent-credentials", service, "--env", "prod")
    assert again.code == 0, again.err
    assert (folder / "secret-id").read_text() != secret_id
    assert (folder / "role-id").read_text() == role_id


def test_limited_and_wrapped_secret_ids(setup: dict[str, Any], bao: BaoDevServer,
                                        tmp_path: Path, capsys: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, service, client = setup["repo"], setup["service"], setup["client"]
    role = f"aigw-prod-{service}"
    out = tmp_path / "creds"
    limited = _cli(capsys, monkeypatch, "agent-credentials", service, str(repo), "--env", "prod",
                   "--out", str(out), "--uses", "1", "--ttl", "1h")
    assert limited.code == 0, limited.err
    assert "1 use(s), ttl 1h" in limited.out
    secret_id = (out / "secret-id").read_text().strip()
    looked = client.write_data(f"auth/approle/role/{role}/secret-id/lookup",
                               data={"secret_id": secret_id})["data"]
    assert looked["secret_id_num_uses"] == 1 and looked["secret_id_ttl"] == 3600
    role_id = (out / "role-id").read_text().strip()
    login = hvac.Client(url=bao.addr)
    login.auth.approle.login(role_id, secret_id)
    assert login.lookup_token()["data"]["policies"] == [role]  # its policy, nothing else
    with pytest.raises(hvac.exceptions.InvalidRequest):  # one use only
        hvac.Client(url=bao.addr).auth.approle.login(role_id, secret_id)

    wrapped = _cli(capsys, monkeypatch, "agent-credentials", service, str(repo), "--env",
                   "prod", "--out", str(out), "--wrap-ttl", "5m")
    assert wrapped.code == 0, wrapped.err
    assert "wrapped, unwrap within 5m" in wrapped.out
    token = (out / "secret-id").read_text().strip()
    assert token not in wrapped.out
    unwrapped = hvac.Client(url=bao.addr, token=token).sys.unwrap()["data"]
    hvac.Client(url=bao.addr).auth.approle.login(role_id, unwrapped["secret_id"])


def test_bad_names_and_a_missing_role_are_one_line_exit_2(
        setup: dict[str, Any], tmp_path: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    repo, service = str(setup["repo"]), setup["service"]
    out = tmp_path / "nothing"
    cases = {
        (service[:-1] + "x", "prod"): f"error: unknown service '{service[:-1]}x' (hint: did you "
                                      f"mean '{service}'?)",
        (service, "prdo"): "error: the catalog has no environment 'prdo' (hint: did you mean "
                           "'prod'?)",
        ("no-agent", "prod"): "error: service 'no-agent' has no bao-agent output (hint: add "
                              "`bao-agent` to its `outputs:`; the AppRole login files are for "
                              "that agent)",
    }
    for (svc, env), line in cases.items():
        r = _cli(capsys, monkeypatch, "agent-credentials", svc, repo, "--env", env,
                 "--out", str(out))
        assert (r.code, r.err.splitlines()) == (2, [line])
    setup["client"].delete(f"auth/approle/role/aigw-prod-{service}")
    r = _cli(capsys, monkeypatch, "agent-credentials", service, repo, "--env", "prod",
             "--out", str(out))
    assert r.code == 2 and len(r.err.splitlines()) == 1
    assert f"has no role 'aigw-prod-{service}' (hint: run `aigw apply` first" in r.err
    assert not out.exists()  # nothing half-written


def test_refuses_a_folder_git_would_commit_and_render_leaves_the_files_alone(
        setup: dict[str, Any], capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, service = setup["repo"], setup["service"]
    monkeypatch.chdir(repo)
    subprocess.run(["git", "init", "-q"], check=True)
    assert _cli(capsys, monkeypatch, "render").code == 0
    # A folder of the repository render did not write: nothing ignores the login there.
    refused = _cli(capsys, monkeypatch, "agent-credentials", service, "--env", "prod",
                   "--out", "deploy")
    assert refused.code == 2 and len(refused.err.splitlines()) == 1
    assert "is in a git work tree and not git-ignored" in refused.err
    assert not (repo / "deploy" / "secret-id").exists()  # refused before anything was minted

    # The deployment folder render wrote carries its own .gitignore: no repository one needed.
    folder = repo / "rendered" / "prod" / service
    made = _cli(capsys, monkeypatch, "agent-credentials", service, "--env", "prod")
    assert made.code == 0, made.err
    (folder / "agent.pid").write_text("1\n")
    secret_id = (folder / "secret-id").read_text()
    # The agent's files are not render's: a render keeps them, --check does not flag them.
    check = _cli(capsys, monkeypatch, "render", "--check")
    assert check.code == 0, check.out + check.err
    assert _cli(capsys, monkeypatch, "render").code == 0
    assert (folder / "secret-id").read_text() == secret_id and (folder / "agent.pid").exists()
