"""What is known about a slot without touching it: versions, age, due date, rotation, lock.

Used by `aigw keys list/status` and by `rotate-keys --due/--dry-run`. Reads the
slot's value only to fingerprint it; the value itself goes nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aigw.slots.audit import iso
from aigw.slots.journal import Journal, JournalEntry
from aigw.slots.kv import KV, parse_time
from aigw.slots.lock import Holder, SlotLock
from aigw.slots.targets import SlotTarget, secret_fingerprint


@dataclass
class SlotStatus:
    """One slot's key and rotation state."""

    target: SlotTarget
    version: int = 0
    created_at: float | None = None
    fingerprint: str | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    journal: JournalEntry | None = None
    lock: Holder | None = None

    @property
    def has_key(self) -> bool:
        """True when the slot holds a value."""
        return self.fingerprint is not None

    @property
    def due_at(self) -> float | None:
        """When the current key reaches the provider's `max_age`."""
        if self.created_at is None:
            return None
        return self.created_at + self.target.rotation.max_age

    def is_due(self, now: float) -> bool:
        """True when the key is at least `max_age` old."""
        due = self.due_at
        return due is not None and now >= due

    @property
    def rotating(self) -> bool:
        """True while a rotation is in progress (journal not done/aborted)."""
        return self.journal is not None and self.journal.in_progress

    def lock_holder(self, now: float) -> Holder | None:
        """The live holder of the lock, if any."""
        if self.lock is None or self.lock.stale(now):
            return None
        return self.lock

    def as_dict(self, now: float) -> dict[str, Any]:
        """JSON-ready (fingerprints, ids and times; never a value)."""
        t = self.target
        j = self.journal
        rotation = None
        if j is not None and j.op != "deleted":
            rotation = {"state": j.state, "run_id": j.run_id, "op": j.op, "by": j.by,
                        "started_at": iso(j.started_at), "updated_at": iso(j.updated_at),
                        "promoted_at": iso(j.promoted_at) if j.promoted_at else None,
                        "grace_until": iso(j.grace_until) if j.grace_until else None,
                        "key_id": j.new.key_id if j.new else None, "note": j.note,
                        "verification": j.verification, "revocation": j.revocation,
                        "grace_override": j.grace_override}
        holder = self.lock_holder(now)
        return {
            "env": t.env_name, "provider": t.ref.provider, "slot": t.ref.slot,
            "path": f"{t.mount}/{t.secret_path}", "driver": t.rotation.driver,
            "has_key": self.has_key, "version": self.version or None,
            "fingerprint": self.fingerprint,
            "created_at": iso(self.created_at) if self.created_at else None,
            "age_seconds": int(now - self.created_at) if self.created_at else None,
            "max_age_seconds": t.rotation.max_age,
            "due_at": iso(self.due_at) if self.due_at else None, "due": self.is_due(now),
            "versions": self.versions, "rotation": rotation,
            "rotating": self.rotating,
            "lock": holder.describe() if holder else None,
            "consumers": list(t.consumers),
        }


def read_status(kv: KV, target: SlotTarget) -> SlotStatus:
    """Gather a slot's status from OpenBao."""
    st = SlotStatus(target)
    meta = kv.metadata(target.secret_path)
    if meta is not None:
        st.version = int(meta.get("current_version") or 0)
        for v, info in sorted((meta.get("versions") or {}).items(), key=lambda x: int(x[0])):
            st.versions.append({"version": int(v), "created_at": info.get("created_time"),
                                "deleted": bool(info.get("deletion_time")),
                                "destroyed": bool(info.get("destroyed"))})
    if st.version:
        entry = kv.read(target.secret_path)
        if entry is not None and entry.data:
            st.fingerprint = secret_fingerprint(entry.data)
            st.created_at = entry.created
        elif meta is not None:
            info = (meta.get("versions") or {}).get(str(st.version)) or {}
            st.created_at = parse_time(info.get("created_time"))
    st.journal = Journal(kv, target.journal_path, target.id).load()
    st.lock = SlotLock(kv, target.lock_path, target.id, "", ttl=0).holder()
    return st
