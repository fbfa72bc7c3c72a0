"""The real `bao agent` accepts every rendered agent config, writes 0600 key files and the
live aigw-client.json, byte for byte what `aigw render` wrote.

Runs against a real OpenBao dev server; the AppRole, policy and published config are
set up here by hand (the Pulumi stack that normally makes them is tested in
tests/stack, and tests/stack/test_access.py runs an agent against what it made).
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from testing.bao import BaoDevServer

from aigw.catalog import LoadedCatalog, load_catalog
from aigw.catalog.view import deployments
from aigw.names import config_path, slot_path
from aigw.render import render_all
from aigw.tools import find_bao

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "aigw.yaml"


def _wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _catalogs(tmp_path: Path, mount: str) -> list[LoadedCatalog]:
    """The examples, one catalog per environment, each service with its own key folder.

    One folder per running service is the layout the live config needs (a pod's
    volume, a host's /run/secrets/aigw): every service's agent writes its own
    aigw-client.json there.
    """
    data = yaml.safe_load(EXAMPLES.read_text())
    out = []
    for name in data["environments"]:
        doc = copy.deepcopy(data)
        doc["environments"] = {name: {**(doc["environments"][name] or {}), "mount": mount}}
        doc["services"] = {s: {**svc, "environments": [name],
                               "key_dir": str(tmp_path / "keys" / name / s)}
                           for s, svc in doc["services"].items() if name in svc["environments"]}
        path = tmp_path / f"aigw-{name}.yaml"
        path.write_text(yaml.safe_dump(doc))
        out.append(load_catalog(path))
    return out


@pytest.mark.integration
def test_bao_agent_renders_every_deployment(tmp_path: Path, bao: BaoDevServer) -> None:
    client = bao.client()
    mount = f"aigw{secrets.token_hex(3)}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    if "approle/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("approle")

    out = tmp_path / "out"
    values: dict[Path, str] = {}
    slot_values: dict[tuple[str, str], str] = {}
    configs: dict[Path, bytes] = {}
    agents: list[subprocess.Popen[bytes]] = []
    try:
        for loaded in _catalogs(tmp_path, mount):
            files = render_all(loaded)
            for rel, blob in files.items():
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(blob)
            for dep in deployments(loaded.catalog):
                paths = [f"{mount}/data/{slot_path(dep.environment, dep.env, s)}"
                         for s in dep.slots]
                for slot, path in zip(dep.slots, paths, strict=True):
                    key_file = Path(dep.key_dir) / slot.file_name
                    api = loaded.catalog.providers[slot.provider].api
                    value = slot_values.setdefault((dep.environment, slot.id),
                                                   f"canary-{secrets.token_hex(8)}")
                    secret = ({"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": value}
                              if api == "bedrock" else {"api_key": value})
                    client.secrets.kv.v2.create_or_update_secret(
                        path=path.split("/data/", 1)[1], secret=secret, mount_point=mount)
                    values[key_file] = value
                config = config_path(dep.environment, dep.env, dep.service)
                rendered = files[f"{dep.environment}/{dep.service}/aigw-client.json"]
                client.secrets.kv.v2.create_or_update_secret(
                    path=config, secret={"config": rendered.decode()}, mount_point=mount)
                configs[Path(dep.key_dir) / "aigw-client.json"] = rendered
                paths.append(f"{mount}/data/{config}")
                policy = "\n".join(f'path "{p}" {{ capabilities = ["read"] }}' for p in paths)
                name = dep.policy_name + mount
                client.sys.create_or_update_policy(name=name, policy=policy)
                client.auth.approle.create_or_update_approle(role_name=name,
                                                             token_policies=[name])
                role_id = client.auth.approle.read_role_id(name)["data"]["role_id"]
                secret_id = client.auth.approle.generate_secret_id(name)["data"]["secret_id"]
                folder = out / dep.environment / dep.service
                (folder / "role-id").write_text(role_id)
                (folder / "secret-id").write_text(secret_id)
                env = {**os.environ, "BAO_ADDR": bao.addr, "VAULT_ADDR": bao.addr}
                env.pop("BAO_TOKEN", None)
                env.pop("VAULT_TOKEN", None)
                agents.append(subprocess.Popen(
                    [str(find_bao()), "agent", "-config=bao-agent.hcl"], cwd=folder, env=env,
                    stdout=(folder / "agent.log").open("wb"), stderr=subprocess.STDOUT))

        assert len(configs) == 7
        for key_file, value in values.items():
            assert _wait_for(key_file.exists), f"agent never wrote {key_file}"
            assert _wait_for(lambda k=key_file, v=value: v in k.read_text()), key_file
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file
        for path, rendered in configs.items():
            assert _wait_for(lambda p=path, r=rendered: p.exists() and p.read_bytes() == r), \
                f"agent never wrote {path} as rendered"
        assert all(a.poll() is None for a in agents), "an agent exited"

        # A new value reaches the file within a few seconds (render interval 1s).
        key_file = tmp_path / "keys" / "prod" / "research-assistant" / "openai.default.key"
        path = "prod/providers/openai/default"
        client.secrets.kv.v2.create_or_update_secret(path=path, secret={"api_key": "rotated-1"},
                                                      mount_point=mount)
        assert _wait_for(lambda: key_file.read_text().strip() == "rotated-1", timeout=10)
        assert not list(key_file.parent.glob("*.bak")), "agent left backup copies"

        # A new config published into OpenBao reaches the service's folder, byte for byte.
        live = tmp_path / "keys" / "prod" / "support-bot" / "aigw-client.json"
        doc = json.loads(configs[live])
        doc["aliases"]["deepseek-v3"]["routes"].reverse()
        changed = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
        client.secrets.kv.v2.create_or_update_secret(
            path="prod/_aigw/config/support-bot", secret={"config": changed.decode()},
            mount_point=mount)
        assert _wait_for(lambda: live.read_bytes() == changed, timeout=10)
        expected = {"aigw-client.json", ".aigw-token"} | {k.name for k in values
                                                          if k.parent == live.parent}
        assert {p.name for p in live.parent.iterdir()} == expected, "temporary or backup files"
        # The agent's own token, for the runtime's acknowledgements: 0600, this agent's.
        token = live.parent / ".aigw-token"
        assert stat.S_IMODE(token.stat().st_mode) == 0o600
        assert token.read_text().strip().startswith(("s.", "hvs.")), "not a token"
        assert stat.S_IMODE(live.stat().st_mode) == 0o644
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
        client.sys.disable_secrets_engine(mount)
