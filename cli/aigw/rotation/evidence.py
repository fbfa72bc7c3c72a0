"""Has every consumer moved to the new key? The decision that gates revoking the old one.

Three kinds of evidence, strongest first:

1. provider last-used times (drivers with `reports_last_used`): the new key was
   used after promotion, and the old key has not been used for a quiet period
   (at least the environment's `agent_refresh`) since the later of its last use
   and the promotion. A recent use of the old key is a veto: nothing, not even
   `--finish`, revokes a key that a consumer still uses.
2. consumer acknowledgements: every service using the slot reported the new key
   at `<prefix>/_aigw/acks/<provider>/<slot>/<service>` (the aigw runtime writes
   it with the service's own token: aigw.client.acks; every live instance of the
   service must agree). An instance moved when it *used* the new key in a
   successful call, or, for a slot it has never called (a fallback), when it
   *loaded* the new key (spec/README.md#acknowledgements-v2). A service whose
   latest report, made after promotion, still holds the old key (used it, and has
   not loaded the new one; or never called the slot and has the old one loaded) is
   on the old key: a veto, like a recent provider last-use. A service that did not
   acknowledge blocks, and is named.
3. the grace period (never shorter than `agent_refresh`) has passed AND the
   operator asked to finish (`--finish`): aigw does not revoke on time alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aigw.client.ackdoc import acknowledges, holds, live_instances
from aigw.rotation.drivers.base import Driver
from aigw.slots.journal import JournalEntry
from aigw.slots.kv import KV


@dataclass(frozen=True)
class Evidence:
    """The verdict: propagated or not, why, and the facts behind it (JSON-able)."""

    propagated: bool
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    veto: bool = False


def read_ack_entries(kv: KV, acks_path: str,
                     consumers: Sequence[str]) -> dict[str, dict[str, Any] | None]:
    """Each consumer's acknowledgement entry as written (None when it wrote none)."""
    out: dict[str, dict[str, Any] | None] = {}
    for service in consumers:
        entry = kv.read(f"{acks_path}/{service}", metadata_fallback=False)
        out[service] = dict(entry.data) if entry is not None and entry.data else None
    return out


@dataclass(frozen=True)
class AckView:
    """What the acknowledgements say about one rotation: who moved, who did not."""

    moved: tuple[str, ...]
    on_old: dict[str, str]      # service -> why (which instance, how long ago)
    silent: tuple[str, ...]     # no acknowledgement of the new key (none, or another key)
    veto: dict[str, str]        # on the old key in a report made after promotion

    def blocking(self) -> str:
        """`support-bot (on the old key: ...), batch (no acknowledgement)`."""
        parts = [f"{svc} (on the old key{': ' + why if why else ''})"
                 for svc, why in sorted(self.on_old.items())]
        parts += [f"{svc} (no acknowledgement of the new key)" for svc in self.silent]
        return ", ".join(parts)


def view_acks(entries: dict[str, dict[str, Any] | None], *, old_fp: str | None,
              new_fp: str | None, promoted: float, now: float) -> AckView:
    """Sort the consumers by what their live instances report."""
    moved: list[str] = []
    on_old: dict[str, str] = {}
    silent: list[str] = []
    veto: dict[str, str] = {}
    for svc, doc in sorted(entries.items()):
        live = live_instances(doc, now)
        if live and new_fp and all(acknowledges(i, new_fp) for i in live.values()):
            moved.append(svc)
            continue
        olds = [(name, i) for name, i in live.items()
                if old_fp and holds(i, old_fp, new_fp)]
        if not olds:
            silent.append(svc)
            continue
        name, inst = max(olds, key=lambda x: float(x[1].get("at") or 0))
        at = inst.get("at")
        why = ", ".join(p for p in (f"instance {name}" if name else "",
                                    f"reported {now - float(at):.0f}s ago" if at else "") if p)
        on_old[svc] = why
        if at is not None and float(at) > promoted:
            veto[svc] = why
    return AckView(tuple(moved), on_old, tuple(silent), veto)


def assess(entry: JournalEntry, driver: Driver, *, now: float, quiet: float,
           acks: dict[str, dict[str, Any] | None], finish: bool, grace: float) -> Evidence:
    """Decide whether the rotation in ENTRY (state promoted) may revoke the old key.

    ACKS: each consumer's acknowledgement entry (`read_ack_entries`), or {} when no
    consumer of the slot ever acknowledged anything (then they are no evidence).
    """
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
    view = None
    if acks:
        old_fp = entry.old.fingerprint if entry.old else None
        view = view_acks(acks, old_fp=old_fp, new_fp=new_fp, promoted=promoted, now=now)
        facts["acks"] = {svc: svc in view.moved for svc in acks}
        if view.veto:
            facts["blocked_by"] = sorted(view.on_old) + list(view.silent)
            return Evidence(False, "still on the old key after promotion: " + ", ".join(
                f"{svc}{' (' + why + ')' if why else ''}" for svc, why in
                sorted(view.veto.items())), facts, veto=True)
        if len(view.moved) == len(acks) and now - promoted >= quiet:
            return Evidence(True, f"all {len(acks)} consumer(s) acknowledged the new key", facts)
        if len(view.moved) < len(acks):
            facts["blocked_by"] = sorted(view.on_old) + list(view.silent)
    grace_until = promoted + grace
    facts["grace_until"] = grace_until
    if now >= grace_until:
        if finish:
            return Evidence(True, "grace period over, finished by the operator (--finish)", facts)
        if view is not None and len(view.moved) < len(acks):
            return Evidence(False, f"grace period over, waiting for {view.blocking()}: "
                            "confirm with --finish", facts)
        return Evidence(False, "grace period over without evidence: confirm with --finish",
                        facts)
    waiting = []
    if driver.reports_last_used and new_id:
        waiting.append("new key not used since promotion" if not new_used or new_used <= promoted
                       else "old key not quiet long enough")
    if view is not None and len(view.moved) < len(acks):
        waiting.append(f"waiting for {view.blocking()}")
    elif view is not None:
        waiting.append(f"all consumers acknowledged; quiet for {quiet - (now - promoted):.0f}s")
    waiting.append(f"grace ends in {grace_until - now:.0f}s")
    return Evidence(False, "; ".join(waiting), facts)


def heartbeat_line(ev: Evidence, wait_left: float) -> str:
    """The line `rotate-keys --wait` prints every Timing.heartbeat seconds while it waits:
    what it waits for, how many consumers acknowledged, and when --wait gives up."""
    acks = ev.facts.get("acks") or {}
    parts = [ev.reason]
    if acks:
        parts.append(f"{sum(1 for moved in acks.values() if moved)} of {len(acks)} "
                     "consumers acknowledged")
    minutes, seconds = divmod(max(0, round(wait_left)), 60)
    parts.append(f"--wait gives up in {minutes}m{seconds:02d}s" if minutes
                 else f"--wait gives up in {seconds}s")
    return "waiting: " + "; ".join(parts)
