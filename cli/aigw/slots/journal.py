"""The per-slot rotation journal: where a rotation is, written with check-and-set.

One KV v2 entry per slot (`<prefix>/_aigw/journal/<provider>/<slot>`); each state
change is a new version written with `cas` = the version this run last read, so
two writers can never both advance a slot, and the entry's version history is
the rotation's history. The journal holds key ids, fingerprints and KV versions,
never a key value; of a key it keeps at most the last 4 characters (`hint`, what
every provider's redacted hint shows), to find its id in a usage report later.

States, in order (docs/rotation.md)::

    intent -> minted -> staged -> verified -> promoted -> propagated
           -> old_disabled -> old_revoked -> done
    (any state before promoted) -> aborting -> aborted

Two states take another's place when less happened there (VARIANTS):
`verify_skipped` instead of `verified` (the driver could check nothing, e.g.
`manual` without `verify_url`), and `old_left_to_operator` instead of
`old_revoked` (aigw revoked nothing; the operator must).

`AIGW_TEST_CRASH_AT=<point>[,<point>...]` makes the process SIGKILL itself at
the named points (see `crash_point`); tests use it to prove every boundary resumes.
"""

from __future__ import annotations

import os
import secrets
import signal
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from aigw import envvars
from aigw.errors import RotationInProgress
from aigw.slots.kv import KV, CasConflict

STATES = ("intent", "minted", "staged", "verified", "promoted", "propagated",
          "old_disabled", "old_revoked", "done")
# state -> the state of the main path whose place it takes (the next step is the same).
VARIANTS = {"verify_skipped": "verified", "old_left_to_operator": "old_revoked"}
TERMINAL = frozenset({"done", "aborted"})
CRASH_ENV = envvars.TEST_CRASH_AT


def new_run_id() -> str:
    """A short random id naming one run (and its minted keys): a rotation, a put."""
    return secrets.token_hex(4)


def crash_point(name: str) -> None:
    """Die at once (SIGKILL, no cleanup) when $AIGW_TEST_CRASH_AT names NAME.

    Points: `<state>` right after the journal write of STATE, `<state>:effect`
    right after the side effect that leads to STATE (before anything is
    recorded), `<state>:audit` after its audit record but before the journal
    write, and `locked` right after taking the slot's lock.
    """
    wanted = os.environ.get(CRASH_ENV)
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class KeyRef:
    """A key by reference: provider-side id (if known), fingerprint, slot KV version, and
    its hint (`...abcd`, targets.secret_hint) to match a provider's redacted hint."""

    key_id: str | None = None
    fingerprint: str | None = None
    version: int | None = None
    hint: str | None = None

    @classmethod
    def of(cls, raw: Any) -> KeyRef | None:
        """Rebuild from journal data (None stays None)."""
        if not isinstance(raw, dict):
            return None
        return cls(raw.get("key_id"), raw.get("fingerprint"), raw.get("version"),
                   raw.get("hint"))


@dataclass(frozen=True)
class JournalEntry:
    """The journal of one slot at one version (`kv_version`, not stored)."""

    run_id: str
    state: str
    driver: str
    by: str
    started_at: float
    updated_at: float
    op: str = "rotate"
    attempt: int = 1
    old: KeyRef | None = None
    new: KeyRef | None = None
    preexisting: tuple[str, ...] = ()
    promoted_at: float | None = None
    grace: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    verification: str | None = None   # how the new key was checked, or "skipped: why"
    revocation: str | None = None     # what became of the old key ("left to the operator: ...")
    grace_override: dict[str, Any] | None = None  # {from, to, by, reason} of --override-grace
    audit_seq: int = 0
    kv_version: int = 0

    @property
    def in_progress(self) -> bool:
        """True until the rotation is done or aborted."""
        return self.state not in TERMINAL

    @property
    def step(self) -> str:
        """The main-path state this one stands for (a variant's place, else itself)."""
        return VARIANTS.get(self.state, self.state)

    @property
    def grace_until(self) -> float | None:
        """When the grace period after promotion ends."""
        if self.promoted_at is None or self.grace is None:
            return None
        return self.promoted_at + self.grace

    def to_data(self) -> dict[str, Any]:
        """The KV data (JSON) of this entry."""
        data = asdict(self)
        data.pop("kv_version")
        data["preexisting"] = list(self.preexisting)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any], kv_version: int) -> JournalEntry:
        """Rebuild an entry read from KV."""
        known = {f for f in cls.__dataclass_fields__ if f != "kv_version"}
        fields = {k: v for k, v in data.items() if k in known}
        fields["old"] = KeyRef.of(fields.get("old"))
        fields["new"] = KeyRef.of(fields.get("new"))
        fields["preexisting"] = tuple(fields.get("preexisting") or ())
        return cls(**fields, kv_version=kv_version)


class Journal:
    """Load and save one slot's journal with check-and-set."""

    def __init__(self, kv: KV, path: str, slot_id: str) -> None:
        self.kv = kv
        self.path = path
        self.slot_id = slot_id

    def load(self) -> JournalEntry | None:
        """The current entry, or None when the slot was never rotated nor put."""
        entry = self.kv.read(self.path)
        if entry is None or entry.data is None:
            return None if entry is None else _placeholder(entry.version)
        return JournalEntry.from_data(entry.data, entry.version)

    def save(self, entry: JournalEntry, now: float) -> JournalEntry:
        """Write ENTRY over version `entry.kv_version`; raise RotationInProgress on a lost race."""
        entry = replace(entry, updated_at=now)
        try:
            version = self.kv.write(self.path, entry.to_data(), cas=entry.kv_version)
        except CasConflict:
            raise RotationInProgress(
                f"{self.slot_id}: the rotation journal changed under this run "
                "(another run is rotating this slot)", hint="see `aigw keys status`") from None
        return replace(entry, kv_version=version)


def _placeholder(version: int) -> JournalEntry:
    """A deleted journal: treated as 'never rotated', but CAS continues from its version."""
    return JournalEntry(run_id="", state="done", driver="", by="", started_at=0.0,
                        updated_at=0.0, op="deleted", kv_version=version)


def transition_event(entry: JournalEntry, nxt: JournalEntry, *, slot: str, env: str, who: str,
                     detail: dict[str, Any] | None) -> dict[str, Any]:
    """The audit record of ENTRY -> NXT: who, what, versions, key ids and fingerprints."""
    old, new = nxt.old or KeyRef(), nxt.new or KeyRef()
    return {
        "action": nxt.op, "env": env, "slot": slot, "run_id": nxt.run_id,
        "event_id": f"{nxt.run_id}:{nxt.attempt}:{nxt.state}",
        "from_state": entry.state or None, "to_state": nxt.state, "who": who,
        "driver": nxt.driver, "from_version": old.version, "to_version": new.version,
        "old_fingerprint": old.fingerprint, "new_fingerprint": new.fingerprint,
        "old_key_id": old.key_id, "new_key_id": new.key_id, "detail": detail or {},
    }
