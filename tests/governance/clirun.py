"""Register the governance commands on the app (until cli.py wires them itself)."""

from __future__ import annotations

from aigw import cli
from aigw.commands import governance


def ensure_registered() -> None:
    """Add `policy`, `diff` and `init` to the app once, unless cli.py already does."""
    cli._register()
    names = {c.name or (c.callback.__name__ if c.callback else "")
             for c in cli.app.registered_commands}
    groups = {g.name for g in cli.app.registered_groups}
    if "diff" not in names and "policy" not in groups:
        governance.register(cli.app)
