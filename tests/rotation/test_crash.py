"""kill -9 at every state boundary of a rotation, then rerun: it always ends clean.

Each case runs `aigw rotate-keys` as a separate process (forked from the
pre-imported zygote) with AIGW_TEST_CRASH_AT=<point>: the process SIGKILLs
itself right there (no cleanup, lock left held). A second process then reruns
the command. Every case must end with exactly one new live key in the slot, the
old key revoked, no orphaned provider key, a done journal, a released lock, an
intact audit trail with no transition logged twice, and no failed consumer call.

Providers: the OpenAI stand-in (testing/openai_admin.py) for all
points, and moto (ThreadedMotoServer on a free 127.0.0.1 port) for aws-iam at
the points where AWS behaves differently (two-key limit, disable step).
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

from aigw.rotation.audit import AuditLog
from aigw.rotation.journal import STATES, Journal
from aigw.rotation.kv import KV
from aigw.rotation.lock import SlotLock
from aigw.rotation.slots import fingerprint
from tests.rotation.conftest import (
    PROJECT,
    Consumer,
    child_env,
    openai_provider,
    read_slot,
    seed,
    write_catalog,
)

CRASH_POINTS = ["locked"] + [f"{s}{suffix}" for s in STATES
                             for suffix in (":effect", ":audit", "")]
ABORT_POINTS = ["aborting:effect", "aborting:audit", "aborting", "aborted:effect",
                "aborted:audit"]
AWS_POINTS = ["minted:effect", "minted", "promoted:effect", "old_disabled:effect",
              "old_revoked:audit"]


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
    assert holder is not None and holder.stale(time.time()) in ("released", "holder died")
    report = AuditLog(kv, "prod/_aigw").verify()
    assert report.ok, report.problems
    ids = [r["event_id"] for r in report.records]
    assert len(ids) == len(set(ids)), "a transition was logged twice"
    final = [r for r in report.records if r["run_id"] == entry.run_id]
    assert final[-1]["to_state"] == "done"
    assert sum(r["to_state"] == "promoted" for r in final) == 1


def crash_then_rerun(zygote: Any, argv: list[str], env: dict[str, str], point: str,
                     client: hvac.Client, mount: str, journal: str) -> list[str]:
    """Run with the crash point (must die by SIGKILL), then rerun; returns all output."""
    crashed = zygote.run(argv, {**env, "AIGW_TEST_CRASH_AT": point}, timeout=60)
    assert crashed.signal == signal.SIGKILL, (crashed.code, crashed.err)
    started = Journal(KV(client, mount), journal, "x").load() is not None
    rerun = zygote.run(argv + (["--resume"] if started else []), env, timeout=60)
    assert rerun.code == 0, rerun.err
    return [crashed.out, crashed.err, rerun.out, rerun.err]


@pytest.mark.integration
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_openai_admin_crash_at(point: str, zygote: Any, bao: BaoDevServer, kv_mount: str,
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
        outputs = crash_then_rerun(zygote, argv, env, point, client, kv_mount,
                                   "prod/_aigw/journal/openai/default")
    new = (read_slot(client, kv_mount, slot) or {})["api_key"]
    live = admin_server.live_keys(PROJECT)
    assert [k.value for k in live] == [new] and new != old  # one new live key
    assert not admin_server.valid(old)                     # the old one revoked
    assert list(admin_server.accounts) == [live[0].account_id]  # no orphaned account
    check_bookkeeping(client, kv_mount, "openai", new, str(live[0].account_id), old_acct)
    assert consumer.failures == 0 and consumer.calls > 0
    for text in outputs:
        assert old not in text and new not in text


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
    provider = {"api": "bedrock", "region": "eu", "rotation": {
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

    env = child_env(bao.addr, bao.token, tmp_path, AWS_ACCESS_KEY_ID="testing",
                    AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    argv = ["rotate-keys", str(folder), "--env", "prod", "--yes", "--wait", "20s"]
    with Consumer(client, kv_mount, slot, use, interval=0.05) as consumer:
        outputs = crash_then_rerun(zygote, argv, env, point, client, kv_mount,
                                   "prod/_aigw/journal/bedrock/default")
    new = read_slot(client, kv_mount, slot) or {}
    keys = iam.list_access_keys(UserName="bedrock-app")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(new["aws_access_key_id"],
                                                                 "Active")]
    assert new["aws_access_key_id"] != old["aws_access_key_id"]
    check_bookkeeping(client, kv_mount, "bedrock", new["aws_secret_access_key"],
                      new["aws_access_key_id"], old["aws_access_key_id"])
    assert consumer.failures == 0
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
    crashed = zygote.run(argv, {**env, "AIGW_TEST_CRASH_AT": point}, timeout=60)
    assert crashed.signal == signal.SIGKILL, (crashed.code, crashed.err)
    rerun = zygote.run(argv + ["--resume"], env, timeout=60)
    assert rerun.code == 3 and "verification failed" in rerun.err
    assert read_slot(client, kv_mount, slot) == {"api_key": old}
    assert list(admin_server.accounts) == [old_acct] and admin_server.valid(old)
    kv = KV(client, kv_mount)
    entry = Journal(kv, "prod/_aigw/journal/openai/default", "x").load()
    assert entry is not None and entry.state == "aborted"
    assert kv.read("prod/_aigw/staged/openai/default") is None
    report = AuditLog(kv, "prod/_aigw").verify()
    assert report.ok, report.problems
    ids = [r["event_id"] for r in report.records]
    assert len(ids) == len(set(ids))


def test_crash_points_cover_every_state() -> None:
    assert len(CRASH_POINTS) == 1 + 3 * len(STATES) == 28
    assert len(set(CRASH_POINTS + ABORT_POINTS + AWS_POINTS)) == 33
