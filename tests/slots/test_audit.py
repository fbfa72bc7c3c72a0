"""The audit trail: append-only, hash-chained, and every kind of tampering detected."""

from __future__ import annotations

import threading

import pytest
from testing.bao import BaoDevServer

from aigw.slots.audit import GENESIS, AuditLog, digest
from aigw.slots.kv import KV

BASE = "prod/_aigw"


def _log(bao: BaoDevServer, mount: str) -> AuditLog:
    return AuditLog(KV(bao.client(), mount), BASE)


def _event(n: int) -> dict[str, object]:
    return {"action": "test", "slot": "p/default", "event_id": f"e{n}", "to_state": "done"}


@pytest.mark.integration
def test_chain_links_and_verifies(bao: BaoDevServer, kv_mount: str) -> None:
    log = _log(bao, kv_mount)
    assert [log.append(_event(i)) for i in range(4)] == [1, 2, 3, 4]
    report = log.verify()
    assert report.ok and [r["seq"] for r in report.records] == [1, 2, 3, 4]
    assert report.records[0]["prev"] == GENESIS
    for a, b in zip(report.records, report.records[1:], strict=False):
        assert b["prev"] == a["hash"] == digest(a)


@pytest.mark.integration
def test_retry_of_one_event_is_not_logged_twice(bao: BaoDevServer, kv_mount: str) -> None:
    log = _log(bao, kv_mount)
    first = log.append(_event(1))
    second = log.append(_event(2), after=first)
    log.append(_event(3))  # another slot's record in between
    assert log.append(_event(2), after=first) == second
    assert len(log.verify().records) == 3


@pytest.mark.integration
def test_concurrent_appends_get_distinct_numbers(bao: BaoDevServer, kv_mount: str) -> None:
    seqs: list[int] = []

    def writer(w: int) -> None:
        log = _log(bao, kv_mount)  # one hvac client per thread
        for i in range(5):
            seqs.append(log.append(_event(w * 100 + i)))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 31))
    assert _log(bao, kv_mount).verify().ok


@pytest.mark.integration
def test_gap_edit_and_cut_are_detected(bao: BaoDevServer, kv_mount: str) -> None:
    client = bao.client()
    kv2 = client.secrets.kv.v2
    log = _log(bao, kv_mount)
    for i in range(5):
        log.append(_event(i))

    # an edit, even with the record's own hash recomputed
    rec = kv2.read_secret_version(path=f"{BASE}/audit/000000000002", mount_point=kv_mount,
                                  raise_on_deleted_version=True)["data"]["data"]
    rec["who"] = "mallory"
    rec["hash"] = digest(rec)
    kv2.create_or_update_secret(path=f"{BASE}/audit/000000000002", secret=rec, cas=1,
                                mount_point=kv_mount)
    problems = log.verify().problems
    assert "record 2 was rewritten (KV version 2)" in problems
    assert "record 3 does not link to record 2" in problems

    # a gap
    kv2.delete_metadata_and_all_versions(path=f"{BASE}/audit/000000000004",
                                         mount_point=kv_mount)
    assert any("record(s) 4 missing" in p for p in log.verify().problems)

    # a cut tail
    kv2.delete_metadata_and_all_versions(path=f"{BASE}/audit/000000000005",
                                         mount_point=kv_mount)
    assert any("after 3 are missing (the head names 5)" in p for p in log.verify().problems)
