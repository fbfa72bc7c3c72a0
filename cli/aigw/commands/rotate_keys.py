"""`aigw rotate-keys`: rotate provider keys with zero downtime, resumable.

Parses flags, takes OpenBao from the run's context (aigw.context), calls
aigw.rotation.runner.rotate_keys and prints: one line per slot for people, `--json`
for machines, progress lines on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aigw.commands.options import (
    EnvOpt,
    JsonOpt,
    PathArg,
    ProviderOpt,
    YesOpt,
    duration_flag,
    vault_client,
)
from aigw.commands.options import emit_json as _say
from aigw.errors import RotationError, RotationInProgress, UsageError

if TYPE_CHECKING:
    from aigw.rotation.progress import Progress


def _progress(p: Progress) -> None:
    arrow = p.detail if p.to_state in ("note", "failed", "waiting") else (
        f"{p.from_state or '-'} -> {p.to_state}" + (f" ({p.detail})" if p.detail else ""))
    label = {"note": "note: ", "failed": "failed: "}.get(p.to_state, "")
    typer.echo(f"rotate {p.slot}: {label}{arrow}", err=True)


def rotate_keys_cmd(
    path: PathArg = Path(),
    env: EnvOpt = None,
    provider: ProviderOpt = None,
    slot: Annotated[str | None, typer.Option("--slot", help="Only this slot.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only keys older than max_age.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing; exit 1 when "
                                          "something would be done.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Only continue rotations in "
                                         "progress.")] = False,
    finish: Annotated[bool, typer.Option("--finish", help="Like --resume, and finish rotations "
                                         "whose grace period is over.")] = False,
    abort: Annotated[bool, typer.Option("--abort", help="Give up rotations in progress whose "
                                        "new key is not promoted yet (it is revoked; the old "
                                        "key stays).")] = False,
    grace: Annotated[str | None, typer.Option("--grace", help="Grace period after promotion "
                                              "(never below agent_refresh; fixed once a key "
                                              "is promoted: a longer one only delays).")] = None,
    override_grace: Annotated[bool, typer.Option("--override-grace", help="Allow --grace to "
                                                 "shorten the grace recorded at promotion "
                                                 "(needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the grace is overridden "
                                               "(recorded in the audit trail).")] = None,
    wait: Annotated[str | None, typer.Option("--wait", help="Wait this long for evidence that "
                                             "consumers moved (default: do not wait).")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> int:
    """Rotate provider keys with zero downtime; resumable after any interruption."""
    from aigw.catalog import load_catalog
    from aigw.rotation.runner import RotateOptions, rotate_keys, timing_from_env
    from aigw.slots import put as core
    from aigw.slots.targets import select_targets

    loaded = load_catalog(path)
    options = RotateOptions(env=env, provider=provider, slot=slot, due=due, resume=resume,
                            finish=finish, dry_run=dry_run, grace=duration_flag(grace, "--grace"),
                            abort=abort, override_grace=override_grace, reason=reason)
    continuing = (resume or finish or abort) and not due  # as the runner selects
    select_targets(loaded.catalog, env, provider, slot,  # unknown names fail before Vault
                   read_only=not continuing)
    if not (yes or dry_run):
        if not sys.stdin.isatty():
            raise UsageError("rotate-keys changes provider keys: pass --yes (or --dry-run)")
        typer.confirm("Rotate the selected keys?", abort=True)
    client = vault_client()
    timing = timing_from_env(wait=duration_flag(wait, "--wait"))
    result = rotate_keys(loaded, client, options, timing=timing,
                         secret_input=core.StdinSecretInput(), reporter=_progress)
    if as_json:
        _say(result.as_dict())
    else:
        skipped: dict[str, int] = {}
        for o in result.outcomes:
            if o.status == "skipped":  # summarised below, one line for all of them
                skipped[o.message or "skipped"] = skipped.get(o.message or "skipped", 0) + 1
                continue
            extra = f" [{o.state}]" if o.state and o.status != "done" else ""
            typer.echo(f"{o.slot}: {o.status}{extra}" + (f": {o.message}" if o.message else ""))
            for note in o.notes:
                if note.startswith(("revoke", "grace shortened", "the new key was not")):
                    typer.echo(f"  {note}")
        if skipped:
            total = sum(skipped.values())
            whys = sorted(skipped.items())
            typer.echo(f"skipped {total} slot(s): " + (whys[0][0] if len(whys) == 1 else
                       ", ".join(f"{n} {why}" for why, n in whys)))
        if result.by_status("waiting"):
            typer.echo("the old keys stay valid until consumers have moved: rerun `aigw "
                       "rotate-keys --resume` (with --wait 10m to wait), or `--finish` once "
                       "the grace period is over")
    failed = result.by_status("failed", "aborted")
    if failed:
        # A slot's message may carry its own hint already: never add a second one.
        own = any("(hint: " in o.message for o in failed)
        raise RotationError(f"{len(failed)} slot(s) failed: " + "; ".join(
            f"{o.slot}: {o.message}" for o in failed),
            hint=None if own else "fix the cause and rerun; the journal resumes where it "
            "stopped")
    busy = result.by_status("in-progress")
    if busy:
        raise RotationInProgress("; ".join(o.message for o in busy))
    return result.exit_code


def register(app: typer.Typer) -> None:
    """Add `rotate-keys` to the app."""
    app.command("rotate-keys")(rotate_keys_cmd)
