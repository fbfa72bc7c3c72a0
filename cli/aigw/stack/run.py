"""plan, apply and destroy the Vault stacks through the Automation API.

Each function runs every environment in turn (or the one asked for), prints
through `echo`, and returns one `StackResult` per stack. Failures come out as
aigw errors with one line: OpenBao unreachable or refusing (checked before the
engine starts, and mapped back from provider failures), a lock held by a live
run, or the engine's own error line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aigw.context import EngineSettings, current
from aigw.errors import UsageError
from aigw.stack import fastplan
from aigw.stack.ids import PROJECT
from aigw.stack.limits import check_admin_keys, plan_lines
from aigw.stack.readiness import EnvReadiness, audit_overrides
from aigw.stack.report import (
    TYPE_PREFIX,
    EventLog,
    Progress,
    deleted_count,
    format_plan,
    summary_line,
)
from aigw.stack.session import (
    Confirm,
    Echo,
    Run,
    StackResult,
    clear_locks,
    engine_errors,
    engine_preview,
    environments,
    other_server,
    ready_spec,
    vault_ready,
)
from aigw.stack.spec import EnvSpec
from aigw.vault import VaultSettings, connect

if TYPE_CHECKING:
    from aigw.stack.targets import Choice
    from aigw.stack.workspace import StackHandle

# The Pulumi SDK (~1 s to import) and the modules over it (workspace, program, sdkfix)
# are imported where the engine runs: a plan answered from the fingerprint never needs them.


def plan(path: Path, env: str | None = None, *, echo: Echo, refresh: bool = False,
         force_unlock: bool = False, vault: VaultSettings | None = None,
         engine: EngineSettings | None = None) -> list[StackResult]:
    """Preview every environment's stack and print what would change.

    Without `refresh` the catalog is compared with the recorded state (what a
    catalog change does); with it, every object is read back from OpenBao first
    so drift made by hand shows too (what `apply`, which refreshes, would do).
    """
    run = Run.start(path, env, vault, engine)
    results = []
    for name in run.names:
        spec, readiness = ready_spec(run, name)
        label = f"{PROJECT}/{name}"
        digest = fastplan.spec_digest(spec, run.vault.addr, run.cluster_id)
        if refresh:
            check_admin_keys(spec.limits)
        engine_refresh = refresh and not run.read_back(name, label, echo,
                                                        until_first=True).clean
        why = ("--refresh: the engine refreshes every object" if engine_refresh
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


def _engine_plan(run: Run, name: str, spec: EnvSpec, readiness: EnvReadiness, echo: Echo,
                 *, refresh: bool, force_unlock: bool, digest: str) -> StackResult:
    from aigw.stack.workspace import open_stack

    with open_stack(name, run.engine, run.vault, run.program(spec, digest)) as handle:
        clear_locks(handle, echo, force=force_unlock)
        moved = not refresh and other_server(handle, run.cluster_id, run.vault.addr, echo)
        result = engine_preview(handle, refresh or moved, readiness)
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

    run = Run.start(path, env, vault, engine)
    results = []
    for name in run.names:
        spec, readiness = ready_spec(run, name, allow_empty=allow_empty_slots)
        check_admin_keys(spec.limits)
        digest = fastplan.spec_digest(spec, run.vault.addr, run.cluster_id)
        label = f"{PROJECT}/{name}"
        with open_stack(name, run.engine, run.vault, run.program(spec, digest)) as handle:
            clear_locks(handle, echo, force=force_unlock)
            fresh = _read_back(run, handle, name, echo, asked=refresh)
            choice, how = run.choose(spec, name, digest, fresh=fresh.full,
                                     recorded=fresh.recorded)
            echo(choice.line(label, spec.resource_count))
            if not yes:
                preview = engine_preview(handle, fresh.full is not None, readiness, **how)
                preview.refresh = fresh.by
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
                handle.stack.up(on_event=log.on_event, refresh=fresh.full is not None, **how)
            done = log.done
            if choice.names is not None and not fastplan.replaced(run.engine, name, choice.mark):
                choice, log = _overtaken(handle, label, spec.resource_count, echo)
                done = [*done, *log.done]
            fastplan.record(run.engine, name, digest)
            counts = choice.counts(log.counts, spec.resource_count)
            result = StackResult(stack=label, changes=done, counts=counts, applied=True,
                                 readiness=readiness, apply_path=choice.path,
                                 refresh=fresh.by)
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


@dataclass(frozen=True)
class _Refresh:
    """How apply reads OpenBao back before its `up`."""

    full: str | None = None  # the engine refreshes every object in `up`, for this reason
    recorded: fastplan.Recorded | None = None  # the state aigw judged, nothing drifted
    by: str | None = None  # StackResult.refresh: "aigw", "engine", or None (no refresh)


def _read_back(run: Run, handle: StackHandle, name: str, echo: Echo, *, asked: bool,
               ) -> _Refresh:
    """A state recorded against another server: the engine refreshes everything. Else, when
    ASKED, aigw reads every object back (aigw.stack.drift); what drifted, and only that,
    the engine then refreshes (`refresh --target`), so the targeted `up` can still run; a
    state aigw cannot judge, or too many objects drifted, and the engine refreshes all."""
    from aigw.stack.targets import MAX_TARGETS

    label = f"{PROJECT}/{name}"
    if other_server(handle, run.cluster_id, run.vault.addr, echo):
        return _Refresh(full="the state was recorded against another OpenBao", by="engine")
    if not asked:
        return _Refresh()
    found = run.read_back(name, label, echo)
    if found.clean:
        return _Refresh(recorded=found.recorded, by="aigw")
    # Drift: the state read for the check is let go before the engine runs.
    if not found.urns or len(found.urns) > MAX_TARGETS:
        return _Refresh(full=str(found.why), by="engine")
    what = "that object" if len(found.urns) == 1 else f"those {len(found.urns)} objects"
    echo(f"{label}: the engine refreshes {what} (the rest read back as recorded)")
    with engine_errors(label, "refresh"):
        handle.stack.refresh(target=list(found.urns))
    return _Refresh(by="engine")


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
    names = environments(sorted(list_stacks(engine, vault)), env)
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
