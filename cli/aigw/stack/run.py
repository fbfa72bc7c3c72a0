"""plan, apply and destroy the Vault stacks through the Automation API.

Each function runs every environment in turn (or the one asked for), prints
through `echo`, and returns one `StackResult` per stack. Failures come out as
aigw errors with one line: OpenBao unreachable or refusing (checked before the
engine starts, and mapped back from provider failures), a lock held by a live
run, or the engine's own error line.
"""

from __future__ import annotations

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
            fresh, recorded = _why_refresh(run, handle, name, echo, asked=refresh)
            choice, how = run.choose(spec, name, digest, fresh=fresh, recorded=recorded)
            echo(choice.line(label, spec.resource_count))
            if not yes:
                preview = engine_preview(handle, fresh is not None, readiness, **how)
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


def _why_refresh(run: Run, handle: StackHandle, name: str, echo: Echo, *, asked: bool,
                 ) -> tuple[str | None, fastplan.Recorded | None]:
    """Why apply has the engine refresh (None: it need not), and the state's resources aigw
    judged. A state recorded against another server is refreshed; else, when ASKED, aigw
    reads every object back first and the engine refreshes only if one drifted."""
    label = f"{PROJECT}/{name}"
    if other_server(handle, run.cluster_id, run.vault.addr, echo):
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
