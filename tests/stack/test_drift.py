"""`--refresh` without the engine: aigw reads every recorded object back (aigw.stack.drift).

Real OpenBao dev server and the real Pulumi engine (tests/stack/conftest.py), the
example catalog in prod applied with its slots filled (so every kind of object the
stack manages is there: the mount, two auth methods, slots, policies, roles and
published configs). Right after an apply every object reads back as recorded; each
kind of hand change is found and named; the default apply then repairs it through the
engine's refresh. The check never reads a key value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hvac
import pytest
import requests

from aigw.errors import VaultForbidden
from aigw.stack import drift
from aigw.vault import VaultSettings
from tests.stack.conftest import StackRig
from tests.stack.test_targeted import applied_once
from tests.stack.vaultstate import state_urns

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENV = "prod"
MINE = "pulumi-python:dynamic/aigw:"


def aigw_resources(rig: StackRig) -> int:
    """How many aigw objects the prod state records."""
    return sum(1 for urn in state_urns(rig.backend, ENV) if f"::{MINE}" in urn)


def tamper(client: hvac.Client) -> set[str]:
    """One hand change per kind of object; the names the check must report."""
    client.sys.create_or_update_acl_policy("aigw-prod-support-bot", 'path "x" {}')
    client.write("auth/approle/role/aigw-prod-support-bot", token_ttl=7)
    slot = client.secrets.kv.v2.list_secrets("prod/providers/deepseek",
                                             mount_point="aigw")["data"]["keys"][0]
    meta = client.secrets.kv.v2.read_secret_metadata(f"prod/providers/deepseek/{slot}",
                                                     mount_point="aigw")["data"]
    custom = {k: "changed by hand" for k in meta["custom_metadata"]}
    client.secrets.kv.v2.update_metadata(f"prod/providers/deepseek/{slot}", mount_point="aigw",
                                         custom_metadata=custom)
    config = "prod/_aigw/config/support-bot"
    version = client.secrets.kv.v2.read_secret_metadata(config, mount_point="aigw")
    client.secrets.kv.v2.create_or_update_secret(
        config, secret={"config": "{}"}, mount_point="aigw",
        cas=version["data"]["current_version"])
    client.secrets.kv.v2.configure(max_versions=3, mount_point="aigw")
    client.sys.disable_auth_method("kubernetes")
    client.sys.delete_acl_policy("aigw-prod-research-assistant")  # its role and config stay
    return {"policy.aigw-prod-research-assistant (gone)","policy.aigw-prod-support-bot (changed)",
            "role.approle.aigw-prod-support-bot (changed)", f"slot.deepseek.{slot} (changed)",
            "config.support-bot (changed)", "mount.aigw (changed)", "auth.kubernetes (gone)"}


def test_each_kind_of_hand_change_is_found_and_apply_repairs_it(
        rig: StackRig, catalog_dir: Path) -> None:
    applied_once(rig, catalog_dir)
    clean = drift.check(rig.engine, rig.vault, ENV)
    assert clean.clean and clean.checked == aigw_resources(rig) > 20
    expected = tamper(rig.client())
    found = drift.check(rig.engine, rig.vault, ENV)
    names = set(found.drifted)
    assert not found.clean and names >= expected, found.drifted
    assert found.why is not None and found.why.startswith(
        f"{len(found.drifted)} of {clean.checked} objects differ from the recorded state")
    # plan stops at the first object that drifted (its engine refresh reads them all).
    first = drift.check(rig.engine, rig.vault, ENV, until_first=True)
    assert len(first.drifted) == len(first.urns) == 1 and first.drifted[0] in names
    assert first.why == f"{first.drifted[0]} differs from the recorded state"
    # The roles of the Kubernetes auth method went with it: also gone.
    assert names - expected <= {n for n in names if n.endswith("(gone)")}, names - expected
    # apply (which refreshes by default) sees the same, has the engine refresh just those
    # objects, and repairs every one with a targeted `up`.
    rig.lines.clear()
    [done] = rig.apply(catalog_dir, ENV)
    assert done.apply_path == "targeted" and done.refresh == "engine", rig.lines
    assert f"aigw/{ENV}: {found.why}" in rig.lines
    assert (f"aigw/{ENV}: the engine refreshes those {len(found.urns)} objects (the rest "
            "read back as recorded)") in rig.lines
    assert len(found.urns) == len(found.drifted) < clean.checked
    again = drift.check(rig.engine, rig.vault, ENV)
    assert again.clean and again.checked == clean.checked, again.why
    [planned] = rig.plan(catalog_dir, ENV, refresh=True)
    assert not planned.changed and planned.refresh == "aigw" and planned.planner == "fingerprint"


def test_the_check_reads_no_key_value(rig: StackRig, catalog_dir: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    applied_once(rig, catalog_dir)
    asked: list[str] = []
    send = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, *a: Any, **kw: Any) -> Any:
        asked.append(f"{method} {url}")
        return send(self, method, url, *a, **kw)

    monkeypatch.setattr(requests.Session, "request", spy)
    assert drift.check(rig.engine, rig.vault, ENV).clean
    data = [a for a in asked if "/v1/aigw/data/" in a]
    assert asked and data and all("/_aigw/config/" in a for a in data), data  # configs only


def test_a_token_that_may_not_read_fails_as_the_engine_would(rig: StackRig,
                                                             catalog_dir: Path) -> None:
    applied_once(rig, catalog_dir)
    client = rig.client()
    client.sys.create_or_update_acl_policy("kv-only", 'path "aigw/*" { capabilities = ["read", "list"] }')
    token = client.auth.token.create(policies=["kv-only"])["auth"]["client_token"]
    limited = VaultSettings(addr=rig.bao.addr, token=token)
    with pytest.raises(VaultForbidden) as caught:
        drift.check(rig.engine, limited, ENV)
    # The engine's words (the first of the reads refused: the mounts, the auth methods...).
    assert str(caught.value).startswith("permission denied on sys/"), caught.value
    assert token not in str(caught.value)


def test_what_the_check_cannot_judge_leaves_the_refresh_to_the_engine(
        rig: StackRig, catalog_dir: Path) -> None:
    assert drift.check(rig.engine, rig.vault, ENV).why == "no recorded state yet"
    applied_once(rig, catalog_dir)
    state = rig.backend / ".pulumi" / "stacks" / "aigw" / f"{ENV}.json"
    text = state.read_text()
    doc = json.loads(text)
    doc["checkpoint"]["latest"]["pending_operations"] = [{"resource": {}, "type": "creating"}]
    state.write_text(json.dumps(doc))
    assert drift.check(rig.engine, rig.vault, ENV).why == "the state records an interrupted run"
    doc = json.loads(text)
    next(r for r in doc["checkpoint"]["latest"]["resources"]
         if r["type"] == MINE + "Policy")["type"] = MINE + "Gadget"
    state.write_text(json.dumps(doc))
    assert "resource type this aigw does not know" in str(
        drift.check(rig.engine, rig.vault, ENV).why)
    # Outputs a provider cannot read (no traceback): that object is left to the engine.
    doc = json.loads(text)
    policy = next(r for r in doc["checkpoint"]["latest"]["resources"]
                  if r["type"] == MINE + "Policy")
    del policy["outputs"]["name"]
    state.write_text(json.dumps(doc))
    found = drift.check(rig.engine, rig.vault, ENV)
    assert found.drifted == (f"{policy['urn'].rsplit('::', 1)[-1]} (not read: KeyError)",)


@pytest.mark.parametrize(("a", "b", "same"), [
    (1, 1.0, True), ({"x": [1, "a"]}, {"x": [1.0, "a"]}, True),
    (True, 1, False), (0, False, False), ([1, 2], [2, 1], False), ({"x": 1}, {"x": 1, "y": None}, False),
    ("1", 1, False), (None, "", False), ([], None, False)])
def test_equal_is_strict(a: Any, b: Any, same: bool) -> None:
    assert drift.equal(a, b) is same and drift.equal(b, a) is same
