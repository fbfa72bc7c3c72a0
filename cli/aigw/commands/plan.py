"""`aigw plan`: preview what `aigw apply` would change in OpenBao/Vault."""

from __future__ import annotations

from pathlib import Path

import typer

from aigw.commands.options import (
    JsonOpt,
    PathArg,
    PlanRefreshOpt,
    StackEnvOpt,
    UnlockOpt,
    emit_stack_results,
    stack_echo,
)
from aigw.errors import EXIT_CHANGES, EXIT_OK


def plan(path: PathArg = Path(), env: StackEnvOpt = None, refresh: PlanRefreshOpt = False,
         force_unlock: UnlockOpt = False, as_json: JsonOpt = False) -> int:
    """Preview the Vault/OpenBao changes and the configs apply would publish or hold.

    Flags each deployment whose new config reads a slot with no key, or one its
    policy cannot read (apply holds it), and each whose agent must be restarted.
    Exit 0 when nothing would change, 1 when changes are pending (held ones too).
    """
    from aigw.stack import run

    results = run.plan(path, env, echo=stack_echo, refresh=refresh, force_unlock=force_unlock)
    emit_stack_results(results)
    return EXIT_CHANGES if any(r.changed for r in results) else EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `plan` to the app."""
    app.command()(plan)
