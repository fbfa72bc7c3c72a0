"""`aigw plan`, `aigw apply`, `aigw destroy`: converge OpenBao/Vault through the Pulumi stacks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aigw.commands import output
from aigw.commands.options import JsonOpt, PathArg, YesOpt, emit_json
from aigw.errors import EXIT_CHANGES, EXIT_OK

if TYPE_CHECKING:
    from aigw.stack.run import Confirm, StackResult

EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment "
                                            "(default: every environment in turn, in the "
                                            "catalog's order).")]
AllowEmptyOpt = Annotated[bool, typer.Option(
    "--allow-empty-slots", help="Publish configs even when they read a slot with no key "
    "or one their policy cannot read (their services get no_key); audited.")]
PlanRefreshOpt = Annotated[bool, typer.Option(
    "--refresh/--no-refresh", help="Read every object back from OpenBao first, so drift made "
    "by hand shows too (default: off: compare the catalog with the recorded state).")]
ApplyRefreshOpt = Annotated[bool, typer.Option(
    "--refresh/--no-refresh", help="Read every object back from OpenBao first, so drift made "
    "by hand (or an emptied server) is repaired (default: on).")]
UnlockOpt = Annotated[bool, typer.Option("--force-unlock", help="Remove a lock on the stack "
                                         "even if its holder may be alive (a stale lock of a "
                                         "dead run on this host is removed without it).")]


def _confirm() -> Confirm | None:
    """Ask on a terminal; None (so --yes is required) when stdin is not one."""
    if not sys.stdin.isatty():
        return None
    return lambda question: typer.confirm(question, default=False)


def _echo(line: str) -> None:
    typer.echo(line, err=output.active())  # under --json, stdout is the document's


def _emit(results: list[StackResult]) -> None:
    if output.active():
        emit_json({"stacks": [r.as_dict() for r in results],
                   "held": [d.as_dict() for r in results for d in r.held]})


def plan(path: PathArg = Path(), env: EnvOpt = None, refresh: PlanRefreshOpt = False,
         force_unlock: UnlockOpt = False, as_json: JsonOpt = False) -> int:
    """Preview the Vault/OpenBao changes and the configs apply would publish or hold.

    Flags each deployment whose new config reads a slot with no key, or one its
    policy cannot read (apply holds it), and each whose agent must be restarted.
    Exit 0 when nothing would change, 1 when changes are pending (held ones too).
    """
    from aigw.stack import run

    results = run.plan(path, env, echo=_echo, refresh=refresh, force_unlock=force_unlock)
    _emit(results)
    return EXIT_CHANGES if any(r.changed for r in results) else EXIT_OK


def apply(path: PathArg = Path(), env: EnvOpt = None, yes: YesOpt = False,
          refresh: ApplyRefreshOpt = True, force_unlock: UnlockOpt = False,
          allow_empty_slots: AllowEmptyOpt = False, as_json: JsonOpt = False) -> int:
    """Converge OpenBao to the catalog and publish each service's live config.

    Writes mounts, key slot metadata, policies, roles, and every deployment's
    aigw-client.json: running services switch to a published config within
    seconds, without a restart. A deployment whose new config reads a slot with
    no key (or one its policy cannot read) is held at its live config, policy
    and slots, and apply exits 1 naming the `aigw keys put` that fills them;
    the rest applies. Environments go in the catalog's order.
    """
    from aigw.stack import run

    results = run.apply(path, env, echo=_echo, yes=yes, confirm=None if yes else _confirm(),
                        refresh=refresh, force_unlock=force_unlock,
                        allow_empty_slots=allow_empty_slots)
    _emit(results)
    return EXIT_CHANGES if any(r.held for r in results) else EXIT_OK


def destroy(env: EnvOpt = None, yes: YesOpt = False, force_unlock: UnlockOpt = False) -> int:
    """Delete what the stacks manage (policies, roles, empty slot entries). Keeps key values."""
    from aigw.stack import run

    run.destroy(env, echo=_echo, yes=yes, confirm=None if yes else _confirm(),
                force_unlock=force_unlock)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add plan, apply and destroy to the app."""
    app.command()(plan)
    app.command()(apply)
    app.command()(destroy)
