"""Every service in every environment reads exactly its slots and its own config: the full
AppRole matrix.

After `aigw apply` on examples/, each service logs in with its own AppRole and
tries every slot of every environment, every published client config, its own
slots' and config's metadata, writes, the rotation bookkeeping and sensitive sys/
paths. Reads of its slots and of its own config succeed; every other request gets 403.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import hvac
import hvac.exceptions
import pytest
import yaml

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments, environment_slots
from aigw.render import render_all
from aigw.stack import approle_credentials, approle_login, role_name, secret_path
from aigw.stack.spec import config_secret_path
from aigw.tools import find_bao
from tests.helpers import wait_for
from tests.stack.conftest import EXAMPLES, StackRig

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SYS_PATHS = ["sys/mounts", "sys/auth", "sys/policies/acl", "sys/policy", "sys/audit",
             "sys/capabilities-self", "sys/leases/lookup", "sys/config/state/sanitized",
             "sys/internal/counters/activity", "sys/policies/acl/aigw-prod-support-bot"]


def forbidden(client: hvac.Client, method: str, path: str, **kw: object) -> bool:
    try:
        getattr(client.adapter, method)(f"/v1/{path}", **kw)
    except hvac.exceptions.Forbidden:
        return True
    return False


def test_each_service_reads_its_slots_and_nothing_else(rig: StackRig) -> None:
    rig.apply(EXAMPLES)
    cat = load_catalog(EXAMPLES).catalog
    admin = rig.client()
    every_slot = {(env, ref) for env in cat.environments for ref in environment_slots(cat, env)}
    for env, ref in every_slot:  # a value in every slot, so a read either works or is denied
        path = secret_path(cat, env, ref).removeprefix("aigw/data/")
        admin.secrets.kv.v2.create_or_update_secret(path, {"api_key": f"k-{env}-{ref.id}"},
                                                     cas=0, mount_point="aigw")
    admin.secrets.kv.v2.create_or_update_secret("prod/_aigw/journal/x", {"step": "pending"},
                                                 cas=0, mount_point="aigw")
    rendered = render_all(load_catalog(EXAMPLES))
    checked = 0
    for dep in deployments(cat):
        creds = approle_credentials(admin, role_name(dep.environment, dep.service))
        svc = approle_login(rig.bao.addr, creds)
        mine = {(dep.environment, ref) for ref in dep.slots}
        for env, ref in sorted(every_slot):
            path = secret_path(cat, env, ref)
            if (env, ref) in mine:
                data = svc.adapter.get(f"/v1/{path}")["data"]["data"]
                assert data == {"api_key": f"k-{env}-{ref.id}"}
                assert forbidden(svc, "get", path.replace("/data/", "/metadata/", 1))
                assert forbidden(svc, "post", path, json={"data": {"api_key": "x"}})
            else:
                assert forbidden(svc, "get", path), (dep.service, dep.environment, path)
            checked += 1
        for other in deployments(cat):
            path = config_secret_path(cat, other.environment, other.service)
            if other == dep:
                text = svc.adapter.get(f"/v1/{path}")["data"]["data"]["config"]
                assert text.encode() == rendered[f"{dep.environment}/{dep.service}/"
                                                 "aigw-client.json"]
                assert forbidden(svc, "get", path.replace("/data/", "/metadata/", 1))
                assert forbidden(svc, "post", path, json={"data": {"config": "{}"}})
                assert forbidden(svc, "delete", path)
            else:
                assert forbidden(svc, "get", path), (dep.service, dep.environment, path)
            checked += 1
        for path in [*SYS_PATHS, "aigw/data/prod/_aigw/journal/x", "aigw/config",
                     "auth/approle/role", f"aigw/metadata/{dep.environment}/_aigw/config"]:
            assert forbidden(svc, "get", path), (dep.service, path)
            checked += 1
        assert forbidden(svc, "post", "sys/mounts/evil", json={"type": "kv"})
        assert svc.auth.token.lookup_self()["data"]["policies"] == [dep.policy_name]
    n = len(deployments(cat))
    assert checked == n * (len(every_slot) + n + len(SYS_PATHS) + 4)


def test_a_real_agent_works_with_nothing_but_the_service_policy(
        rig: StackRig, tmp_path: Path) -> None:
    """`bao agent` logs in with the AppRole aigw made and keeps the key file current.

    It also writes the aigw-client.json that apply published, and after a catalog
    change and another apply, the new one: each byte for byte what render makes.
    """
    data = yaml.safe_load((EXAMPLES / "aigw.yaml").read_text())
    for name, env in data["environments"].items():
        env["key_dir"] = str(tmp_path / "keys" / name)
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "aigw.yaml").write_text(yaml.safe_dump(data))
    rig.apply(folder, "prod")
    loaded = load_catalog(folder)
    dep = deployments(loaded.catalog, env="prod", service="support-bot")[0]
    admin = rig.client()
    for ref in dep.slots:
        admin.secrets.kv.v2.create_or_update_secret(
            secret_path(loaded.catalog, "prod", ref).removeprefix("aigw/data/"),
            {"api_key": f"v1-{ref.provider}"}, cas=0, mount_point="aigw")
    out = tmp_path / "out"
    for rel, blob in render_all(loaded, env="prod", service="support-bot").items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(blob)
    agent_dir = out / "prod" / "support-bot"
    creds = approle_credentials(admin, role_name("prod", "support-bot"))
    (agent_dir / "role-id").write_text(creds.role_id)
    (agent_dir / "secret-id").write_text(creds.secret_id)
    env = {k: v for k, v in os.environ.items() if k not in ("BAO_TOKEN", "VAULT_TOKEN")}
    env.update(BAO_ADDR=rig.bao.addr, VAULT_ADDR=rig.bao.addr)
    log = agent_dir / "agent.log"
    agent = subprocess.Popen([str(find_bao()), "agent", "-config=bao-agent.hcl"], cwd=agent_dir,
                             env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        key_file = Path(dep.key_dir) / dep.slots[0].file_name
        assert wait_for(lambda: key_file.exists() and key_file.read_text().strip()
                        == f"v1-{dep.slots[0].provider}"), log.read_text()[-2000:]
        path = secret_path(loaded.catalog, "prod", dep.slots[0]).removeprefix("aigw/data/")
        admin.secrets.kv.v2.create_or_update_secret(path, {"api_key": "v2"}, cas=1,
                                                     mount_point="aigw")
        assert wait_for(lambda: key_file.read_text().strip() == "v2"), log.read_text()[-2000:]

        live = Path(dep.key_dir) / "aigw-client.json"
        first = (agent_dir / "aigw-client.json").read_bytes()
        assert wait_for(lambda: live.exists() and live.read_bytes() == first), \
            log.read_text()[-2000:]
        catalog = folder / "aigw.yaml"
        doc = yaml.safe_load(catalog.read_text())
        doc["models"]["deepseek-v3"]["routes"].reverse()
        catalog.write_text(yaml.safe_dump(doc))
        rig.apply(folder, "prod")
        second = render_all(load_catalog(folder), env="prod", service="support-bot")[
            "prod/support-bot/aigw-client.json"]
        assert second != first
        assert wait_for(lambda: live.read_bytes() == second), log.read_text()[-2000:]
        assert agent.poll() is None and "permission denied" not in log.read_text()
    finally:
        agent.terminate()
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


