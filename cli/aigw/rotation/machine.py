"""The per-slot rotation state machine: every step idempotent, recorded before it counts.

States: intent -> minted -> staged -> verified -> promoted -> propagated ->
old_disabled -> old_revoked -> done (`verify_skipped` takes the place of
`verified` when the driver could check nothing, `old_left_to_operator` that of
`old_revoked` when aigw revoked nothing). Before promotion, a failed verification, a
slot written by someone else, or `--abort` leads to aborting -> aborted (the new
key revoked, the old one untouched). Each transition to a state S runs the side
effect leading to S (idempotent, or detectable on retry), then an audit record
(deduplicated on retry), then the journal write of S with check-and-set. A crash
anywhere leaves the journal at the last completed state, and the next run redoes
at most the one step after it. docs/rotation.md tables what each step does and
how a retry finds out that it already happened (e.g. a key minted but never
recorded is found by its label or as "not in the inventory", and revoked).
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

from aigw.errors import AigwError, RotationError, UsageError
from aigw.rotation.drivers.base import Driver, Minted, VerifySkipped
from aigw.rotation.evidence import Evidence, assess, heartbeat_line, read_ack_entries
from aigw.rotation.progress import Progress, Reporter, SlotOutcome, Timing
from aigw.slots.audit import AuditLog
from aigw.slots.journal import Journal, JournalEntry, KeyRef, crash_point, transition_event
from aigw.slots.kv import KV
from aigw.slots.lock import SlotLock
from aigw.slots.targets import SlotTarget, check_secret, secret_fingerprint, secret_hint

CANCELLED = "aborted by the operator (--abort)"
GRACE_HINT = ("the grace is fixed at promotion; to shorten it on purpose add "
              "--override-grace --reason TEXT (recorded in the audit trail)")

__all__ = ["SlotRotation"]


class SlotRotation:
    """Drive one slot's rotation from wherever its journal stands."""

    def __init__(self, kv: KV, target: SlotTarget, driver: Driver, audit: AuditLog, *,
                 run_id: str, who: str, timing: Timing, finish: bool = False,
                 grace: float | None = None, override_grace: str | None = None,
                 reporter: Reporter | None = None) -> None:
        """OVERRIDE_GRACE is the operator's reason for a GRACE shorter than the recorded one."""
        self.kv, self.t, self.driver, self.audit = kv, target, driver, audit
        self.run_id, self.who, self.timing = run_id, who, timing
        self.finish = finish
        self.grace = None if grace is None else max(grace, target.grace_floor)
        self.override_reason = override_grace
        self._override: dict[str, Any] | None = None
        self.report = reporter or (lambda p: None)
        self.notes: list[str] = []
        if grace is not None and grace < target.grace_floor:
            self._note(f"grace raised to the environment's agent_refresh "
                       f"({target.grace_floor}s)")
        self.journal = Journal(kv, target.journal_path, target.id)
        self.lock = SlotLock(kv, target.lock_path, target.id, run_id, ttl=timing.lock_ttl,
                             clock=timing.clock)
        self._secret: dict[str, str] | None = None
        self._preset: Minted | None = None
        self._renewed = 0.0
        self._waiting: Evidence | None = None
        self._failure: str | None = None

    # -- entry point ---------------------------------------------------------
    def run(self, *, start_new: bool = True, abort: bool = False) -> SlotOutcome:
        """Take the lock, start or resume the rotation, and drive it as far as it goes.

        With ABORT, a rotation in progress that has not promoted yet is given up
        instead (its new key revoked, the old one untouched).
        """
        self.lock.acquire()
        self._renewed = self.timing.clock()
        crash_point("locked")
        try:
            if self.lock.took_over:
                self._note(f"took over a stale lock ({self.lock.took_over})")
            entry = self.journal.load()
            if entry is None or not entry.in_progress:
                if not start_new:
                    return SlotOutcome(self.t.id, "skipped", entry.state if entry else None,
                                       message="no rotation in progress")
                if not self.driver.can_mint:  # ask the operator before anything is recorded
                    self._preset = self.driver.mint("", [])
                entry = self._begin(entry)
            else:
                self._note(f"resuming run {entry.run_id} at {entry.state}")
                if abort:
                    entry = self._cancel(entry)
            return self._drive(entry)
        finally:
            with contextlib.suppress(AigwError):  # OpenBao gone: the lease expires or dies
                self.lock.release()

    def _drive(self, entry: JournalEntry) -> SlotOutcome:
        while entry.in_progress:
            nxt = getattr(self, f"_from_{entry.step}")(entry)
            if nxt is None:
                ev = self._waiting
                return SlotOutcome(self.t.id, "waiting", entry.state, entry.run_id,
                                   ev.reason if ev else "waiting", self.notes,
                                   self._override,
                                   blocked_by=list(ev.facts.get("blocked_by") or []) if ev
                                   else [])
            entry = nxt
            self._maybe_renew()
        if entry.state == "aborted":
            why = self._failure or entry.note or "aborted"
            return SlotOutcome(self.t.id, "cancelled" if why == CANCELLED else "aborted",
                               entry.state, entry.run_id, why, self.notes)
        return SlotOutcome(self.t.id, "done", entry.state, entry.run_id,
                           rotated_message(entry), self.notes, self._override)

    # -- helpers -------------------------------------------------------------
    def _note(self, text: str) -> None:
        self.notes.append(text)
        self.report(Progress(self.t.id, None, "note", text))

    def _maybe_renew(self) -> None:
        if self.timing.clock() - self._renewed > self.timing.lock_ttl / 3:
            self.lock.renew()
            self._renewed = self.timing.clock()

    def _advance(self, entry: JournalEntry, to: str, detail: dict[str, Any] | None = None,
                 **changes: Any) -> JournalEntry:
        """Record the transition ENTRY -> TO: audit record first, then the journal (CAS)."""
        crash_point(f"{to}:effect")
        nxt = replace(entry, state=to, **changes)
        event = transition_event(entry, nxt, slot=self.t.ref.id, env=self.t.env_name,
                                 who=self.who, detail=detail)
        # A retried step finds its own record after the previous one; a new run has none.
        retry = bool(entry.state) and entry.run_id == nxt.run_id
        seq = self.audit.append(event, after=entry.audit_seq if retry else None)
        crash_point(f"{to}:audit")
        saved = self.journal.save(replace(nxt, audit_seq=seq), self.timing.clock())
        crash_point(to)
        self.report(Progress(self.t.id, entry.state or None, to,
                             ", ".join(f"{k}={v}" for k, v in (detail or {}).items())))
        return saved

    def _staged_secret(self, entry: JournalEntry) -> dict[str, str] | None:
        """The new key's value: in memory, else from the staged area if it is this run's."""
        if self._secret is not None:
            return self._secret
        staged = self.kv.read(self.t.staged_path)
        data = staged.data if staged is not None else None
        want = entry.new.fingerprint if entry.new else None
        if data and data.get("run_id") == entry.run_id and data.get("fingerprint") == want:
            self._secret = {f: str(data[f]) for f in self.t.fields if f in data}
        return self._secret

    def _lost(self, entry: JournalEntry) -> JournalEntry:
        """The new key's value is gone: discard that key (revoked at intent) and mint again."""
        lost = entry.new.key_id if entry.new else None
        return self._advance(entry, "intent", {"lost_key_id": lost, "reason": "new key value "
                             "lost before staging; minting again"},
                             attempt=entry.attempt + 1, new=None, verification=None)

    # -- transitions ---------------------------------------------------------
    def _begin(self, prior: JournalEntry | None) -> JournalEntry:
        current = self.kv.read(self.t.secret_path)
        version = current.version if current is not None else 0
        old = KeyRef(None, None, version)
        if current is not None and current.data:
            fp = secret_fingerprint(current.data)
            key_id = None
            if prior is not None and prior.new is not None and prior.new.fingerprint == fp:
                key_id = prior.new.key_id
            if key_id is None:
                key_id = self.driver.identify(current.data)
            old = KeyRef(key_id, fp, version, secret_hint(current.data))
        now = self.timing.clock()
        entry = JournalEntry(
            run_id=self.run_id, state="", driver=self.driver.name, by=self.who,
            started_at=now, updated_at=now, old=old, preexisting=tuple(self.driver.inventory()),
            kv_version=prior.kv_version if prior else 0,
            audit_seq=prior.audit_seq if prior else 0)
        known = "unknown" if old.fingerprint and not old.key_id else old.key_id
        return self._advance(entry, "intent", {"old_key_id": known})

    def _from_intent(self, entry: JournalEntry) -> JournalEntry:
        old = entry.old or KeyRef()
        keep = [old.key_id] if old.key_id else []
        prefix = self.t.label_prefix(entry.run_id)
        orphans = [k for k in self.driver.find_minted(prefix, entry.preexisting) if k not in keep]
        for key_id in orphans:
            self.driver.revoke(key_id)
        minted = self._preset or self.driver.mint(f"{prefix}{entry.attempt}", keep)
        self._preset = None
        secret = check_secret(minted.secret, self.t.fields, f"new key for {self.t.id}")
        fp = secret_fingerprint(secret)
        if fp == old.fingerprint:
            raise RotationError(f"{self.t.id}: the new key is the current key",
                                hint="supply a newly created key")
        self._secret = secret
        detail: dict[str, Any] = {"new_key_id": minted.key_id}
        if orphans:
            detail["orphans_revoked"] = orphans
        return self._advance(entry, "minted", detail, new=KeyRef(minted.key_id, fp, None,
                                                                   secret_hint(secret)))

    def _from_minted(self, entry: JournalEntry) -> JournalEntry:
        secret = self._staged_secret(entry)
        if secret is None:
            return self._lost(entry)
        new = entry.new or KeyRef()
        staged = self.kv.read(self.t.staged_path)
        have = staged.data if staged is not None else None
        if not (have and have.get("fingerprint") == new.fingerprint
                and have.get("run_id") == entry.run_id):
            self.kv.write(self.t.staged_path, {**secret, "fingerprint": new.fingerprint,
                                               "run_id": entry.run_id, "key_id": new.key_id},
                          cas=staged.version if staged is not None else 0)
        return self._advance(entry, "staged")

    def _from_staged(self, entry: JournalEntry) -> JournalEntry:
        secret = self._staged_secret(entry)
        if secret is None:
            return self._lost(entry)
        try:
            how = self.driver.verify(secret)
        except RotationError as exc:
            return self._abort(entry, f"verification failed: {exc.message}")
        if isinstance(how, VerifySkipped):
            self._note(f"the new key was not verified: {how}")
            return self._advance(entry, "verify_skipped", {"verification": "skipped",
                                                           "reason": str(how)},
                                 verification=f"skipped: {how}")
        return self._advance(entry, "verified", {"verify": how}, verification=how)

    def _from_verified(self, entry: JournalEntry) -> JournalEntry:
        secret = self._staged_secret(entry)
        if secret is None:
            return self._lost(entry)
        old, new = entry.old or KeyRef(), entry.new or KeyRef()
        current = self.kv.read(self.t.secret_path)
        version = current.version if current is not None else 0
        if version == (old.version or 0):
            version = self.kv.write(self.t.secret_path, secret, cas=version)
        elif not (current is not None and current.data
                  and secret_fingerprint(current.data) == new.fingerprint):
            return self._abort(entry, f"the slot changed during the rotation (now version "
                               f"{version}, expected {old.version}): someone wrote it outside it")
        grace = self.grace if self.grace is not None else max(self.t.rotation.grace,
                                                                self.t.grace_floor)
        return self._advance(entry, "promoted", {"version": version},
                             new=replace(new, version=version),
                             promoted_at=self.timing.clock(), grace=float(grace))

    def _grace(self, entry: JournalEntry) -> tuple[float, dict[str, Any] | None]:
        """The grace to apply after promotion: the recorded one, unless lengthened or overridden.

        The grace is fixed at promotion. A longer `--grace` only delays; a shorter
        one needs `--override-grace REASON`, and the override (who, why) is returned.
        """
        recorded = float(entry.grace or 0.0)
        if self.grace is None or self.grace >= recorded:
            return max(recorded, self.grace or 0.0), None
        if not self.override_reason:
            raise UsageError(grace_refusal(self.t.id, recorded, self.grace), hint=GRACE_HINT)
        override = {"from": recorded, "to": self.grace, "by": self.who,
                    "reason": self.override_reason}
        self._note(f"grace shortened from {_secs(recorded)} to {_secs(self.grace)} by "
                   f"{self.who}: {self.override_reason}")
        self._override = override
        return self.grace, override

    def _from_promoted(self, entry: JournalEntry) -> JournalEntry | None:
        deadline = self.timing.clock() + self.timing.wait
        beat = self.timing.clock()  # a minutes-long --wait is never silent (heartbeat_line)
        grace, override = self._grace(entry)
        quiet = max(self.timing.quiet, float(self.t.grace_floor))
        while True:
            acks = read_ack_entries(self.kv, self.t.acks_path, self.t.consumers)
            ev = assess(entry, self.driver, now=self.timing.clock(), quiet=quiet,
                        acks=acks if any(acks.values()) else {}, finish=self.finish,
                        grace=grace)
            if ev.propagated:
                detail: dict[str, Any] = {"evidence": ev.reason}
                if override is not None:
                    detail["grace_override"] = override
                return self._advance(entry, "propagated", detail, grace_override=override,
                                     evidence={"reason": ev.reason, **ev.facts})
            left = deadline - self.timing.clock()
            if left <= 0:
                self._waiting = ev
                return None
            if self.timing.clock() - beat >= self.timing.heartbeat:
                beat = self.timing.clock()
                self.report(Progress(self.t.id, None, "waiting", heartbeat_line(ev, left)))
            self.timing.sleep(min(self.timing.poll, left))
            self._maybe_renew()

    def _from_propagated(self, entry: JournalEntry) -> JournalEntry:
        old = entry.old or KeyRef()
        if not old.fingerprint:
            detail = {"skipped": "no old key"}
        elif not self.driver.can_disable:
            detail = {"skipped": f"{self.driver.name} cannot disable keys"}
        elif not old.key_id:
            detail = {"skipped": "old key id unknown"}
        else:
            self.driver.disable(old.key_id)
            detail = {"disabled": old.key_id}
        return self._advance(entry, "old_disabled", detail)

    def _from_old_disabled(self, entry: JournalEntry) -> JournalEntry:
        old = entry.old or KeyRef()
        detail: dict[str, Any]
        if not old.fingerprint:
            detail = {"skipped": "no old key"}
        elif old.key_id and self.driver.can_revoke:
            self.driver.revoke(old.key_id)
            detail = {"revoked": old.key_id}
        else:
            why = (f"the {self.driver.name} driver cannot revoke keys" if not
                   self.driver.can_revoke else "the old key's id at the provider is unknown")
            self._note(f"revoke the old key by hand now (fingerprint {old.fingerprint}, KV "
                       f"version {old.version} of {self.t.mount}/{self.t.secret_path}): "
                       f"no consumer needs it any more; aigw did not revoke it ({why})")
            return self._advance(entry, "old_left_to_operator",  # nothing was revoked
                                 {"revocation": "left to the operator", "reason": why},
                                 revocation=f"left to the operator: {why}")
        return self._advance(entry, "old_revoked", detail,
                             revocation=f"revoked {old.key_id}" if "revoked" in detail
                             else "no old key")

    def _from_old_revoked(self, entry: JournalEntry) -> JournalEntry:
        self.kv.delete_all(self.t.staged_path)
        old, new = entry.old or KeyRef(), entry.new or KeyRef()
        destroyed: list[int] = []
        if old.fingerprint and old.key_id and self.driver.can_revoke:
            meta = self.kv.metadata(self.t.secret_path) or {}
            destroyed = sorted(int(v) for v, info in (meta.get("versions") or {}).items()
                               if int(v) < (new.version or 0) and not info.get("destroyed"))
            self.kv.destroy(self.t.secret_path, destroyed)
        return self._advance(entry, "done", {"destroyed_versions": destroyed})

    def _cancel(self, entry: JournalEntry) -> JournalEntry:
        if entry.state == "aborting":
            return entry
        if entry.step not in ("intent", "minted", "staged", "verified"):
            raise RotationError(f"{self.t.id}: cannot abort at {entry.state}: the new key is "
                                "already live", hint="finish it with --resume or --finish; "
                                "the old key stays valid until then")
        return self._abort(entry, CANCELLED)

    def _abort(self, entry: JournalEntry, why: str) -> JournalEntry:
        self._failure = why
        return self._advance(entry, "aborting", {"reason": why}, note=why)

    def _from_aborting(self, entry: JournalEntry) -> JournalEntry:
        new = entry.new or KeyRef()
        revoked = []
        # Only keys aigw minted: a key the operator supplied (anthropic-admin) is theirs,
        # perhaps meant for another slot; it was never promoted, so nothing depends on it.
        if self.driver.can_revoke and self.driver.can_mint:
            ids = set(self.driver.find_minted(self.t.label_prefix(entry.run_id),
                                              entry.preexisting))
            ids |= {new.key_id} if new.key_id else set()
            ids -= {(entry.old or KeyRef()).key_id}
            for key_id in sorted(k for k in ids if k):
                self.driver.revoke(key_id)
                revoked.append(key_id)
        self.kv.delete_all(self.t.staged_path)
        self._failure = self._failure or entry.note
        return self._advance(entry, "aborted", {"revoked_new": revoked})



def rotated_message(entry: JournalEntry) -> str:
    """`rotated`, plus what aigw did not do (an unchecked key, an old key left to revoke)."""
    gaps = []
    if entry.verification and entry.verification.startswith("skipped"):
        gaps.append("the new key was not verified")
    if entry.revocation and entry.revocation.startswith("left to the operator"):
        gaps.append("revoking the old key is left to the operator")
    return "rotated" + (f" ({'; '.join(gaps)})" if gaps else "")


def _secs(seconds: float) -> str:
    from aigw.catalog.models import format_duration

    return format_duration(int(seconds)) if seconds == int(seconds) else f"{seconds}s"


def grace_refusal(slot: str, recorded: float, wanted: float) -> str:
    """The one line refusing a --grace shorter than the grace recorded at promotion."""
    return (f"{slot}: --grace {_secs(wanted)} is shorter than the grace recorded at promotion "
            f"({_secs(recorded)}); it would revoke the old key early")
