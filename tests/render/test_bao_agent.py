"""The real `bao agent` accepts every rendered agent config and writes 0600 key files.

Runs against a real OpenBao dev server; the AppRole and policy are set up here by
hand (the Pulumi stack that normally makes them is tested in tests/stack).
"""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from testing.bao import BaoDevServer

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments, slot_path
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


@pytest.mark.integration
def test_bao_agent_renders_every_deployment(tmp_path: Path, bao: BaoDevServer) -> None:
    client = bao.client()
    mount = f"aigw{secrets.token_hex(3)}"
    client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    if "approle/" not in client.sys.list_auth_methods():
        client.sys.enable_auth_method("approle")

    data = yaml.safe_load(EXAMPLES.read_text())
    for name, env in data["environments"].items():
        env["mount"] = mount
        env["key_dir"] = str(tmp_path / "keys" / name)
    catalog_file = tmp_path / "aigw.yaml"
    catalog_file.write_text(yaml.safe_dump(data))
    loaded = load_catalog(catalog_file)
    out = tmp_path / "out"
    for rel, blob in render_all(loaded).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(blob)

    values: dict[Path, str] = {}
    agents: list[subprocess.Popen[bytes]] = []
    try:
        for dep in deployments(loaded.catalog):
            paths = [f"{mount}/data/{slot_path(dep.environment, dep.env, s)}" for s in dep.slots]
            for slot, path in zip(dep.slots, paths, strict=True):
                key_file = Path(dep.key_dir) / slot.file_name
                if key_file in values:
                    continue
                api = loaded.catalog.providers[slot.provider].api
                value = f"canary-{secrets.token_hex(8)}"
                secret = ({"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": value}
                          if api == "bedrock" else {"api_key": value})
                client.secrets.kv.v2.create_or_update_secret(
                    path=path.split("/data/", 1)[1], secret=secret, mount_point=mount)
                values[key_file] = value
            policy = "\n".join(f'path "{p}" {{ capabilities = ["read"] }}' for p in paths)
            client.sys.create_or_update_policy(name=dep.policy_name + mount, policy=policy)
            client.auth.approle.create_or_update_approle(
                role_name=dep.policy_name + mount, token_policies=[dep.policy_name + mount])
            role_id = client.auth.approle.read_role_id(dep.policy_name + mount)["data"]["role_id"]
            secret_id = client.auth.approle.generate_secret_id(
                dep.policy_name + mount)["data"]["secret_id"]
            folder = out / dep.environment / dep.service
            (folder / "role-id").write_text(role_id)
            (folder / "secret-id").write_text(secret_id)
            env = {**os.environ, "BAO_ADDR": bao.addr, "VAULT_ADDR": bao.addr}
            env.pop("BAO_TOKEN", None)
            env.pop("VAULT_TOKEN", None)
            agents.append(subprocess.Popen(
                [str(find_bao()), "agent", "-config=bao-agent.hcl"], cwd=folder, env=env,
                stdout=(folder / "agent.log").open("wb"), stderr=subprocess.STDOUT))

        for key_file, value in values.items():
            assert _wait_for(key_file.exists), f"agent never wrote {key_file}"
            assert _wait_for(lambda k=key_file, v=value: v in k.read_text()), key_file
            assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file
        assert all(a.poll() is None for a in agents), "an agent exited"

        # A new value reaches the file within a few seconds (render interval 1s).
        key_file = next(k for k in values if k.name.startswith("openai.default"))
        path = "prod/providers/openai/default"
        client.secrets.kv.v2.create_or_update_secret(path=path, secret={"api_key": "rotated-1"},
                                                      mount_point=mount)
        assert _wait_for(lambda: key_file.read_text().strip() == "rotated-1", timeout=10)
        assert not list(key_file.parent.glob("*.bak")), "agent left backup copies"
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
        client.sys.disable_secrets_engine(mount)
