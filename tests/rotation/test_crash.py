"""kill -9 at every state boundary of a rotation, then rerun: it always ends clean.

Each case runs `aigw rotate-keys` as a separate process (forked from the
pre-imported zygote) with AIGW_TEST_CRASH_AT=<point>: the process SIGKILLs
itself right there (no cleanup, lock left held). Right after the kill the
journal must stand where that point says (the previous state for `X:effect`
and `X:audit`, `X` for `X`) and the lock must name the dead process. A second
process then reruns the command; a few cases kill that resume too (double
crashes). Every case must end with exactly one new live key in the slot, the
old key revoked, no orphaned provider key, a done journal, a released lock, an
intact audit trail with no transition logged twice, and a consumer that made
calls and saw none fail (an exception counts as a failure).

Providers: the OpenAI stand-in (testing/openai_admin.py) for all
points, moto (ThreadedMotoServer on a free 127.0.0.1 port, signature checking
on: see conftest.moto_url) for aws-iam at the points where AWS behaves
differently (two-key limit, disable step), and the manual driver at the two
states that take another's place (`verify_skipped`, `old_left_to_operator`).
The anthropic-admin driver runs the same points in test_crash_anthropic.py.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import boto3
import hvac
import pytest
from testing.bao import BaoDevServer
from testing.openai_admin import OpenAIAdminServer

import aigw.rotation.machine as machine
from aigw.client.keys import fingerprint
from aigw.rotation.progress import Timing
from aigw.slots.audit import AuditLog
from aigw.slots.journal import STATES, Journal
from aigw.slots.kv import KV
from aigw.slots.lock import SlotLock
from tests.rotation.conftest import (
    PROJECT,
    Consumer,
    aws_env,
    child_env,
    openai_provider,
    read_slot,
    seed,
    write_catalog,
)
from tests.rotation.test_machine import World

CRASH_POINTS = ["locked"] + [f"{s}{suffix}" for s in STATES
                             for suffix in (":effect", ":audit", "")]
ABORT_POINTS = ["aborting:effect", "aborting:audit", "aborting", "aborted:effect",
                "aborted:audit"]
AWS_POINTS = ["minted:effect", "minted", "promoted:effect", "old_disabled:effect",
              "old_revoked:audit"]
# (first kill, kill during the resume): the resume repeats the interrupted step and dies again.
DOUBLE_CRASHES = [("minted:effect", "minted:effect"), ("promoted:audit", "promoted:audit"),
                  ("verified", "locked"), ("staged:effect", "old_disabled:effect"),
                  ("old_revoked:effect", "old_revoked:audit")]
# The state before each state, on the path the crash cases take.
PREVIOUS: dict[str, str | None] = {s: p for p, s in zip((None, *STATES), STATES, strict=False)}
PREVIOUS.update(aborting="staged", aborted="aborting", verify_skipped="staged",
                old_left_to_operator="old_disabled")


def expected_after_kill(point: str, before: str | None) -> str | None:
    """The journal state a kill at POINT leaves, for a run that found it at BEFORE."""
    if point == "locked":
        return before
    state, _, stage = point.partition(":")
    return PREVIOUS[state] if stage else state


def kill_at(zygote: Any, argv: list[str], env: dict[str, str], point: str, kv: KV,
            journal: str, lock: str, *, stdin: str = "") -> list[str]:
    """Run with AIGW_TEST_CRASH_AT=POINT: it must die by SIGKILL and leave exactly that state."""
    entry = Journal(kv, journal, "x").load()
    before = entry.state if entry else None
    crashed = zygote.run(argv, {**env, "AIGW_TEST_CRASH_AT": point}, timeout=60, stdin=stdin)
    assert crashed.signal == signal.SIGKILL, (crashed.code, crashed.err)
    entry = Journal(kv, journal, "x").load()
    assert (entry.state if entry else None) == expected_after_kill(point, before), point
    holder = SlotLock(kv, lock, "x", "", ttl=0).holder()
    assert holder is not None and not holder.released  # the dead run still holds it...
    assert holder.stale(time.time()) == "holder died"   # ...and is seen to be dead
    return [crashed.out, crashed.err]


def check_bookkeeping(client: hvac.Client, mount: str, provider: str, slot_value: str,
                      new_key_id: str, old_key_id: str) -> None:
    """Journal done and consistent with the slot, staged copy gone, lock released, audit ok."""
    kv = KV(client, mount)
    entry = Journal(kv, f"prod/_aigw/journal/{provider}/default", "x").load()
    assert entry is not None and entry.state == "done"
    assert entry.new is not None and entry.new.fingerprint == fingerprint(slot_value)
    assert entry.new.key_id == new_key_id
    assert entry.old is not None and entry.old.key_id == old_key_id
    assert kv.read(f"prod/_aigw/staged/{provider}/default") is None
    holder = SlotLock(kv, f"prod/_aigw/locks/{provider}/default", "x", "", ttl=0).holder()
    assert holder is not None and holder.released  # released by the run that finished
    report = AuditLog(kv, "prod/_aigw").verify()
    assert report.ok, report.problems
    ids = [r["event_id"] for r in report.records]
    assert len(ids) == len(set(ids)), "a transition was logged twice"
    final = [r for r in report.records if r["run_id"] == entry.run_id]
    assert final[-1]["to_state"] == "done"
    assert sum(r["to_state"] == "promoted" for r in final) == 1


def crash_then_rerun(zygote: Any, argv: list[str], env: dict[str, str], points: list[str],
                     client: hvac.Client, mount: str, journal: str) -> list[str]:
    """Kill a run at POINTS[0], each resume at the next point, then rerun; returns all output.

    The rerun resumes (`--resume`) once a journal exists; before that it starts over.
    """
    kv = KV(client, mount)
    lock = journal.replace("/journal/", "/locks/")
    outputs = []
    for n, point in enumerate(points):
        started = n > 0 and Journal(kv, journal, "x").load() is not None
        outputs += kill_at(zygote, argv + (["--resume"] if started else []), env, point, kv,
                           journal, lock)
    started = Journal(kv, journal, "x").load() is not None
    rerun = zygote.run(argv + (["--resume"] if started else []), env, timeout=60)
    assert rerun.code == 0, rerun.err
    outputs += [rerun.out, rerun.err]
    return outputs


def _openai_case(points: list[str], zygote: Any, bao: BaoDevServer, kv_mount: str,
                 admin_server: OpenAIAdminServer, tmp_path: Path) -> None:
    client = bao.client()
    folder = write_catalog(tmp_path / "cat", kv_mount, {"openai": openai_provider(
        admin_server.url)})
    old_acct, old = admin_server.create_account(PROJECT, "legacy-app-key")
    slot = "prod/providers/openai/default"
    seed(client, kv_mount, slot, {"api_key": old})
    argv = ["rotate-keys", str(folder), "--env", "prod", "--yes", "--wait", "20s"]
    env = child_env(bao.addr, bao.token, tmp_path)
    consumer = Consumer(client, kv_mount, slot,
                        lambda d: admin_server.use(d["api_key"]) == 200)
    with consumer:
        outputs = crash_then_rerun(zygote, argv, env, points, client, kv_mount,
                                   "prod/_aigw/journal/openai/default")
    new = (read_slot(client, kv_mount, slot) or {})["api_key"]
    live = admin_server.live_keys(PROJECT)
    assert [k.value for k in live] == [new] and new != old  # one new live key
    assert not admin_server.valid(old)                     # the old one revoked
    assert list(admin_server.accounts) == [live[0].account_id]  # no orphaned account
    check_bookkeeping(client, kv_mount, "openai", new, str(live[0].account_id), old_acct)
    consumer.assert_clean()
    for text in outputs:
        assert old not in text and new not in text


@pytest.mark.integration
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_openai_admin_crash_at(point: str, zygote: Any, bao: BaoDevServer, kv_mount: str,
                               admin_server: OpenAIAdminServer, tmp_path: Path) -> None:
    _openai_case([point], zygote, bao, kv_mount, admin_server, tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("points", DOUBLE_CRASHES, ids="+".join)
def test_openai_admin_crash_during_resume(points: tuple[str, str], zygote: Any,
                                          bao: BaoDevServer, kv_mount: str,
                                          admin_server: OpenAIAdminServer,
                                          tmp_path: Path) -> None:
    _openai_case(list(points), zygote, bao, kv_mount, admin_server, tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("point", AWS_POINTS)
def test_aws_iam_crash_at(point: str, zygote: Any, bao: BaoDevServer, kv_mount: str,
                          moto_url: str, tmp_path: Path) -> None:
    client = bao.client()
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
    iam.create_user(UserName="bedrock-app")
    first = iam.create_access_key(UserName="bedrock-app")["AccessKey"]
    old = {"aws_access_key_id": first["AccessKeyId"],
           "aws_secret_access_key": first["SecretAccessKey"]}
    provider = {"api": "bedrock", "region": "eu", "extra": {"aws_region_name": "eu-central-1"},
                "rotation": {
        "driver": "aws-iam", "grace": "1s", "params": {
            "user_name": "bedrock-app", "endpoint_url": moto_url, "verify_attempts": 2,
            "verify_delay": 0.05}}}
    folder = write_catalog(tmp_path / "cat", kv_mount, {"bedrock": provider})
    slot = "prod/providers/bedrock/default"
    seed(client, kv_mount, slot, old)

    def use(d: dict[str, str]) -> bool:
        sts = boto3.client("sts", endpoint_url=moto_url, region_name="us-east-1",
                           aws_access_key_id=d["aws_access_key_id"],
                           aws_secret_access_key=d["aws_secret_access_key"])
        keys = iam.list_access_keys(UserName="bedrock-app")["AccessKeyMetadata"]
        active = any(k["AccessKeyId"] == d["aws_access_key_id"] and k["Status"] == "Active"
                     for k in keys)
        sts.get_caller_identity()
        return active

    env = child_env(bao.addr, bao.token, tmp_path, **aws_env())
    argv = ["rotate-keys", str(folder), "--env", "prod", "--yes", "--wait", "20s"]
    with Consumer(client, kv_mount, slot, use, interval=0.05) as consumer:
        outputs = crash_then_rerun(zygote, argv, env, [point], client, kv_mount,
                                   "prod/_aigw/journal/bedrock/default")
    new = read_slot(client, kv_mount, slot) or {}
    keys = iam.list_access_keys(UserName="bedrock-app")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(new["aws_access_key_id"],
                                                                 "Active")]
    assert new["aws_access_key_id"] != old["aws_access_key_id"]
    check_bookkeeping(client, kv_mount, "bedrock", new["aws_secret_access_key"],
                      new["aws_access_key_id"], old["aws_access_key_id"])
    consumer.assert_clean()
    for text in outputs:
        assert old["aws_secret_access_key"] not in text
        assert new["aws_secret_access_key"] not in text


@pytest.mark.integration
@pytest.mark.parametrize("point", ABORT_POINTS)
def test_abort_path_crash_at(point: str, zygote: Any, bao: BaoDevServer, kv_mount: str,
                             admin_server: OpenAIAdminServer, tmp_path: Path) -> None:
    """A new key that fails verification is revoked even if the run dies while aborting."""
    client = bao.client()
    folder = write_catalog(tmp_path / "cat", kv_mount, {"openai": openai_provider(
        admin_server.url)})
    old_acct, old = admin_server.create_account(PROJECT, "legacy-app-key")
    slot = "prod/providers/openai/default"
    seed(client, kv_mount, slot, {"api_key": old})
    admin_server.reject_models = True
    argv = ["rotate-keys", str(folder), "--env", "prod", "--yes"]
    env = child_env(bao.addr, bao.token, tmp_path)
    kv = KV(client, kv_mount)
    kill_at(zygote, argv, env, point, kv, "prod/_aigw/journal/openai/default",
            "prod/_aigw/locks/openai/default")
    rerun = zygote.run(argv + ["--resume"], env, timeout=60)
    assert rerun.code == 3 and "verification failed" in rerun.err
    assert read_slot(client, kv_mount, slot) == {"api_key": old}
    assert list(admin_server.accounts) == [old_acct] and admin_server.valid(old)
    lock = SlotLock(kv, "prod/_aigw/locks/openai/default", "x", "", ttl=0).holder()
    assert lock is not None and lock.released
    entry = Journal(kv, "prod/_aigw/journal/openai/default", "x").load()
    assert entry is not None and entry.state == "aborted"
    assert kv.read("prod/_aigw/staged/openai/default") is None
    report = AuditLog(kv, "prod/_aigw").verify()
    assert report.ok, report.problems
    ids = [r["event_id"] for r in report.records]
    assert len(ids) == len(set(ids))


@pytest.mark.integration
@pytest.mark.parametrize("point", ["verify_skipped", "old_left_to_operator:audit"])
def test_manual_crash_at(point: str, zygote: Any, bao: BaoDevServer, kv_mount: str,
                         tmp_path: Path) -> None:
    """The manual driver's own states resume too; the operator's key comes on stdin."""
    client = bao.client()
    provider = {"api": "openai", "base_url": "http://127.0.0.1:9", "region": "us",
                "rotation": {"driver": "manual", "grace": "1s"}}
    folder = write_catalog(tmp_path / "cat", kv_mount, {"manual": provider})
    slot = "prod/providers/manual/default"
    journal, lock = "prod/_aigw/journal/manual/default", "prod/_aigw/locks/manual/default"
    seed(client, kv_mount, slot, {"api_key": "old-" + "o" * 20})
    new = "new-" + "n" * 20
    kv = KV(client, kv_mount)
    argv = ["rotate-keys", str(folder), "--env", "prod", "--yes"]
    env = child_env(bao.addr, bao.token, tmp_path)
    if point == "verify_skipped":
        kill_at(zygote, argv, env, point, kv, journal, lock, stdin=new + "\n")
        assert zygote.run(argv + ["--resume"], env).code == 0  # promoted, waiting
    else:
        assert zygote.run(argv, env, stdin=new + "\n").code == 0
    time.sleep(1.1)  # the grace period (1s) is over: --finish may decide
    if point != "verify_skipped":
        kill_at(zygote, argv + ["--finish"], env, point, kv, journal, lock)
    done = zygote.run(argv + ["--finish"], env)
    assert done.code == 0, done.err
    assert "revoke the old key by hand now" in done.out
    entry = Journal(kv, journal, "x").load()
    assert entry is not None and entry.state == "done"
    assert read_slot(client, kv_mount, slot) == {"api_key": new}
    states = [r["to_state"] for r in AuditLog(kv, "prod/_aigw").verify().records]
    assert states.count("verify_skipped") == 1 and "verified" not in states
    assert states.count("old_left_to_operator") == 1 and "old_revoked" not in states
    holder = SlotLock(kv, lock, "x", "", ttl=0).holder()
    assert holder is not None and holder.released


def _points_passed(world: World, monkeypatch: pytest.MonkeyPatch, **options: Any) -> list[str]:
    """The crash points a real in-process rotation passes, in order."""
    passed: list[str] = []
    monkeypatch.setattr(machine, "crash_point", passed.append)
    world.rotate(timing=Timing(quiet=0.1, poll=0.02, wait=5.0), **options)
    return passed


@pytest.mark.integration
def test_crash_points_cover_every_step(tmp_path: Path, bao: BaoDevServer, kv_mount: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Every point a rotation passes is one the tests above kill at (none untested)."""
    w = World(tmp_path, bao.client(), kv_mount)
    with w.consumer():
        assert _points_passed(w, monkeypatch) == CRASH_POINTS
    w.keys.fail_verify = True  # the next rotation of the slot takes the abort path
    aborted = _points_passed(w, monkeypatch)
    assert aborted == CRASH_POINTS[:CRASH_POINTS.index("staged") + 1] + ABORT_POINTS + [
        "aborted"]  # the last one: the run has nothing left to do
