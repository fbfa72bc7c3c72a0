"""`aigw plan`, `aigw apply`, `aigw destroy`: converge OpenBao/Vault through the Pulumi stacks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aigw.commands.options import PathArg, YesOpt
from aigw.errors import EXIT_CHANGES, EXIT_OK

if TYPE_CHECKING:
    from aigw.stack.run import Confirm

EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment "
                                            "(default: every environment in turn).")]
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
    typer.echo(line)


def plan(path: PathArg = Path(), env: EnvOpt = None, refresh: PlanRefreshOpt = False,
         force_unlock: UnlockOpt = False) -> int:
    """Preview the Vault/OpenBao changes. Exit 0 when none, 1 when changes are pending."""
    from aigw.stack import run

    results = run.plan(path, env, echo=_echo, refresh=refresh, force_unlock=force_unlock)
    return EXIT_CHANGES if any(r.changed for r in results) else EXIT_OK


def apply(path: PathArg = Path(), env: EnvOpt = None, yes: YesOpt = False,
          refresh: ApplyRefreshOpt = True, force_unlock: UnlockOpt = False) -> int:
    """Converge Vault/OpenBao to the catalog: mounts, key slot metadata, policies, roles."""
    from aigw.stack import run

    run.apply(path, env, echo=_echo, yes=yes, confirm=None if yes else _confirm(),
              refresh=refresh, force_unlock=force_unlock)
    return EXIT_OK


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
