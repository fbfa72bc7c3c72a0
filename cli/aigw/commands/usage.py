"""`aigw usage`: spend per service from the providers' own reports, with budgets.

Parses flags, calls aigw.usage.usage_report, prints text, markdown or JSON
(one document: docs/json.md); `--check-budgets` exits 1 when a service is over
its budget or forecast to be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, PathArg
from aigw.commands.options import emit_json as _say
from aigw.errors import EXIT_CHANGES, EXIT_OK, UsageError


def _days(text: str) -> int:
    t = text.strip().lower()
    if t.endswith("d") and t[:-1].isdigit() and 0 < int(t[:-1]) <= 366:
        return int(t[:-1])
    raise UsageError(f"--since {text!r}: expected a number of days such as 7d or 30d")


def usage_cmd(
    path: PathArg = Path(),
    env: Annotated[str | None, typer.Option("--env", "-e",
                                            help="The environment (default: prod).")] = None,
    since: Annotated[str, typer.Option("--since", help="How far back: 7d, 30d...")] = "7d",
    by: Annotated[str, typer.Option("--by", help="service, alias, provider, model or slot.")
                  ] = "service",
    fmt: Annotated[str, typer.Option("--format", help="text or markdown.")] = "text",
    check_budgets: Annotated[bool, typer.Option(
        "--check-budgets", help="Exit 1 when a service is over its budget or on track to be."
    )] = False,
    as_json: JsonOpt = False,
) -> int:
    """Spend per service (or alias, provider, model, slot) from the providers' usage and cost
    reports, mapped to services through the rotation inventory; budgets and forecast."""
    from aigw.catalog import load_catalog
    from aigw.context import current
    from aigw.usage import BY, key_index, usage_report
    from aigw.usage.render import as_json as to_json
    from aigw.usage.render import markdown, text
    from aigw.vault import connect

    if by not in BY:
        raise UsageError(f"--by {by!r}: expected one of {', '.join(BY)}")
    if fmt not in ("text", "markdown"):
        raise UsageError(f"--format {fmt!r}: expected text or markdown")
    days = _days(since)
    cat = load_catalog(path).catalog
    name = env or ("prod" if "prod" in cat.environments else sorted(cat.environments)[0])
    if name not in cat.environments:
        raise UsageError(f"unknown environment '{name}'",
                         hint=f"known: {', '.join(sorted(cat.environments))}")
    index = key_index(cat, connect(current().vault), name)
    report = usage_report(cat, name, index, since_days=days, by=by)
    doc = to_json(report)
    if as_json:
        _say(doc)
    else:
        typer.echo(markdown(doc) if fmt == "markdown" else text(doc), nl=False)
    return EXIT_CHANGES if check_budgets and report.budget_alert else EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `usage` to the app."""
    app.command("usage")(usage_cmd)
