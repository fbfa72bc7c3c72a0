"""`aigw status`: the fleet view, what each consumer reports it runs and how long ago.

Parses flags, calls aigw.fleet.fleet_status, prints a table (or `--json`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import EnvOpt, JsonOpt, PathArg, age_text
from aigw.commands.options import emit_json as _say
from aigw.errors import EXIT_OK


def _ago(seconds: float | None) -> str:
    return "?" if seconds is None else f"{age_text(seconds)} ago"


def status_cmd(path: PathArg = Path(), env: EnvOpt = None,
               service: Annotated[str | None, typer.Option("--service", "-s",
                                                           help="Only this service.")] = None,
               as_json: JsonOpt = False) -> int:
    """Per environment and service: the config revision and key fingerprints each consumer
    reports (its acknowledgements), and how long ago."""
    from aigw.catalog import load_catalog
    from aigw.context import current
    from aigw.fleet import fleet_status
    from aigw.vault import connect

    cat = load_catalog(path).catalog
    reports = fleet_status(cat, connect(current().vault), env, service)
    if as_json:
        _say({"services": [r.as_dict() for r in reports]})
        return EXIT_OK
    for r in reports:
        typer.echo(f"{r.env}/{r.service}  revision {r.revision or '-'}")
        for s in r.slots:
            head = f"  {s.provider}/{s.slot}: key {s.fingerprint or '(none)'}"
            if not s.instances:
                typer.echo(f"{head}, no report")
                continue
            typer.echo(f"{head}, {'acknowledged' if s.acknowledged else 'NOT acknowledged'}")
            for i in s.instances:
                key = "current key" if i["current_key"] else f"OLD key {i['fingerprint']}"
                rev = ("current revision" if i["current_revision"] else
                       f"revision {i['revision'] or '?'}")
                typer.echo(f"    {i['instance'] or '(one instance)'}: {key}, {rev}, "
                           f"{_ago(i['age_seconds'])}")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `status` to the app."""
    app.command("status")(status_cmd)
