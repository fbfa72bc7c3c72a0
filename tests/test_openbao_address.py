"""Where a service finds OpenBao: `environments.<e>.openbao_address` (issue 23, item 6).

Render writes it as `BAO_ADDR` in aigw.env, as `acks.address`, in bao-agent.hcl's `vault`
block and as the CSI `vaultAddress`, and never reads its own BAO_ADDR. A relative
`AIGW_CLIENT_CONFIG` is resolved against aigw.env's folder by the client.

The end-to-end test: real OpenBao (the session dev server), a real `bao agent` started
with no BAO_ADDR, and a service process started from another folder with nothing but the
path of its aigw.env (no BAO_*, no AIGW_* variables) acknowledges the key it used. The
LLM provider is testing/fake_provider.py (a local OpenAI-compatible stand-in). The
service's policy and role come from the stack's own spec, and its config is published
as `aigw apply` publishes it (one KV v2 write), so the Pulumi engine is not needed here.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from aigw.catalog import load_catalog
from aigw.catalog.view import SlotRef
from aigw.client import Client, ConfigError, fingerprint
from aigw.names import CONFIG_FIELD, ack_path, config_path
from aigw.render import render_all
from aigw.render_manifest import MARKER
from aigw.stack.spec import environment_spec
from aigw.tools import find_bao
from tests.helpers import Result, run_cli, wait_for

SERVICE = "notes"
SERVICE_SCRIPT = """\
import sys, time
from aigw.client import Client

client = Client.from_env_file(sys.argv[1])
reply = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
print("served", flush=True)
time.sleep(120)  # the acknowledgement is written off the request path; the test stops us
"""


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def _catalog(repo: Path, mount: str, address: str | None, base_url: str,
             key_dir: str = "keys") -> Path:
    env: dict[str, Any] = {"mount": mount, "key_dir": key_dir, "agent_refresh": 1}
    if address is not None:
        env["openbao_address"] = address
    doc = {
        "version": 1,
        "environments": {"prod": env},
        "providers": {"openai": {"api": "openai", "base_url": base_url, "region": "us"}},
        "models": {"chat": {"routes": [{"provider": "openai", "model": "gpt-4o-mini"}]}},
        "services": {SERVICE: {"environments": ["prod"], "models": ["chat"],
                               "keys": "per-service",
                               "outputs": ["aigw-client", "env", "bao-agent"]}},
    }
    if key_dir.startswith("/"):  # Kubernetes mounts the key folder: only where it is absolute
        doc["services"][SERVICE]["outputs"].append("k8s-csi")
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return repo


def test_render_writes_the_address_everywhere_and_never_reads_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    address = "https://openbao.internal:8200"
    repo = _catalog(tmp_path / "repo", "aigw", address, "https://api.openai.com/v1")
    loaded = load_catalog(repo)
    monkeypatch.setenv("BAO_ADDR", "http://render-machine.invalid:1")
    monkeypatch.setenv("VAULT_ADDR", "http://render-machine.invalid:2")
    files = render_all(loaded)
    monkeypatch.delenv("BAO_ADDR")
    monkeypatch.delenv("VAULT_ADDR")
    assert render_all(loaded) == files  # where render runs changes nothing
    base = f"prod/{SERVICE}"
    env_lines = files[f"{base}/aigw.env"].decode().splitlines()
    assert f"BAO_ADDR={address}" in env_lines
    assert "AIGW_CLIENT_CONFIG=keys/aigw-client.json" in env_lines  # relative: machine-free
    assert json.loads(files[f"{base}/aigw-client.json"])["acks"]["address"] == address
    assert f'address = "{address}"' in files[f"{base}/bao-agent.hcl"].decode()
    in_cluster = render_all(load_catalog(_catalog(tmp_path / "k8s", "aigw", address,
                                                  "https://api.openai.com/v1", "/run/aigw")))
    assert f'vaultAddress: "{address}"' in in_cluster[f"{base}/k8s-csi.yaml"].decode()

    plain = render_all(load_catalog(_catalog(tmp_path / "plain", "aigw", None,
                                             "https://api.openai.com/v1", "/run/aigw")))
    assert not any(b"BAO_ADDR=" in blob or b"vaultAddress" in blob
                   or b"render-machine" in blob for blob in plain.values())
    assert "AIGW_CLIENT_CONFIG=/run/aigw/aigw-client.json" in \
        plain[f"{base}/aigw.env"].decode().splitlines()  # absolute when key_dir is
    assert json.loads(plain[f"{base}/aigw-client.json"])["acks"]["address"] is None


def test_rendered_files_are_the_same_wherever_render_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two machines (two output folders, two working folders, two BAO_ADDRs): one tree,
    and `render --check` of one against the other's files passes."""
    repo = _catalog(tmp_path / "repo", "aigw", "https://openbao.internal:8200",
                    "https://x.invalid/v1")
    trees = []
    for n, addr in enumerate(("http://127.0.0.1:8200", "https://elsewhere.invalid")):
        cwd = tmp_path / f"machine-{n}"
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        monkeypatch.setenv("BAO_ADDR", addr)
        assert run_cli(capsys, "render", str(repo), "--out", str(cwd / "rendered")).code == 0
        trees.append({p.relative_to(cwd).as_posix(): p.read_bytes()
                      for p in sorted((cwd / "rendered").rglob("*"))
                      if p.is_file() and p.name != MARKER})  # the manifest records stat
    assert trees[0] == trees[1]
    assert run_cli(capsys, "render", str(repo), "--out", str(tmp_path / "machine-0" / "rendered"),
                   "--check").code == 0


def test_a_bad_address_is_one_catalog_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    repo = _catalog(tmp_path / "repo", "aigw", "openbao.internal:8200", "https://x.invalid/v1")
    r = run_cli(capsys, "render", str(repo), "--out", str(tmp_path / "out"))
    assert r.code == 2
    assert "environments.prod.openbao_address: openbao_address must be an http:// or " \
           "https:// URL" in r.err
    assert "aigw.yaml:" in r.err and not (tmp_path / "out").exists()


def test_from_env_file_resolves_a_relative_config_against_the_files_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _catalog(tmp_path / "repo", "aigw", None, "https://x.invalid/v1")
    out = tmp_path / "rendered"
    for rel, blob in render_all(load_catalog(repo)).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(blob)
    folder = out / "prod" / SERVICE
    (folder / "keys").mkdir()
    (folder / "keys" / "aigw-client.json").write_bytes((folder / "aigw-client.json").read_bytes())
    monkeypatch.chdir(tmp_path)  # not the rendered folder
    client = Client.from_env_file(folder / "aigw.env")
    assert client.config.path == folder / "keys" / "aigw-client.json"
    assert client.config.key_dir == folder / "keys"  # the live copy's keys, beside it
    (tmp_path / "empty.env").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="no AIGW_CLIENT_CONFIG"):
        Client.from_env_file(tmp_path / "empty.env")


def _cli(capsys: Any, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> Result:
    monkeypatch.setattr("sys.stdin", _Stdin(stdin))
    return run_cli(capsys, *args)


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@pytest.mark.integration
def test_a_service_started_from_aigw_env_alone_acknowledges_its_key(
        tmp_path: Path, bao: BaoDevServer, vault_mount: str, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"sk-canary-ack-{secrets.token_hex(8)}"
    with FakeProvider("openai", keys=[key]) as provider:
        repo = _catalog(tmp_path / "repo", vault_mount, bao.addr, provider.base_url)
        monkeypatch.chdir(repo)
        monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("BAO_ADDR", "http://render-machine.invalid:1")  # render ignores it
        assert _cli(capsys, monkeypatch, "render").code == 0
        monkeypatch.setenv("BAO_ADDR", bao.addr)
        monkeypatch.setenv("BAO_TOKEN", bao.token)

        loaded = load_catalog(repo)
        client = bao.client()
        if "approle/" not in client.sys.list_auth_methods()["data"]:
            client.sys.enable_auth_method("approle")
        spec = environment_spec(loaded.catalog, "prod")
        for pol in spec.policies:
            client.sys.create_or_update_policy(name=pol.name, policy=pol.text)
        for role in spec.roles:
            client.write_data(f"auth/{role.mount}/role/{role.name}", data=dict(role.params))
        folder = repo / "rendered" / "prod" / SERVICE
        env = loaded.catalog.environments["prod"]
        client.secrets.kv.v2.create_or_update_secret(  # what `aigw apply` publishes
            path=config_path("prod", env, SERVICE), mount_point=vault_mount,
            secret={CONFIG_FIELD: (folder / "aigw-client.json").read_text()})
        put = _cli(capsys, monkeypatch, "keys", "put", f"openai/svc-{SERVICE}", "--env",
                   "prod", stdin=key + "\n")
        assert put.code == 0, put.err
        assert _cli(capsys, monkeypatch, "agent-credentials", SERVICE, "--env", "prod").code == 0

        bare = {k: v for k, v in os.environ.items()
                if not k.startswith(("BAO_", "VAULT_", "AIGW_"))}
        with (tmp_path / "agent.log").open("wb") as log:
            agent = subprocess.Popen([str(find_bao()), "agent", "-config=bao-agent.hcl"],
                                     cwd=folder, env=bare, stdout=log, stderr=subprocess.STDOUT)
        service: subprocess.Popen[str] | None = None
        try:
            live = folder / "keys" / "aigw-client.json"
            assert wait_for(lambda: live.exists() and (folder / "keys" / ".aigw-token").exists()
                            and (folder / "keys" / f"openai.svc-{SERVICE}.key").exists()), (
                (tmp_path / "agent.log").read_text())
            script = tmp_path / "service.py"
            script.write_text(SERVICE_SCRIPT)
            elsewhere = tmp_path / "cwd"
            elsewhere.mkdir()
            service = subprocess.Popen([sys.executable, str(script), str(folder / "aigw.env")],
                                       cwd=elsewhere, env=bare, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
            assert service.stdout is not None
            assert service.stdout.readline().strip() == "served", service.stdout.read()
            assert provider.calls_for(key) == 1
            where = ack_path("prod", env, SlotRef("openai", f"svc-{SERVICE}"), SERVICE)

            def acknowledged() -> bool:
                try:
                    got = client.secrets.kv.v2.read_secret_version(
                        path=where, mount_point=vault_mount, raise_on_deleted_version=True)
                except Exception:  # noqa: BLE001 - not written yet
                    return False
                return bool(got["data"]["data"].get("fingerprint") == fingerprint(key))

            assert wait_for(acknowledged), "the service never acknowledged its key"
        finally:
            if service is not None:
                _stop(service)
            _stop(agent)
