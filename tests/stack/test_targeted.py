"""`aigw apply --no-refresh` updates only what changed: a targeted `up` (aigw.stack.targets).

Real OpenBao dev server and the real Pulumi engine (tests/stack/conftest.py), the
example catalog in prod: a change to one service, plus a new service, goes through
the targeted path and changes exactly those services' objects; every other object
in OpenBao and in the state is left as it was, and a later full plan (the engine,
and with --refresh) finds nothing to do. A change that deletes objects runs the
full `up`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hvac
import pytest

from aigw.catalog import load_catalog
from aigw.stack import run
from aigw.stack.fastplan import fingerprint_key
from aigw.stack.spec import environment_spec
from tests.helpers import run_cli
from tests.stack.conftest import StackRig
from tests.stack.test_apply import edit_services
from tests.stack.vaultstate import assert_holds_exactly, live_objects, state_urns
from tests.test_json_contract import check

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENV = "prod"


def snapshot(client: hvac.Client) -> dict[str, dict[str, Any]]:
    """Policies, roles, slot metadata, and each published config's current version."""
    out = live_objects(client)
    folder = f"{ENV}/_aigw/config"
    found = client.list(f"aigw/metadata/{folder}")
    out["configs"] = {
        name: client.read(f"aigw/metadata/{folder}/{name}")["data"]["current_version"]
        for name in (found["data"]["keys"] if found else [])}
    return out


def differs(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]],
            ) -> dict[str, set[str]]:
    """Per kind, the objects added, removed or changed."""
    return {kind: {k for k in set(before[kind]) | set(after[kind])
                   if before[kind].get(k) != after[kind].get(k)} for kind in before}


def applied_once(rig: StackRig, catalog_dir: Path) -> None:
    """prod applied, its slots filled, applied again (so every config is published)."""
    rig.apply(catalog_dir, ENV)
    rig.fill(catalog_dir, ENV)
    rig.apply(catalog_dir, ENV)


def test_a_one_service_change_updates_only_that_service(rig: StackRig,
                                                        catalog_dir: Path) -> None:
    applied_once(rig, catalog_dir)
    before = snapshot(rig.client())
    edit_services(catalog_dir, lambda s: (
        s["research-assistant"].update({"regions": ["us", "cn"],
                                        "models": [*s["research-assistant"]["models"],
                                                   "deepseek-v3"]}),
        s.update({"new-svc": {"environments": [ENV], "models": ["gpt-4o"],
                              "keys": "per-service"}})))
    rig.fill(catalog_dir, ENV)  # the new slots get keys: nothing is held
    rig.lines.clear()
    result = rig.apply(catalog_dir, ENV, refresh=False)[0]

    assert result.apply_path == "targeted" and result.applied
    spec = environment_spec(load_catalog(catalog_dir).catalog, ENV)
    assert (f"aigw/{ENV}: targeted apply of 9 of {spec.resource_count} resources (the rest "
            "match the recorded state; `aigw apply` without --no-refresh checks them all)"
            ) in rig.lines
    assert {(c.op, c.kind) for c in result.changes} == {
        ("create", "slot"), ("create", "policy"), ("create", "role"), ("create", "config"),
        ("update", "policy"), ("update", "config")}
    assert result.counts["same"] == spec.resource_count - 9
    changed = differs(before, snapshot(rig.client()))
    assert changed["policies"] == {"aigw-prod-research-assistant", "aigw-prod-new-svc"}
    assert changed["roles"] == {"aigw-prod-new-svc"}
    assert changed["configs"] == {"research-assistant", "new-svc"}
    assert changed["slots"] == {f"{ENV}/providers/{p}" for p in (
        "deepseek/default", "volcengine/default", "bailian/default", "openai/svc-new-svc")}

    # The state still lists every resource: a full plan by the engine finds nothing to do.
    assert len([u for u in state_urns(rig.backend, ENV) if "dynamic/aigw:" in u]) == \
        spec.resource_count
    (rig.backend / fingerprint_key(ENV)).unlink()
    for refresh in (False, True):
        planned = rig.plan(catalog_dir, ENV, refresh=refresh)[0]
        assert planned.planner == "engine" and not planned.changed, planned.changes
        assert planned.counts == {"same": spec.resource_count}
    again = rig.apply(catalog_dir, ENV, refresh=False)[0]  # nothing differs: still targeted
    assert again.apply_path == "targeted" and not again.changed
    assert rig.plan(catalog_dir, ENV)[0].planner == "fingerprint"

    # Without --yes, the preview it asks about is the targeted one too.
    edit_services(catalog_dir, lambda s: s["support-bot"]["defaults"].update({"timeout": 25}))
    rig.lines.clear()
    asked: list[str] = []
    (done,) = run.apply(catalog_dir, ENV, echo=rig.lines.append, refresh=False,
                        confirm=lambda q: asked.append(q) or True, vault=rig.vault,
                        engine=rig.engine)
    assert asked and done.apply_path == "targeted"
    assert f"aigw/{ENV}: 0 to create, 1 to update, 0 to delete, {spec.resource_count - 1} " \
        "unchanged" in rig.lines
    assert [(c.op, c.target) for c in done.changes] == [
        ("update", f"aigw/{ENV}/_aigw/config/support-bot")]


def test_a_change_that_deletes_runs_the_full_apply(rig: StackRig, catalog_dir: Path,
                                                   capsys: Any) -> None:
    applied_once(rig, catalog_dir)
    edit_services(catalog_dir, lambda s: s["support-bot"].update({"environments": ["staging"]}))
    rig.lines.clear()
    result = rig.apply(catalog_dir, ENV, refresh=False)[0]
    assert result.apply_path == "full"
    assert any(ln.startswith(f"aigw/{ENV}: full apply (") and "to delete, e.g." in ln
               for ln in rig.lines), rig.lines
    assert "aigw-prod-support-bot" not in live_objects(rig.client())["policies"]
    assert "policy.aigw-prod-support-bot" in {c.urn.rsplit("::", 1)[-1]
                                              for c in result.changes if c.op == "delete"}
    # The default apply reads every object back first (aigw.stack.drift): nothing drifted,
    # so it is targeted too; `--json` says which path ran and who read OpenBao back.
    refreshed = run_cli(capsys, "apply", str(catalog_dir), "--env", ENV, "--yes", "--json")
    assert [(s["apply_path"], s["refresh"]) for s in check("apply", refreshed, 0)["stacks"]] \
        == [("targeted", "aigw")]
    assert f"aigw/{ENV}: read back " in refreshed.err
    # A policy changed by hand: the engine refreshes that object only, and the targeted
    # apply repairs it.
    policies = live_objects(rig.client())["policies"]
    name = sorted(policies)[0]
    rig.client().sys.create_or_update_acl_policy(name, 'path "x" {}')
    repaired = run_cli(capsys, "apply", str(catalog_dir), "--env", ENV, "--yes", "--json")
    assert [(s["apply_path"], s["refresh"]) for s in check("apply", repaired, 0)["stacks"]] \
        == [("targeted", "engine")]
    assert f"objects differ from the recorded state, e.g. policy.{name} (changed)" \
        in repaired.err
    assert (f"aigw/{ENV}: the engine refreshes that object (the rest read back as "
            "recorded)") in repaired.err
    assert live_objects(rig.client())["policies"] == policies
    targeted = run_cli(capsys, "apply", str(catalog_dir), "--env", ENV, "--yes",
                       "--no-refresh", "--json")
    assert [s["apply_path"] for s in check("apply", targeted, 0)["stacks"]] == ["targeted"]


def test_a_run_that_overtook_the_decision_makes_it_converge_in_full(
        rig: StackRig, catalog_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        ) -> None:
    """Another apply (another checkout's catalog) updates the stack after this apply read the
    state and before its engine took the lock: the targeted run would leave that run's
    objects; the state's backup says so (fastplan.replaced) and the full `up` follows."""
    import shutil

    from aigw.stack import targets

    applied_once(rig, catalog_dir)
    other = tmp_path / "other-checkout"
    shutil.copytree(catalog_dir, other)
    edit_services(other, lambda s: s["support-bot"]["defaults"].update({"timeout": 41}))
    edit_services(catalog_dir, lambda s: s["research-assistant"].setdefault(
        "defaults", {}).update({"timeout": 17}))
    choose = targets.choose
    raced: list[str] = []

    def overtaken(*args: Any, **kw: Any) -> targets.Choice:
        choice = choose(*args, **kw)
        if not raced:  # the other apply lands now, between the read and the `up`
            raced.append("yes")
            run.apply(other, ENV, echo=raced.append, yes=True, refresh=False, vault=rig.vault,
                      engine=rig.engine)
        return choice

    monkeypatch.setattr(targets, "choose", overtaken)
    rig.lines.clear()
    [result] = rig.apply(catalog_dir, ENV)
    assert any("targeted apply of" in ln for ln in raced), raced  # the other run was real
    assert (f"aigw/{ENV}: another run updated the stack after this apply read its state: "
            "running the full apply, so every object matches this catalog") in rig.lines
    assert result.apply_path == "full"
    client = rig.client()
    assert_holds_exactly(client, load_catalog(catalog_dir).catalog, [ENV])
    for config in environment_spec(load_catalog(catalog_dir).catalog, ENV).configs:
        live = client.secrets.kv.v2.read_secret_version(
            config.path, mount_point=config.mount, raise_on_deleted_version=True)
        assert live["data"]["data"] == config.data, config.service  # this catalog's, not other's
    assert rig.plan(catalog_dir, ENV, refresh=True)[0].changed is False
