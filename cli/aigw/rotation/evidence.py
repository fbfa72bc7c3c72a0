"""Has every consumer moved to the new key? The decision that gates revoking the old one.

Three kinds of evidence, strongest first:

1. provider last-used times (drivers with `reports_last_used`): the new key was
   used after promotion, and the old key has not been used for a quiet period
   (at least the environment's `agent_refresh`) since the later of its last use
   and the promotion. A recent use of the old key is a veto: nothing, not even
   `--finish`, revokes a key that a consumer still uses.
2. consumer acknowledgements: every service using the slot wrote
   `<prefix>/_aigw/acks/<provider>/<slot>/<service>` = `{"fingerprint": <new>}`
   (e.g. from an agent's post-render command; the stack must grant that write).
3. the grace period (never shorter than `agent_refresh`) has passed AND the
   operator asked to finish (`--finish`): aigw does not revoke on time alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aigw.rotation.drivers.base import Driver
from aigw.rotation.journal import JournalEntry
from aigw.rotation.kv import KV


@dataclass(frozen=True)
class Evidence:
    """The verdict: propagated or not, why, and the facts behind it (JSON-able)."""

    propagated: bool
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    veto: bool = False


def read_acks(kv: KV, acks_path: str, consumers: Sequence[str]) -> dict[str, str | None]:
    """The fingerprint each consumer acknowledged (None when it did not)."""
    out: dict[str, str | None] = {}
    for service in consumers:
        entry = kv.read(f"{acks_path}/{service}", metadata_fallback=False)
        data = entry.data if entry is not None else None
        out[service] = str(data.get("fingerprint")) if data and data.get("fingerprint") else None
    return out


def assess(entry: JournalEntry, driver: Driver, *, now: float, quiet: float,
           acks: dict[str, str | None], finish: bool, grace: float) -> Evidence:
    """Decide whether the rotation in ENTRY (state promoted) may revoke the old key."""
    promoted = entry.promoted_at or now
    new_fp = entry.new.fingerprint if entry.new else None
    facts: dict[str, Any] = {"promoted_at": promoted, "quiet": quiet}
    old_id = entry.old.key_id if entry.old else None
    new_id = entry.new.key_id if entry.new else None
    new_used = old_used = None
    if driver.reports_last_used and new_id:
        new_used = driver.last_used(new_id)
        old_used = driver.last_used(old_id) if old_id else None
        facts.update(new_last_used=new_used, old_last_used=old_used)
        quiet_since = max(old_used or 0.0, promoted)
        if old_used is not None and old_used > promoted and now - old_used < quiet:
            return Evidence(False, f"old key used {now - old_used:.1f}s ago: a consumer has "
                            "not moved yet", facts, veto=True)
        if new_used is not None and new_used > promoted and now - quiet_since >= quiet:
            return Evidence(True, "provider last-used: new key in use, old key quiet for "
                            f"{now - quiet_since:.1f}s", facts)
    if acks:
        facts["acks"] = {svc: fp == new_fp for svc, fp in acks.items()}
        if new_fp and all(fp == new_fp for fp in acks.values()) and now - promoted >= quiet:
            return Evidence(True, f"all {len(acks)} consumer(s) acknowledged the new key", facts)
    grace_until = promoted + grace
    facts["grace_until"] = grace_until
    if now >= grace_until:
        if finish:
            return Evidence(True, "grace period over, finished by the operator (--finish)", facts)
        return Evidence(False, "grace period over without evidence: confirm with --finish",
                        facts)
    waiting = []
    if driver.reports_last_used and new_id:
        waiting.append("new key not used since promotion" if not new_used or new_used <= promoted
                       else "old key not quiet long enough")
    if acks:
        waiting.append(f"{sum(fp != new_fp for fp in acks.values())} consumer(s) not acknowledged")
    waiting.append(f"grace ends in {grace_until - now:.0f}s")
    return Evidence(False, "; ".join(waiting), facts)
