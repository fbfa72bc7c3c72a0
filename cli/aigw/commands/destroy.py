"""`aigw destroy`: delete what the stacks manage in OpenBao/Vault; key values stay."""

from __future__ import annotations

import typer

from aigw.commands.options import StackEnvOpt, UnlockOpt, YesOpt, confirm_on_tty, stack_echo
from aigw.errors import EXIT_OK


def destroy(env: StackEnvOpt = None, yes: YesOpt = False, force_unlock: UnlockOpt = False) -> int:
    """Delete what the stacks manage (policies, roles, empty slot entries). Keeps key values."""
    from aigw.stack import run

    run.destroy(env, echo=stack_echo, yes=yes, confirm=None if yes else confirm_on_tty(),
                force_unlock=force_unlock)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `destroy` to the app."""
    app.command()(destroy)
