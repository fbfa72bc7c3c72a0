"""`aigw apply`: converge OpenBao/Vault to the catalog and publish each service's config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import (
    ApplyRefreshOpt,
    JsonOpt,
    PathArg,
    StackEnvOpt,
    UnlockOpt,
    YesOpt,
    confirm_on_tty,
    emit_stack_results,
    stack_echo,
)
from aigw.errors import EXIT_CHANGES, EXIT_OK

AllowEmptyOpt = Annotated[bool, typer.Option(
    "--allow-empty-slots", help="Publish configs even when they read a slot with no key "
    "or one their policy cannot read (their services get no_key); audited.")]


def apply(path: PathArg = Path(), env: StackEnvOpt = None, yes: YesOpt = False,
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

    results = run.apply(path, env, echo=stack_echo, yes=yes,
                        confirm=None if yes else confirm_on_tty(),
                        refresh=refresh, force_unlock=force_unlock,
                        allow_empty_slots=allow_empty_slots)
    emit_stack_results(results)
    return EXIT_CHANGES if any(r.held for r in results) else EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `apply` to the app."""
    app.command()(apply)
