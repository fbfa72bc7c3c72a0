"""Plan and progress output from engine events (no engine: events built from JSON)."""

from __future__ import annotations

from typing import Any

from pulumi.automation import EngineEvent

from aigw.stack.report import Change, EventLog, Progress, format_plan

URN = "urn:pulumi:prod::aigw::pulumi-python:dynamic/aigw:{kind}::{name}"


def event(kind: str, name: str, op: str, *, done: bool = False,
          old: dict[str, Any] | None = None, new: dict[str, Any] | None = None) -> EngineEvent:
    meta: dict[str, Any] = {"op": op, "urn": URN.format(kind=kind, name=name),
                            "type": f"pulumi-python:dynamic/aigw:{kind}", "provider": ""}
    if old is not None:
        meta["old"] = {"type": meta["type"], "urn": meta["urn"], "outputs": old}
    if new is not None:
        meta["new"] = {"type": meta["type"], "urn": meta["urn"], "inputs": new}
    key = "resOutputsEvent" if done else "resourcePreEvent"
    return EngineEvent.from_json({key: {"metadata": meta}})


POLICY_OLD = {"name": "aigw-prod-a", "policy": 'path "x" {\n  capabilities = ["read"]\n}\n',
              "addr": "http://old", "__provider": "blob"}
POLICY_NEW = {**POLICY_OLD, "policy": 'path "y" {\n  capabilities = ["read"]\n}\n',
              "addr": "http://new"}


def test_plan_lists_each_change_with_the_policy_text_diff() -> None:
    log = EventLog()
    for ev in (
        event("Policy", "policy.aigw-prod-a", "update", old=POLICY_OLD, new=POLICY_NEW),
        event("AuthRole", "role.approle.aigw-prod-b", "create",
              new={"mount": "approle", "name": "aigw-prod-b", "params": {}}),
        event("KvSlot", "slot.x.default", "delete",
              old={"mount": "aigw", "path": "prod/providers/x/default"}),
        event("KvMount", "mount.aigw", "same", old={"path": "aigw"}, new={"path": "aigw"}),
    ):
        log.on_event(ev)
    assert log.counts == {"update": 1, "create": 1, "delete": 1, "same": 1}
    lines = format_plan("aigw/prod", log.changes(), log.counts)
    assert lines[0] == "aigw/prod: 1 to create, 1 to update, 1 to delete, 1 unchanged"
    assert lines[1].split() == ["-", "delete", "slot", "aigw/prod/providers/x/default"]
    assert lines[2].split() == ["~", "update", "policy", "aigw-prod-a"]
    assert '-path "x" {' in [ln.strip() for ln in lines]
    assert '+path "y" {' in [ln.strip() for ln in lines]
    assert lines[-1].split() == ["+", "create", "role", "auth/approle/role/aigw-prod-b"]
    assert not any("addr" in ln or "blob" in ln for ln in lines)  # never the address/provider


def test_no_changes_is_one_line() -> None:
    assert format_plan("aigw/prod", [], {"same": 20}) == [
        "aigw/prod: no changes (20 resources up to date)"]


def test_field_changes_are_shown_flat() -> None:
    change = Change("update", "slot", "urn", old={"custom_metadata": {"max_age": "30d"}},
                    new={"custom_metadata": {"max_age": "60d"}})
    assert change.detail() == ["custom_metadata.max_age: 30d -> 60d"]


def test_progress_counts_every_step_and_prints_changes() -> None:
    lines: list[str] = []
    log = EventLog(on_step=Progress(lines.append, total=3, every=2))
    log.on_event(event("Policy", "policy.aigw-prod-a", "create", done=True, new=POLICY_NEW))
    log.on_event(event("KvMount", "mount.aigw", "same", done=True, new={"path": "aigw"}))
    log.on_event(event("KvMount", "mount.aigw", "refresh", done=True, new={"path": "aigw"}))
    assert lines == ["  [1/3] created policy aigw-prod-a", "  [2/3] ..."]
    assert [c.target for c in log.done] == ["aigw-prod-a"]


def test_destroy_progress_counts_through_the_state_and_says_what_stays() -> None:
    from aigw.stack.report import deleted_count

    lines: list[str] = []
    log = EventLog(on_step=Progress(lines.append, total=3))
    log.on_event(event("Policy", "policy.aigw-prod-a", "delete", done=True, old=POLICY_OLD))
    log.on_event(event("AuthBackend", "auth.approle", "delete", done=True,
                       old={"path": "approle", "method": "approle"}))
    log.on_event(event("KvMount", "mount.aigw", "delete", done=True, old={"path": "aigw"}))
    assert lines == ["  [1/3] deleted policy aigw-prod-a",
                     "  [2/3] kept (shared) auth auth/approle/",
                     "  [3/3] kept (shared) mount aigw/"]
    assert deleted_count(log.done) == 1
