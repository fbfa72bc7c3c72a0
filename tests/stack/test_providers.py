"""The dynamic providers against a real OpenBao, called directly (no engine).

Every create adopts what exists, read reports drift and absence, and nothing
ever touches a slot's secret data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import hvac
import pytest
from testing.bao import BaoDevServer

from aigw.stack._conn import ProviderFailure
from aigw.stack.providers import (
    AuthBackendProvider,
    AuthRoleProvider,
    KvMountProvider,
    KvSlotProvider,
    PolicyProvider,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def env(bao: BaoDevServer, monkeypatch: pytest.MonkeyPatch) -> BaoDevServer:
    """The provider reads the token (and address) from its environment, like under the engine."""
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    return bao


@pytest.fixture
def mount(env: BaoDevServer) -> Iterator[str]:
    name = f"m-{uuid.uuid4().hex[:8]}"
    yield name
    env.client().sys.disable_secrets_engine(name)


def slot_props(mount: str, addr: str, **meta: str) -> dict[str, Any]:
    custom = {"provider": "deepseek", "slot": "default", "driver": "manual", "max_age": "30d"}
    return {"addr": addr, "mount": mount, "path": "prod/providers/deepseek/default",
            "custom_metadata": {**custom, **meta}}


def test_mount_create_enables_and_adopts(env: BaoDevServer, mount: str) -> None:
    props = {"addr": env.addr, "path": mount, "max_versions": 10.0, "cas_required": True}
    p = KvMountProvider()
    assert p.create(props).id == mount
    env.client().secrets.kv.v2.configure(max_versions=3, cas_required=False, mount_point=mount)
    drifted = p.read(mount, props).outs
    assert drifted is not None and drifted["max_versions"] == 3
    assert p.diff(mount, drifted, props).changes is True
    p.create(props)  # adopt the existing mount and converge it
    assert p.read(mount, props).outs == {**props, "max_versions": 10, "cas_required": True}
    p.delete(mount, props)  # kept: it holds every environment's keys
    assert f"{mount}/" in env.client().sys.list_mounted_secrets_engines()["data"]


def test_mount_of_another_kind_is_refused(env: BaoDevServer, mount: str) -> None:
    env.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    with pytest.raises(ProviderFailure, match=rf"\[aigw:VaultError\] mount {mount}/ exists"):
        KvMountProvider().create({"addr": env.addr, "path": mount, "max_versions": 10,
                                  "cas_required": True})


def test_slot_writes_metadata_only_and_never_the_value(env: BaoDevServer, mount: str) -> None:
    client: hvac.Client = env.client()
    KvMountProvider().create({"addr": env.addr, "path": mount, "max_versions": 10,
                              "cas_required": True})
    props = slot_props(mount, env.addr)
    p = KvSlotProvider()
    p.create(props)
    meta = client.read(f"{mount}/metadata/{props['path']}")["data"]
    assert meta["custom_metadata"] == props["custom_metadata"] and meta["versions"] == {}
    client.secrets.kv.v2.create_or_update_secret(props["path"], {"api_key": "sk-1"}, cas=0,
                                                 mount_point=mount)
    client.adapter.post(f"/v1/{mount}/metadata/{props['path']}",
                        json={"custom_metadata": {**props["custom_metadata"], "max_age": "1d",
                                                  "rotated_by": "ops"}})
    live = p.read("x", props).outs
    assert live is not None and live["custom_metadata"]["max_age"] == "1d"  # drift seen
    assert p.diff("x", live, props).changes is True
    p.update("x", live, props)
    meta = client.read(f"{mount}/metadata/{props['path']}")["data"]
    assert meta["custom_metadata"] == {**props["custom_metadata"], "rotated_by": "ops"}
    secret = client.secrets.kv.v2.read_secret_version(props["path"], mount_point=mount,
                                                      raise_on_deleted_version=True)
    assert secret["data"]["data"] == {"api_key": "sk-1"} and secret["data"]["metadata"]["version"] == 1
    p.delete("x", props)  # the entry held a value: keep it, drop only our keys
    meta = client.read(f"{mount}/metadata/{props['path']}")["data"]
    assert meta["custom_metadata"] == {"rotated_by": "ops"} and meta["current_version"] == 1


def test_slot_that_never_held_a_value_is_deleted(env: BaoDevServer, mount: str) -> None:
    KvMountProvider().create({"addr": env.addr, "path": mount, "max_versions": 10,
                              "cas_required": True})
    props = slot_props(mount, env.addr)
    KvSlotProvider().create(props)
    KvSlotProvider().delete("x", props)
    assert KvSlotProvider().read("x", props).id is None
    KvSlotProvider().delete("x", props)  # already gone is fine


def test_policy_upsert_drift_and_delete(env: BaoDevServer) -> None:
    name = f"aigw-t-{uuid.uuid4().hex[:8]}"
    props = {"addr": env.addr, "name": name, "policy": 'path "a" {\n  capabilities = ["read"]\n}\n'}
    env.client().sys.create_or_update_acl_policy(name, 'path "*" { capabilities = ["sudo"] }')
    p = PolicyProvider()
    p.create(props)  # adopts (and overwrites) a policy made by hand
    assert env.client().sys.read_acl_policy(name)["data"]["policy"] == props["policy"]
    assert p.diff(name, p.read(name, props).outs or {}, props).changes is False
    drifted = 'path "a" {\n  capabilities = ["read", "update"]\n}\n'
    env.client().sys.create_or_update_acl_policy(name, drifted)  # edited in OpenBao by hand
    seen = p.read(name, props).outs or {}
    assert seen["policy"] == drifted  # read reports the live text, not the recorded one
    assert p.diff(name, seen, props).changes is True
    p.create(props)  # the next apply writes the declared text back
    assert env.client().sys.read_acl_policy(name)["data"]["policy"] == props["policy"]
    p.delete(name, props)
    assert p.read(name, props).id is None


def test_auth_backend_and_role(env: BaoDevServer) -> None:
    path = f"ar-{uuid.uuid4().hex[:8]}"
    backend = {"addr": env.addr, "method": "approle", "path": path}
    AuthBackendProvider().create(backend)
    AuthBackendProvider().create(backend)  # already enabled: adopted
    role = {"addr": env.addr, "method": "approle", "mount": path, "name": "svc",
            "params": {"token_policies": ["p"], "token_ttl": 3600.0,
                       "token_no_default_policy": True}}
    p = AuthRoleProvider()
    p.create(role)
    assert p.read("x", role).outs == role  # floats from the engine compare as numbers
    env.client().write(f"auth/{path}/role/svc", token_ttl=60)
    live = p.read("x", role).outs or {}
    assert live["params"]["token_ttl"] == 60 and p.diff("x", live, role).changes is True
    p.delete("x", role)
    assert p.read("x", role).id is None
    env.client().sys.disable_auth_method(path)
    p.delete("x", role)  # the auth method itself is gone: nothing to delete


def test_unreachable_server_is_one_tagged_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:9")
    monkeypatch.setenv("BAO_TOKEN", "tok-secret-value")
    with pytest.raises(ProviderFailure) as caught:
        PolicyProvider().create({"addr": "http://127.0.0.1:9", "name": "x", "policy": ""})
    assert str(caught.value) == \
        "[aigw:VaultUnreachable] OpenBao unreachable at http://127.0.0.1:9"


def test_missing_token_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BAO_TOKEN", "VAULT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ProviderFailure, match="no OpenBao token"):
        PolicyProvider().read("x", {"addr": "http://127.0.0.1:9", "name": "x"})
