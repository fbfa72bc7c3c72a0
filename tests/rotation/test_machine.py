"""The rotation state machine with a FakeDriver against a real OpenBao: every path."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hvac
import pytest
from testing.bao import BaoDevServer

from aigw.client.keys import fingerprint
from aigw.errors import RotationInProgress
from aigw.rotation.progress import Progress, Timing
from aigw.rotation.runner import RotateOptions, RotateResult, rotate_keys
from aigw.slots.audit import AuditLog
from aigw.slots.journal import Journal
from aigw.slots.kv import KV
from aigw.slots.put import put_key
from aigw.slots.targets import select_targets
from tests.rotation.conftest import Consumer, load, read_slot, seed, write_catalog
from tests.rotation.fake_driver import FakeDriver, FakeKeys

SLOT = "prod/providers/fake/default"
FAST = Timing(quiet=0.2, poll=0.02, wait=5.0)


class World:
    """A catalog with one provider `fake`, its slot seeded with a live key."""

    def __init__(self, tmp: Path, client: hvac.Client, mount: str, *, agent_refresh: int = 0,
                 grace: str = "1s", services: dict[str, Any] | None = None) -> None:
        self.client, self.mount = client, mount
        provider = {"api": "openai", "base_url": "http://127.0.0.1:9", "region": "us",
                    "rotation": {"driver": "manual", "grace": grace}}
        self.folder = write_catalog(tmp / "cat", mount, {"fake": provider},
                                    agent_refresh=agent_refresh, services=services)
        self.keys = FakeKeys()
        self.old_id, self.old = self.keys.add()
        seed(client, mount, SLOT, {"api_key": self.old})
        self.kv = KV(client, mount)

    def rotate(self, timing: Timing = FAST, reporter: Any = None,
               **options: Any) -> RotateResult:
        opts = RotateOptions(env="prod", **options)
        return rotate_keys(load(self.folder), self.client, opts, timing=timing,
                           driver_factory=FakeDriver.factory(self.keys), reporter=reporter)

    def consumer(self) -> Consumer:
        return Consumer(self.client, self.mount, SLOT, lambda d: self.keys.use(d["api_key"]))

    def slot(self) -> str:
        data = read_slot(self.client, self.mount, SLOT)
        assert data is not None
        return data["api_key"]

    def journal_state(self) -> str | None:
        entry = Journal(self.kv, "prod/_aigw/journal/fake/default", "x").load()
        return entry.state if entry else None

    def audit_ok(self) -> list[dict[str, Any]]:
        report = AuditLog(self.kv, "prod/_aigw").verify()
        assert report.ok, report.problems
        return report.records


@pytest.fixture
def world(tmp_path: Path, bao: BaoDevServer, kv_mount: str) -> World:
    return World(tmp_path, bao.client(), kv_mount)


def _assert_rotated(w: World) -> None:
    new = w.slot()
    assert new != w.old and w.keys.valid(new)
    assert len(w.keys.keys) == 1  # exactly one live key: the new one
    assert not w.keys.valid(w.old)
    assert w.journal_state() == "done"
    assert w.kv.read("prod/_aigw/staged/fake/default") is None


@pytest.mark.integration
def test_rotation_with_consumers_moving(world: World) -> None:
    seen: list[Progress] = []
    with world.consumer() as consumer:
        result = world.rotate(reporter=seen.append)
    assert result.exit_code == 0 and result.outcomes[0].status == "done"
    _assert_rotated(world)
    assert consumer.failures == 0 and consumer.calls > 0
    states = [p.to_state for p in seen if p.to_state != "note"]
    assert states == ["intent", "minted", "staged", "verified", "promoted", "propagated",
                      "old_disabled", "old_revoked", "done"]
    records = world.audit_ok()
    assert [r["to_state"] for r in records] == states
    assert records[-1]["new_fingerprint"] == fingerprint(world.slot())
    assert records[0]["old_fingerprint"] == fingerprint(world.old)
    meta = world.kv.metadata(SLOT)
    assert meta is not None and meta["versions"]["1"]["destroyed"] is True


@pytest.mark.integration
def test_waits_without_evidence_then_resumes(world: World) -> None:
    first = world.rotate(timing=Timing(quiet=0.2, poll=0.02, wait=0.0))
    assert first.outcomes[0].status == "waiting" and first.exit_code == 0
    assert world.journal_state() == "promoted"
    assert world.keys.valid(world.old)  # nothing revoked without evidence
    with world.consumer():
        second = world.rotate(resume=True)
    assert second.outcomes[0].status == "done"
    assert any("resuming run" in n for n in second.outcomes[0].notes)
    _assert_rotated(world)


@pytest.mark.integration
def test_a_long_wait_prints_a_heartbeat(world: World) -> None:
    """`rotate-keys --wait 2m` says every 30 s what it waits for (issue 23 item 7): a fake
    clock that sleeps instantly, so 120 s of waiting take no time."""
    now = [time.time()]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    seen: list[Progress] = []
    timing = Timing(quiet=3600.0, poll=5.0, wait=120.0, clock=lambda: now[0], sleep=sleep)
    result = world.rotate(timing=timing, reporter=seen.append)
    assert result.outcomes[0].status == "waiting"
    beats = [p.detail for p in seen if p.to_state == "waiting"]
    assert len(beats) == 3, beats  # at 30, 60 and 90 s; at 120 s the run reports instead
    assert beats[0].startswith("waiting: ") and "--wait gives up in 1m30s" in beats[0]
    assert "--wait gives up in 30s" in beats[-1]
    assert not set(beats) & set(result.outcomes[0].notes)  # progress, not the outcome's notes


@pytest.mark.integration
def test_old_key_in_use_vetoes_even_finish(world: World) -> None:
    world.rotate(timing=Timing(quiet=0.2, poll=0.02, wait=0.0))
    time.sleep(1.1)  # the grace period (1s) is over
    world.keys.use(world.old)  # a consumer still on the old key
    result = world.rotate(finish=True, timing=Timing(quiet=5.0, poll=0.02, wait=0.0))
    out = result.outcomes[0]
    assert out.status == "waiting" and "old key used" in out.message
    assert world.keys.valid(world.old)


@pytest.mark.integration
def test_grace_needs_finish(world: World) -> None:
    world.keys.use = lambda value: False  # type: ignore[method-assign]  # no usage data
    world.rotate(timing=Timing(quiet=0.2, poll=0.02, wait=0.0))
    time.sleep(1.1)
    waiting = world.rotate(resume=True, timing=Timing(quiet=0.2, poll=0.02, wait=0.0))
    assert waiting.outcomes[0].status == "waiting"
    assert "--finish" in waiting.outcomes[0].message
    done = world.rotate(finish=True)
    assert done.outcomes[0].status == "done"
    assert world.journal_state() == "done"


@pytest.mark.integration
def test_acknowledgements_are_evidence(world: World) -> None:
    world.keys.use = lambda value: False  # type: ignore[method-assign]
    FakeDriver.reports_last_used = False
    try:
        world.rotate(timing=Timing(quiet=0.1, poll=0.02, wait=0.0))
        new_fp = fingerprint(world.slot())
        world.client.secrets.kv.v2.create_or_update_secret(
            path="prod/_aigw/acks/fake/default/web", secret={"fingerprint": new_fp}, cas=0,
            mount_point=world.mount)
        result = world.rotate(resume=True)
    finally:
        FakeDriver.reports_last_used = True
    assert result.outcomes[0].status == "done"
    entry = Journal(world.kv, "prod/_aigw/journal/fake/default", "x").load()
    assert entry is not None and "acknowledged" in entry.evidence["reason"]


@pytest.mark.integration
def test_grace_never_below_agent_refresh(tmp_path: Path, bao: BaoDevServer,
                                         kv_mount: str) -> None:
    w = World(tmp_path, bao.client(), kv_mount, agent_refresh=3, grace="1s")
    w.rotate(grace=0.0, timing=Timing(quiet=0.1, poll=0.02, wait=0.0))
    entry = Journal(w.kv, "prod/_aigw/journal/fake/default", "x").load()
    assert entry is not None and entry.grace == 3.0


@pytest.mark.integration
def test_failed_verification_aborts_and_revokes_the_new_key(world: World) -> None:
    world.keys.fail_verify = True
    result = world.rotate()
    out = result.outcomes[0]
    assert out.status == "aborted" and result.exit_code == 3
    assert "verification failed" in out.message
    assert world.slot() == world.old and world.keys.valid(world.old)
    assert list(world.keys.keys) == [world.old_id]
    assert world.journal_state() == "aborted"
    world.keys.fail_verify = False
    with world.consumer():
        assert world.rotate().outcomes[0].status == "done"  # a fresh rotation starts
    _assert_rotated(world)


@pytest.mark.integration
def test_slot_written_outside_the_rotation_aborts(world: World) -> None:
    def meddle(p: Progress) -> None:
        if p.to_state == "verified":
            world.client.secrets.kv.v2.create_or_update_secret(
                path=SLOT, secret={"api_key": "someone-else"}, cas=1, mount_point=world.mount)

    result = world.rotate(reporter=meddle)
    assert result.outcomes[0].status == "aborted"
    assert "slot changed" in result.outcomes[0].message
    assert world.slot() == "someone-else" and list(world.keys.keys) == [world.old_id]


@pytest.mark.integration
def test_value_lost_after_minting_is_discarded_and_reminted(world: World) -> None:
    class Crash(Exception):
        pass

    def die(p: Progress) -> None:
        if p.to_state == "minted":
            raise Crash

    with pytest.raises(Crash):
        world.rotate(reporter=die)
    assert world.journal_state() == "minted" and len(world.keys.keys) == 2
    with world.consumer():
        result = world.rotate()
    assert result.outcomes[0].status == "done"
    _assert_rotated(world)
    records = world.audit_ok()
    lost = [r for r in records if r["detail"].get("lost_key_id")]
    assert len(lost) == 1 and records[-1]["to_state"] == "done"
    orphans = [r for r in records if r["detail"].get("orphans_revoked")]
    assert orphans and orphans[0]["detail"]["orphans_revoked"] == [lost[0]["detail"][
        "lost_key_id"]]


@pytest.mark.integration
def test_put_refused_during_rotation_and_lock_names_holder(world: World) -> None:
    world.rotate(timing=Timing(quiet=0.2, poll=0.02, wait=0.0))
    target = select_targets(load(world.folder).catalog, "prod")[0]
    with pytest.raises(RotationInProgress, match="rotation is in progress"):
        put_key(world.client, target, {"api_key": "new-by-hand"})
    from aigw.slots.lock import SlotLock

    holder = SlotLock(world.kv, target.lock_path, target.id, "other-run", ttl=60)
    holder.acquire()
    try:
        result = world.rotate()
        assert result.outcomes[0].status == "in-progress" and result.exit_code == 1
        assert "other-run" in result.outcomes[0].message
    finally:
        holder.release()


@pytest.mark.integration
def test_due_and_dry_run(world: World) -> None:
    not_due = world.rotate(due=True)
    assert not_due.outcomes[0].status == "skipped" and not_due.exit_code == 0
    plan = world.rotate(dry_run=True)
    assert plan.outcomes[0].status == "would-start" and plan.exit_code == 1
    assert world.journal_state() is None
    world.rotate(timing=Timing(quiet=0.2, poll=0.02, wait=0.0))
    plan = world.rotate(dry_run=True)
    assert plan.outcomes[0].status == "would-continue"
    assert world.rotate(resume=True, due=False, dry_run=True).exit_code == 1


@pytest.mark.integration
def test_first_key_is_minted_into_an_empty_slot(world: World) -> None:
    world.client.secrets.kv.v2.delete_metadata_and_all_versions(path=SLOT,
                                                               mount_point=world.mount)
    with world.consumer():
        result = world.rotate()
    assert result.outcomes[0].status == "done"
    entry = Journal(world.kv, "prod/_aigw/journal/fake/default", "x").load()
    assert entry is not None and entry.old is not None and entry.old.fingerprint is None
    assert world.keys.valid(world.slot()) and world.keys.valid(world.old)  # not ours: kept
    records = world.audit_ok()
    assert records[-2]["detail"] == {"skipped": "no old key"}


@pytest.mark.integration
def test_abort_before_promotion_only(world: World) -> None:
    class Crash(Exception):
        pass

    def die(p: Progress) -> None:
        if p.to_state == "staged":
            raise Crash

    with pytest.raises(Crash):
        world.rotate(reporter=die)
    assert len(world.keys.keys) == 2
    result = world.rotate(abort=True)
    assert result.outcomes[0].status == "cancelled" and result.exit_code == 0
    assert list(world.keys.keys) == [world.old_id] and world.slot() == world.old
    assert world.journal_state() == "aborted"
    world.rotate(timing=Timing(quiet=0.2, poll=0.02, wait=0.0))  # a new one, to promoted
    late = world.rotate(abort=True)
    assert late.outcomes[0].status == "failed" and "cannot abort at promoted" in \
        late.outcomes[0].message
    assert world.journal_state() == "promoted"
