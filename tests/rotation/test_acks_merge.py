"""What an acknowledgement entry says when a service runs several replicas (no server needed).

The runtime merges its own report into the service's entry (aigw.client.ackdoc.merge);
rotation and `aigw status` read the live instances (live_instances). A replica still
on the old key must keep the service unacknowledged; a replica that died must age out
instead of blocking rotations for ever.
"""

from __future__ import annotations

from aigw.client.ackdoc import REFRESH, STALE, live_instances, merge
from aigw.rotation.evidence import view_acks


def test_one_replica_on_the_old_key_keeps_the_service_unacknowledged() -> None:
    doc = merge(None, "a:1", "new", "r1", now=100.0)
    assert doc["fingerprint"] == "new" and doc["revision"] == "r1"
    doc = merge(doc, "b:2", "old", "r1", now=101.0)
    assert doc["fingerprint"] == "" and set(doc["instances"]) == {"a:1", "b:2"}
    view = view_acks({"web": doc}, old_fp="old", new_fp="new", promoted=100.5, now=102.0)
    assert view.moved == () and "web" in view.on_old and "web" in view.veto
    assert "instance b:2" in view.blocking()
    doc = merge(doc, "b:2", "new", "r2", now=103.0)  # it moved (and runs a newer config)
    assert doc["fingerprint"] == "new" and doc["revision"] == ""
    view = view_acks({"web": doc}, old_fp="old", new_fp="new", promoted=100.5, now=104.0)
    assert view.moved == ("web",) and not view.veto


def test_a_dead_replica_ages_out() -> None:
    doc = merge(None, "dead:1", "old", "r1", now=0.0)
    later = STALE * REFRESH + 1
    assert live_instances(doc, later) == {}
    doc = merge(doc, "live:2", "new", "r1", now=later)
    assert list(doc["instances"]) == ["live:2"] and doc["fingerprint"] == "new"


def test_an_entry_without_instances_still_counts() -> None:
    view = view_acks({"web": {"fingerprint": "new"}, "batch": None}, old_fp="old",
                     new_fp="new", promoted=0.0, now=1.0)
    assert view.moved == ("web",) and view.silent == ("batch",)
    assert view.blocking() == "batch (no acknowledgement of the new key)"


def test_an_old_report_from_before_promotion_blocks_but_does_not_veto() -> None:
    doc = merge(None, "a:1", "old", "r1", now=10.0)
    view = view_acks({"web": doc}, old_fp="old", new_fp="new", promoted=20.0, now=30.0)
    assert "web" in view.on_old and not view.veto


def test_loaded_is_evidence_only_for_a_slot_never_called() -> None:
    """Acknowledgements v2: an instance that never called the slot moved when it loaded
    the new key; one that called it must have used the new key."""
    fallback = merge(None, "a:1", "", "r1", now=10.0, loaded="new")
    assert fallback["used"] == fallback["fingerprint"] == "" and fallback["loaded"] == "new"
    assert fallback["format"] == 2 and fallback["counters"] == {}
    view = view_acks({"batch": fallback}, old_fp="old", new_fp="new", promoted=5.0, now=11.0)
    assert view.moved == ("batch",)
    # it called the slot with the old key, then loaded the new one: not yet moved, no veto
    called = merge(None, "a:1", "old", "r1", now=10.0, loaded="new")
    view = view_acks({"batch": called}, old_fp="old", new_fp="new", promoted=5.0, now=11.0)
    assert view.moved == () and view.silent == ("batch",) and not view.veto
    # never called, still holding the old key after promotion: on the old key, a veto
    stale = merge(None, "a:1", "", "r1", now=10.0, loaded="old")
    view = view_acks({"batch": stale}, old_fp="old", new_fp="new", promoted=5.0, now=11.0)
    assert "batch" in view.on_old and "batch" in view.veto
    # a second replica that loaded nothing new keeps the service unacknowledged
    both = merge(fallback, "b:2", "", "r1", now=10.5, loaded="old")
    assert both["loaded"] == ""
    assert view_acks({"batch": both}, old_fp="old", new_fp="new", promoted=5.0,
                     now=11.0).moved == ()


def test_counters_survive_a_merge() -> None:
    doc = merge(None, "a:1", "fp", "r1", now=10.0)
    doc["instances"]["a:1"]["counters"] = {"chat/0": {"ok": 3}}
    doc = merge(doc, "a:1", "fp", "r1", now=11.0)
    assert doc["instances"]["a:1"]["counters"] == {"chat/0": {"ok": 3}}
