"""plan, apply and destroy the Vault stacks through the Automation API.

Each function runs every environment in turn (or the one asked for), prints
through `echo`, and returns one `StackResult` per stack. Failures come out as
aigw errors with one line: OpenBao unreachable or refusing (checked before the
engine starts, and mapped back from provider failures), a lock held by a live
run, or the engine's own error line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigw.catalog import load_catalog
from aigw.catalog.models import Catalog
from aigw.catalog.view import did_you_mean
from aigw.context import EngineSettings, current
from aigw.errors import EngineError, UsageError, VaultError, VaultForbidden
from aigw.stack import fastplan, locks
from aigw.stack._conn import tagged_error
from aigw.stack.ids import PROJECT, SERVER_OUTPUT
from aigw.stack.limits import check_admin_keys, plan_lines
from aigw.stack.readiness import (
    DeploymentReadiness,
    EnvReadiness,
    audit_overrides,
    check_environment,
    hold,
)
from aigw.stack.report import (
    TYPE_PREFIX,
    Change,
    EventLog,
    Progress,
    deleted_count,
    format_plan,
    summary_line,
)
from aigw.stack.spec import EnvSpec, environment_spec
from aigw.vault import VaultSettings, connect, read_health

if TYPE_CHECKING:
    from aigw.stack.drift import Drift
    from aigw.stack.targets import Choice
    from aigw.stack.workspace import StackHandle

# The Pulumi SDK (~1 s to import) and the modules over it (workspace, program, sdkfix)
# are imported where the engine runs: a plan answered from the fingerprint never needs them.

Echo = Callable[[str], None]
Confirm = Callable[[str], bool]
# What a plan or apply token must be allowed, said whenever OpenBao denies it one.
_TOKEN_NEEDS = ("the token needs to manage ACL policies, auth methods and roles, and the KV "
                "mount")


@dataclass
class StackResult:
    """What one stack's plan, apply or destroy found or did."""

    stack: str
    changes: list[Change] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    applied: bool = False
    readiness: EnvReadiness | None = None  # keys ready: which deployments are held
    planner: str = fastplan.ENGINE  # plan: "fingerprint" when answered without the engine
    apply_path: str | None = None  # apply: "targeted" or "full" (aigw.stack.targets)
    refresh: str | None = None  # who read OpenBao back: "aigw" (aigw.stack.drift), "engine"

    @property
    def held(self) -> list[DeploymentReadiness]:
        """The deployments kept at their live config (empty or unreadable slots)."""
        return self.readiness.held if self.readiness is not None else []

    @property
    def changed(self) -> bool:
        """True when something was (or would be) created, updated or deleted, or is held."""
        return bool(self.changes) or bool(self.held) or any(
            n for op, n in self.counts.items() if op != "same")

    def as_dict(self) -> dict[str, Any]:
        """The JSON of one stack in `plan --json` / `apply --json` (docs/json.md)."""
        return {"stack": self.stack, "environment": self.stack.split("/", 1)[-1],
                "changed": self.changed, "applied": self.applied,
                "summary": summary_line(self.counts), "planner": self.planner,
                "apply_path": self.apply_path, "refresh": self.refresh,
                "changes": [c.as_dict() for c in self.changes],
                "readiness": [d.as_dict() for d in (self.readiness.deployments
                                                    if self.readiness else ())]}


def vault_ready(vault: VaultSettings | None = None) -> VaultSettings:
    """Resolve the OpenBao settings and check, in one line on failure, that it serves us."""
    vault = vault or current().vault
    health = read_health(vault.addr, tls=vault.tls)
    if not health.initialized or health.sealed:
        raise VaultError(f"OpenBao at {vault.addr} is sealed or not initialized")
    with vault.errors():
        connect(vault).auth.token.lookup_self()
    return vault


@contextmanager
def engine_errors(stack: str, operation: str) -> Iterator[None]:
    """Run one engine operation (with the SDK workarounds); failures become one aigw error."""
    from pulumi import automation as auto

    from aigw.stack.sdkfix import fast_inline_program
    from aigw.stack.workspace import first_error_line

    try:
        with fast_inline_program():
            yield
    except auto.errors.ConcurrentUpdateError:
        raise EngineError(f"stack {stack} is locked by another run",
                          hint="wait for it, or rerun with --force-unlock if it is dead") from None
    except auto.errors.CommandError as exc:
        text = str(exc)
        error = tagged_error(text)
        if isinstance(error, VaultForbidden):
            raise VaultForbidden(error.message, hint=_TOKEN_NEEDS) from None
        if error is not None:
            raise error from None
        raise EngineError(f"pulumi {operation} of stack {stack} failed: "
                          f"{first_error_line(text)}") from None


def clear_locks(handle: StackHandle, echo: Echo, *, force: bool) -> None:
    """Remove the stack's stale locks (or all of them with force); refuse a live holder."""
    label = f"{PROJECT}/{handle.name}"
    backend = handle.settings.backend_dir
    if backend is None:  # not a file backend: only the engine can see its locks
        if force:
            with engine_errors(label, "cancel"):
                handle.stack.cancel()
            echo(f"{label}: cancelled any run holding the lock (--force-unlock)")
        return
    for lock in locks.stack_locks(backend, PROJECT, handle.name):
        if force or lock.holder_is_dead():
            locks.remove_lock(lock)
            why = "--force-unlock" if force else "its holder is gone"
            echo(f"{label}: removed a stale lock left by {lock.holder} ({why})")
        else:
            raise EngineError(f"stack {label} is locked by {lock.holder} since "
                              f"{lock.timestamp or 'an unknown time'}",
                              hint="another run is in progress; if it is dead, rerun with "
                              "--force-unlock")


def _environments(names: list[str], env: str | None) -> list[str]:
    """NAMES in the order given (the catalog's: staging before prod), or just ENV."""
    if env is None:
        return list(names)
    if env not in names:
        raise UsageError(f"unknown environment '{env}'", did_you_mean(env, names))
    return [env]


def _cluster_id(vault: VaultSettings) -> str:
    """The server's identity (`sys/health` cluster_id; "" when it does not say)."""
    return read_health(vault.addr, tls=vault.tls).cluster_id


def _other_server(handle: StackHandle, cluster_id: str, addr: str, echo: Echo) -> bool:
    """True (said in one line) when the state was recorded against another OpenBao.

    A dev server restarted empty, or a backend pointed at a new server: the
    recorded state then describes objects this server does not have, and only a
    refresh shows what is missing. A state recorded before aigw kept the id is
    not judged.
    """
    label = f"{PROJECT}/{handle.name}"
    try:
        recorded = fastplan.recorded_server(handle.settings, handle.name)
    except LookupError:  # a backend aigw does not read: ask the engine
        with engine_errors(label, "stack output"):
            output = handle.stack.outputs().get(SERVER_OUTPUT)
        recorded = None if output is None else str(output.value)
    if not cluster_id or recorded is None or recorded in ("", cluster_id):
        return False
    echo(f"{label}: the state was recorded against another OpenBao server (cluster "
         f"{recorded[:8]}, now {cluster_id[:8]} at {addr}): refreshing, so this "
         "shows what is really there (hint: `aigw apply` refreshes and recreates what is "
         "missing)")
    return True


def _preview(handle: StackHandle, refresh: bool,
             readiness: EnvReadiness | None = None, **how: Any) -> StackResult:
    label = f"{PROJECT}/{handle.name}"
    log = EventLog()
    with engine_errors(label, "preview"):
        handle.stack.preview(on_event=log.on_event, refresh=refresh, **how)
    return StackResult(stack=label, changes=log.changes(), counts=log.counts,
                       readiness=readiness)


def ready_spec(run: _Run, name: str, *, allow_empty: bool = False,
               ) -> tuple[EnvSpec, EnvReadiness]:
    """The spec apply converges for environment NAME, and the keys-ready verdicts.

    Reads OpenBao itself (slot metadata, live configs and policies), not through
    the engine: a held deployment keeps what OpenBao has (aigw.stack.readiness).
    """
    spec = environment_spec(run.catalog, name)
    client = connect(run.vault)
    try:
        readiness = check_environment(run.catalog, spec, client, allow_empty=allow_empty)
        return hold(run.catalog, spec, readiness, client), readiness
    except VaultForbidden as exc:
        raise VaultForbidden(exc.message, hint=_TOKEN_NEEDS) from None


@dataclass(frozen=True)
class _Run:
    """What plan and apply start from: the catalog, the environments asked for, a
    reachable OpenBao and its cluster id, the engine, and the catalog's path."""

    catalog: Catalog
    names: list[str]
    vault: VaultSettings
    engine: EngineSettings
    cluster_id: str
    path: Path

    @classmethod
    def start(cls, path: Path, env: str | None, vault: VaultSettings | None,
              engine: EngineSettings | None) -> _Run:
        catalog = load_catalog(path).catalog
        names = _environments(list(catalog.environments), env)
        vault = vault_ready(vault)
        return cls(catalog, names, vault, engine or current().engine, _cluster_id(vault), path)

    @functools.cached_property
    def commit(self) -> str | None:
        """The catalog's git commit (recorded with each config the engine writes)."""
        from aigw.git import catalog_commit

        return catalog_commit(self.path)

    def program(self, spec: EnvSpec, digest: str,
                only: frozenset[str] | None = None) -> Callable[[], Any]:
        """The inline program declaring SPEC (imports the SDK: only where the engine runs);
        with ONLY, just those resources (a targeted apply, aigw.stack.targets)."""
        from aigw.stack.program import spec_program

        return spec_program(spec, self.vault.addr, self.cluster_id, self.commit, digest, only)

    def read_back(self, name: str, label: str, echo: Echo) -> Drift:
        """Read every object stack NAME records back from OpenBao (aigw.stack.drift), said in
        one line: is an engine refresh needed?"""
        from aigw.stack import drift

        try:
            found = drift.check(self.engine, self.vault, name)
        except VaultForbidden as exc:
            raise VaultForbidden(exc.message, hint=_TOKEN_NEEDS) from None
        echo(found.line(label))
        return found

    def choose(self, spec: EnvSpec, name: str, digest: str, *, fresh: str | None,
               recorded: fastplan.Recorded | None = None) -> tuple[Choice, dict[str, Any]]:
        """How apply runs `up` for stack NAME, and the arguments that add to `up`/`preview`:
        FRESH says why the engine refreshes (the full `up` then), RECORDED is the state's
        resources already read."""
        from aigw.stack import targets

        if fresh is not None:
            return targets.full(f"{fresh}: the engine refreshes every object first"), {}
        choice = targets.choose(spec, self.vault.addr, self.commit, self.engine, name, recorded)
        if choice.names is None:
            return choice, {}
        return choice, {"target": list(choice.urns),
                        "program": self.program(spec, digest, choice.names)}


def plan(path: Path, env: str | None = None, *, echo: Echo, refresh: bool = False,
         force_unlock: bool = False, vault: VaultSettings | None = None,
         engine: EngineSettings | None = None) -> list[StackResult]:
    """Preview every environment's stack and print what would change.

    Without `refresh` the catalog is compared with the recorded state (what a
    catalog change does); with it, every object is read back from OpenBao first
    so drift made by hand shows too (what `apply`, which refreshes, would do).
    """
    run = _Run.start(path, env, vault, engine)
    results = []
    for name in run.names:
        spec, readiness = ready_spec(run, name)
        label = f"{PROJECT}/{name}"
        digest = fastplan.spec_digest(spec, run.vault.addr, run.cluster_id)
        if refresh:
            check_admin_keys(spec.limits)
        engine_refresh = refresh and not run.read_back(name, label, echo).clean
        why = ("--refresh: objects differ from the state" if engine_refresh
               else fastplan.why_engine(run.engine, name, digest))
        if why is None:
            echo(f"{label}: planned from the last apply's fingerprint, without the engine"
                 + ("" if refresh else " (`--refresh` reads OpenBao back)"))
            result = StackResult(stack=label, counts={"same": spec.resource_count},
                                 readiness=readiness, planner=fastplan.FAST)
        else:
            echo(f"{label}: planned by the engine ({why})")
            result = _engine_plan(run, name, spec, readiness, echo, refresh=engine_refresh,
                                  force_unlock=force_unlock, digest=digest)
        if refresh and result.refresh is None:  # read back by aigw, no drift
            result.refresh = "aigw"
        for line in format_plan(result.stack, result.changes, result.counts):
            echo(line)
        for line in [*readiness.lines(ahead=True), *plan_lines(spec.limit_notes, result.changes)]:
            echo(f"  ! {line}")
        results.append(result)
    return results


def _refreshed_by(asked: bool, engine: bool) -> str | None:
    """StackResult.refresh: "engine" when it refreshed, "aigw" when aigw read every object back
    and found no drift, None when nothing was read back."""
    return "engine" if engine else ("aigw" if asked else None)


def _engine_plan(run: _Run, name: str, spec: EnvSpec, readiness: EnvReadiness, echo: Echo,
                 *, refresh: bool, force_unlock: bool, digest: str) -> StackResult:
    from aigw.stack.workspace import open_stack

    with open_stack(name, run.engine, run.vault, run.program(spec, digest)) as handle:
        clear_locks(handle, echo, force=force_unlock)
        moved = not refresh and _other_server(handle, run.cluster_id, run.vault.addr, echo)
        result = _preview(handle, refresh or moved, readiness)
        result.refresh = "engine" if refresh or moved else None
        return result


def apply(path: Path, env: str | None = None, *, echo: Echo, yes: bool = False,
          confirm: Confirm | None = None, refresh: bool = True, force_unlock: bool = False,
          allow_empty_slots: bool = False, vault: VaultSettings | None = None,
          engine: EngineSettings | None = None) -> list[StackResult]:
    """Converge every environment's stack, in the catalog's order; without `yes`, show the
    plan and ask first.

    A deployment whose new config reads an empty or unreadable slot is held at its
    live config (aigw.stack.readiness) unless ALLOW_EMPTY_SLOTS, which is audited;
    the results say which (`StackResult.held`).
    """
    if not yes and confirm is None:
        raise UsageError("apply needs --yes when it cannot ask (stdin is not a terminal)",
                         hint="review with `aigw plan`, then run `aigw apply --yes`")
    from aigw.stack.sdkfix import no_outputs_after_up
    from aigw.stack.workspace import open_stack

    run = _Run.start(path, env, vault, engine)
    results = []
    for name in run.names:
        spec, readiness = ready_spec(run, name, allow_empty=allow_empty_slots)
        check_admin_keys(spec.limits)
        digest = fastplan.spec_digest(spec, run.vault.addr, run.cluster_id)
        label = f"{PROJECT}/{name}"
        with open_stack(name, run.engine, run.vault, run.program(spec, digest)) as handle:
            clear_locks(handle, echo, force=force_unlock)
            fresh, recorded = _why_refresh(run, handle, name, echo, asked=refresh)
            choice, how = run.choose(spec, name, digest, fresh=fresh, recorded=recorded)
            echo(choice.line(label, spec.resource_count))
            if not yes:
                preview = _preview(handle, fresh is not None, readiness, **how)
                preview.refresh = _refreshed_by(refresh, fresh is not None)
                preview.counts = choice.counts(preview.counts, spec.resource_count)
                for line in format_plan(label, preview.changes, preview.counts):
                    echo(line)
                for line in [*readiness.lines(ahead=True),
                             *plan_lines(spec.limit_notes, preview.changes)]:
                    echo(f"  ! {line}")
                if not preview.changed:
                    results.append(preview)
                    continue
                assert confirm is not None
                if not confirm(f"apply these changes to {label}?"):
                    echo(f"{label}: skipped")
                    results.append(preview)
                    continue
            echo(f"{label}: applying ({spec.resource_count} resources)")
            log = EventLog(on_step=Progress(echo, spec.resource_count))
            with engine_errors(label, "up"), no_outputs_after_up(handle.stack):
                handle.stack.up(on_event=log.on_event, refresh=fresh is not None, **how)
            done = log.done
            if choice.names is not None and not fastplan.replaced(run.engine, name, choice.mark):
                choice, log = _overtaken(handle, label, spec.resource_count, echo)
                done = [*done, *log.done]
            fastplan.record(run.engine, name, digest)
            counts = choice.counts(log.counts, spec.resource_count)
            result = StackResult(stack=label, changes=done, counts=counts, applied=True,
                                 readiness=readiness, apply_path=choice.path,
                                 refresh=_refreshed_by(refresh, fresh is not None))
            echo(f"{label}: {_done_line(counts)}")
            for line in [*readiness.lines(ahead=False), *plan_lines(spec.limit_notes, done)]:
                echo(f"  ! {line}")
            if allow_empty_slots:
                audit_overrides(run.catalog, readiness, connect(run.vault))
            results.append(result)
    return results


def _overtaken(handle: StackHandle, label: str, total: int, echo: Echo,
               ) -> tuple[Choice, EventLog]:
    """After a targeted `up` chosen against a state that another run replaced before this
    run's engine took the lock (fastplan.replaced): the full `up`, so every object matches
    this catalog, not a mix of both runs'."""
    from aigw.stack import targets
    from aigw.stack.sdkfix import no_outputs_after_up

    why = "another run updated the stack after this apply read its state"
    echo(f"{label}: {why}: running the full apply, so every object matches this catalog")
    log = EventLog(on_step=Progress(echo, total))
    with engine_errors(label, "up"), no_outputs_after_up(handle.stack):
        handle.stack.up(on_event=log.on_event)
    return targets.full(why), log


def _why_refresh(run: _Run, handle: StackHandle, name: str, echo: Echo, *, asked: bool,
                 ) -> tuple[str | None, fastplan.Recorded | None]:
    """Why apply has the engine refresh (None: it need not), and the state's resources aigw
    judged. A state recorded against another server is refreshed; else, when ASKED, aigw
    reads every object back first and the engine refreshes only if one drifted."""
    label = f"{PROJECT}/{name}"
    if _other_server(handle, run.cluster_id, run.vault.addr, echo):
        return "the state was recorded against another OpenBao", None
    if not asked:
        return None, None
    found = run.read_back(name, label, echo)
    # Drift: the full `up` runs, so the state read for the check is let go before it starts.
    return found.why, (found.recorded if found.clean else None)


def _done_line(counts: dict[str, int]) -> str:
    text = summary_line(counts)
    return (text.replace(" to create", " created").replace(" to update", " updated")
            .replace(" to delete", " deleted"))


def _state_resource_count(handle: StackHandle, label: str) -> int:
    """How many aigw resources the stack's state records (what a destroy will go through)."""
    with engine_errors(label, "stack export"):
        state = handle.stack.export_stack().deployment or {}
    return sum(1 for r in state.get("resources", [])
               if str(r.get("type", "")).startswith(TYPE_PREFIX))


def list_stacks(engine: EngineSettings, vault: VaultSettings) -> list[str]:
    """The names of the aigw stacks in the backend (environments applied so far)."""
    from aigw.stack.workspace import stack_names

    with engine_errors(PROJECT, "stack ls"):
        return stack_names(engine, vault)


def destroy(env: str | None = None, *, echo: Echo, yes: bool = False,
            confirm: Confirm | None = None, force_unlock: bool = False,
            vault: VaultSettings | None = None,
            engine: EngineSettings | None = None) -> list[StackResult]:
    """Delete what the stacks manage (policies, roles, unused slot entries), stack by stack.

    Mounts and auth methods stay (they are shared and hold key values and other
    roles); a slot entry that ever held a value keeps its data.
    """
    if not yes and confirm is None:
        raise UsageError("destroy needs --yes when it cannot ask (stdin is not a terminal)")
    from aigw.stack.workspace import open_stack

    vault = vault_ready(vault)
    engine = engine or current().engine
    names = _environments(sorted(list_stacks(engine, vault)), env)
    if not names:
        echo("no aigw stacks to destroy")
        return []
    if not yes:
        assert confirm is not None
        stacks = ", ".join(f"{PROJECT}/{n}" for n in names)
        if not confirm(f"destroy {stacks}: delete their policies, roles and empty slot "
                       f"entries in OpenBao at {vault.addr}?"):
            echo("nothing destroyed")
            return []
    results = []
    for name in names:
        label = f"{PROJECT}/{name}"
        with open_stack(name, engine, vault) as handle:
            clear_locks(handle, echo, force=force_unlock)
            log = EventLog(on_step=Progress(echo, _state_resource_count(handle, label)))
            with engine_errors(label, "destroy"):
                handle.stack.destroy(on_event=log.on_event)
        echo(f"{label}: destroyed ({deleted_count(log.done)} objects deleted; the mount and "
             "the auth methods stay, shared by every environment)")
        results.append(StackResult(stack=label, changes=log.done, counts=log.counts,
                                   applied=True))
    return results
