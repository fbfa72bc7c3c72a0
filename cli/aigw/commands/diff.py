"""`aigw diff`: what a catalog change does, as text, a PR comment (markdown) or JSON."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, PathArg, emit_json
from aigw.errors import EXIT_OK


class Format(StrEnum):
    """Output formats of `aigw diff`."""

    text = "text"
    markdown = "markdown"
    json = "json"


def _format_mode(ctx: typer.Context, value: Format) -> Format:
    """`--format json` is this command's `--json` (docs/json.md)."""
    from aigw.commands import output

    if value is Format.json:
        output.activate(ctx)
    return value


def diff(
    path: PathArg = Path(),
    base: Annotated[str | None, typer.Option("--base", help="The git revision to compare with "
                                             "(default: origin/main if it exists, else HEAD).")]
    = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="text, markdown (a PR comment) "
                                        "or json (the same as --json).",
                                        callback=_format_mode)] = Format.text,
    plan: Annotated[bool, typer.Option("--plan/--no-plan", help="Include the Vault plan (needs "
                                       "OpenBao and the Pulumi engine; default: on).")] = True,
    limit: Annotated[int | None, typer.Option("--limit", help="Markdown size cap in characters "
                                              "(default: what a GitHub comment holds).",
                                              min=2000)] = None,
    as_json: JsonOpt = False,
) -> int:
    """What a catalog change does: per-service effects, rendered diffs, policy, Vault plan."""
    from aigw.diff import COMMENT_LIMIT, build_report, format_markdown, format_text
    from aigw.errors import UsageError

    if as_json and fmt is Format.markdown:
        raise UsageError("--json and --format markdown ask for two outputs",
                         hint="choose one (--format json is the same as --json)")
    report = build_report(path, base_ref=base, env=env, plan=plan)
    if as_json or fmt is Format.json:
        emit_json(report.as_dict())
    elif fmt is Format.markdown:
        typer.echo(format_markdown(report, limit=limit or COMMENT_LIMIT), nl=False)
    else:
        typer.echo(format_text(report), nl=False)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `diff` to the app."""
    app.command()(diff)
