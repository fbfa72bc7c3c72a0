"""`rotate-keys` as a function: select slots, drive each one's state machine, report.

Programmatic use (the demo, tests)::

    from aigw.rotation.runner import RotateOptions, rotate_keys
    from aigw.rotation.machine import Timing

    result = rotate_keys(load_catalog("."), connect(VaultSettings.resolve()),
                         RotateOptions(env="prod", provider="openai"),
                         timing=Timing(quiet=1.0, poll=0.2, wait=30.0))
    result.exit_code  # 0 done/waiting, 1 in progress elsewhere (or --dry-run: work to do),
                      # 3 a slot failed or was aborted

Selection: every slot of the catalog (narrowed by env/provider/slot). A slot
whose rotation is in progress is continued; an idle one is started unless
`resume`/`finish`/`abort` (in-progress ones only) or `due` (only keys older
than max_age).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import hvac

from aigw import envvars
from aigw.catalog import LoadedCatalog
from aigw.catalog.models import Catalog, parse_duration
from aigw.errors import (
    EXIT_CHANGES,
    EXIT_OK,
    EXIT_UNEXPECTED,
    AigwError,
    RotationInProgress,
    UsageError,
)
from aigw.rotation.drivers.base import (
    DriverFactory,
    DriverSpec,
    SecretInput,
    build_driver,
    no_secret_input,
)
from aigw.rotation.machine import GRACE_HINT, SlotRotation, grace_refusal
from aigw.rotation.progress import Progress, Reporter, SlotOutcome, Timing
from aigw.slots.audit import AuditLog
from aigw.slots.journal import Journal, new_run_id
from aigw.slots.kv import KV
from aigw.slots.lock import SlotLock, who_am_i
from aigw.slots.status import SlotStatus, read_status
from aigw.slots.targets import SlotTarget, select_targets

TIMING_ENV = envvars.ROTATE_TIMING


@dataclass(frozen=True)
class RotateOptions:
    """What to rotate and how (the flags of `aigw rotate-keys`)."""

    env: str | None = None
    provider: str | None = None
    slot: str | None = None
    due: bool = False
    resume: bool = False
    finish: bool = False
    dry_run: bool = False
    grace: float | None = None
    abort: bool = False
    override_grace: bool = False   # allow a grace shorter than the one recorded at promotion
    reason: str | None = None      # why (required with override_grace; in the audit trail)


@dataclass
class RotateResult:
    """Per-slot outcomes of one run."""

    run_id: str
    outcomes: list[SlotOutcome] = field(default_factory=list)

    def by_status(self, *statuses: str) -> list[SlotOutcome]:
        """Outcomes with one of STATUSES."""
        return [o for o in self.outcomes if o.status in statuses]

    @property
    def exit_code(self) -> int:
        """3 failed/aborted, 1 in progress elsewhere or dry-run with work to do, else 0."""
        if self.by_status("failed", "aborted"):
            return EXIT_UNEXPECTED
        if self.by_status("in-progress", "would-start", "would-continue"):
            return EXIT_CHANGES
        return EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"run_id": self.run_id, "exit_code": self.exit_code,
                "slots": [o.as_dict() for o in self.outcomes]}


def timing_from_env(env: Mapping[str, str] | None = None, **given: Any) -> Timing:
    """A Timing from GIVEN plus $AIGW_ROTATE_QUIET/_POLL/_LOCK_TTL (seconds or `10m`)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for name, var in TIMING_ENV.items():
        if env.get(var):
            text = env[var]
            try:
                values[name] = float(text)
            except ValueError:
                values[name] = float(parse_duration(text))
    values.update({k: v for k, v in given.items() if v is not None})
    return Timing(**values)


def driver_spec(target: SlotTarget) -> DriverSpec:
    """The driver's view of a slot."""
    params = dict(target.rotation.params)
    if target.workspace and target.provider.api == "anthropic":
        # A service's own key belongs to the workspace the service names (its limits' too):
        # the anthropic-admin driver verifies a pasted key there.
        params.setdefault("workspace_id", target.workspace)
    return DriverSpec(env=target.env_name, provider=target.ref.provider, slot=target.ref.slot,
                      api=target.provider.api, base_url=target.provider.base_url,
                      params=params, fields=target.fields)


def rotate_keys(catalog: LoadedCatalog | Catalog, client: hvac.Client, options: RotateOptions,
                *, timing: Timing | None = None, secret_input: SecretInput = no_secret_input,
                reporter: Reporter | None = None, driver_factory: DriverFactory | None = None,
                addr: str | None = None, run_id: str | None = None) -> RotateResult:
    """Rotate the selected slots one after the other; never raises for one slot's failure."""
    cat = catalog.catalog if isinstance(catalog, LoadedCatalog) else catalog
    timing = timing or Timing()
    factory = driver_factory or build_driver
    result = RotateResult(run_id or new_run_id())
    continue_only = (options.resume or options.finish or options.abort) and not options.due
    # A slot no deployment reads is not rotated (nobody would use the new key), but a
    # rotation already under way in one (its service removed since) can still be finished.
    targets = select_targets(cat, options.env, options.provider, options.slot,
                             read_only=not continue_only)
    check_grace(client, targets, options, addr)
    who = who_am_i(client) if not options.dry_run else ""
    for target in targets:
        kv = KV(client, target.mount, addr)
        try:
            outcome = _one(kv, target, options, timing, continue_only, result.run_id, who,
                           factory, secret_input, reporter)
        except RotationInProgress as exc:
            outcome = SlotOutcome(target.id, "in-progress", message=exc.message)
        except AigwError as exc:
            outcome = SlotOutcome(target.id, "failed", message=" ".join(exc.lines()))
            if reporter is not None:
                reporter(Progress(target.id, None, "failed", exc.message))
        result.outcomes.append(outcome)
    return result


def check_grace(client: hvac.Client, targets: list[SlotTarget], options: RotateOptions,
                addr: str | None = None) -> None:
    """Refuse (UsageError, before any change) a --grace shorter than a recorded one.

    The grace is fixed when a key is promoted. Shortening it for a rotation
    waiting at `promoted` needs `override_grace` and a `reason`.
    """
    if options.override_grace and options.grace is None:
        raise UsageError("--override-grace needs --grace (the shorter grace to apply)")
    if options.override_grace and not (options.reason or "").strip():
        raise UsageError("--override-grace needs --reason TEXT saying why",
                         hint="the reason goes into the audit trail with who gave it")
    if options.grace is None or options.override_grace:
        return
    refused = []
    for t in targets:
        entry = Journal(KV(client, t.mount, addr), t.journal_path, t.id).load()
        wanted = max(options.grace, t.grace_floor)
        if entry is not None and entry.step == "promoted" and wanted < float(entry.grace or 0):
            refused.append(grace_refusal(t.id, float(entry.grace or 0), wanted))
    if refused:
        raise UsageError("; ".join(refused), hint=GRACE_HINT)


def _release_dead_lock(kv: KV, target: SlotTarget, st: SlotStatus, run_id: str,
                       timing: Timing) -> list[str]:
    """Release the lock of an idle slot whose holder died or expired (a run killed after
    its last journal write); returns a note saying so, or nothing."""
    held = st.lock
    why = held.stale(timing.clock()) if held is not None and not held.released else None
    if held is None or why is None:
        return []
    lock = SlotLock(kv, target.lock_path, target.id, run_id, ttl=timing.lock_ttl,
                    clock=timing.clock)
    try:
        lock.acquire()
    except RotationInProgress:  # another run took it meanwhile: it is theirs now
        return []
    lock.release()
    return [f"released a stale lock ({why}: {held.describe()})"]


def _one(kv: KV, target: SlotTarget, options: RotateOptions, timing: Timing,
         continue_only: bool, run_id: str, who: str, factory: DriverFactory,
         secret_input: SecretInput, reporter: Reporter | None) -> SlotOutcome:
    now = timing.clock()
    st = read_status(kv, target)
    rotating = st.rotating
    if not rotating:
        notes = [] if options.dry_run else _release_dead_lock(kv, target, st, run_id, timing)
        if continue_only:
            return SlotOutcome(target.id, "skipped", message="no rotation in progress",
                               notes=notes)
        if options.due and not st.is_due(now):
            why = "no key yet (use `aigw keys put`)" if not st.has_key else "not due"
            return SlotOutcome(target.id, "skipped", message=why, notes=notes)
    if options.dry_run:
        holder = st.lock_holder(now)
        if holder is not None:
            return SlotOutcome(target.id, "in-progress", message=f"locked by {holder.describe()}")
        if rotating and st.journal is not None:
            verb = "abort" if options.abort else "continue"
            return SlotOutcome(target.id, "would-continue", st.journal.state, st.journal.run_id,
                               f"{verb} run {st.journal.run_id} from {st.journal.state}")
        age = f"key age {int(now - st.created_at)}s" if st.created_at else "no key yet"
        return SlotOutcome(target.id, "would-start", message=f"start a rotation "
                           f"({target.rotation.driver}, {age})")
    driver = factory(target.rotation.driver, driver_spec(target), secret_input)
    audit = AuditLog(kv, target.bookkeeping, clock=timing.clock)
    machine = SlotRotation(kv, target, driver, audit, run_id=run_id, who=who, timing=timing,
                           finish=options.finish, grace=options.grace, reporter=reporter,
                           override_grace=options.reason if options.override_grace else None)
    return machine.run(start_new=not continue_only, abort=options.abort)
