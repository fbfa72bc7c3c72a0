"""The one sink for machine output: every `--json` document aigw prints goes through here.

A command under `--json` hands its data to `emit()`; `aigw.cli.run` prints the
document once the command has finished, wrapped in the envelope of docs/json.md:

    {"schema": "aigw/<command>/v1", "ok": <exit code is 0>, "exit_code": N,
     "errors": [...], ...the command's fields}

so an error (an AigwError, a "no" at a prompt, even an unexpected one) still gives
stdout one JSON document, with `ok: false` and the error in `errors`, and the exit
code stays the documented one. The command name comes from the command line
(`aigw keys list` -> `keys-list`): the `--json` option's callback records it, so no
command spells its schema name. The JSON Schemas live in `schemas/` beside this
module (package data: the installed aigw carries the contract it prints).

Only typer and the standard library are imported (start-up path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from aigw.errors import AigwError

SCHEMAS = Path(__file__).resolve().parent / "schemas"
VERSION = 1


def schema_id(command: str) -> str:
    """`aigw/<command>/v1`: the `schema` field of COMMAND's documents."""
    return f"aigw/{command}/v{VERSION}"


def schema_file(command: str) -> Path:
    """The JSON Schema of COMMAND's documents (`schemas/<command>.v1.json`)."""
    return SCHEMAS / f"{command}.v{VERSION}.json"


@dataclass
class _Sink:
    running: bool = False               # inside aigw.cli.run, which flushes the document
    command: str | None = None          # set when --json (or --format json) was given
    data: dict[str, Any] | None = None  # what the command emitted
    errors: list[dict[str, Any]] = field(default_factory=list)


_sink = _Sink()


def command_name(ctx: typer.Context) -> str:
    """`keys-list` for `aigw keys list` (the words after the program name, dash-joined)."""
    return "-".join(ctx.command_path.split()[1:]) or "aigw"


def json_mode(ctx: typer.Context, value: bool) -> bool:
    """Callback of `--json`: from now on, the command's output is one JSON document."""
    if value:
        _sink.command = command_name(ctx)
    return value


def activate(ctx: typer.Context) -> None:
    """Switch to JSON for commands whose JSON is chosen another way (`diff --format json`)."""
    _sink.command = command_name(ctx)


def active() -> bool:
    """True when this run prints a JSON document."""
    return _sink.command is not None


def reset(*, running: bool = False) -> None:
    """Start afresh (the CLI runs many times in one test process); `aigw.cli.run` passes
    RUNNING so that it, not `emit`, prints the document once the command is done."""
    _sink.command, _sink.data, _sink.running = None, None, running
    _sink.errors = []


def emit(data: Mapping[str, Any] | list[Any]) -> None:
    """The command's JSON fields; printed by `flush` when the command returns.

    A list (an older command's shape) is carried as `{"items": [...]}`; commands give
    named fields (`{"slots": [...]}`) so the schema can say what they are.
    """
    body = dict(data) if isinstance(data, Mapping) else {"items": list(data)}
    if _sink.command is None or not _sink.running:
        # A sub-app invoked directly (not through aigw.cli.run, e.g. by a test runner):
        # nobody will flush, so print the fields now, without the envelope.
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    _sink.data = body


def add_error(exc: AigwError | None = None, *, message: str | None = None,
              kind: str | None = None) -> None:
    """Record an error for the document (a catalog error adds one entry per problem)."""
    from aigw.errors import CatalogError

    if isinstance(exc, CatalogError) or getattr(exc, "problems", None):
        # A catalog error, or another located one (an eval file's): one entry per problem.
        for p in exc.problems:  # type: ignore[union-attr]
            _sink.errors.append({"type": type(exc).__name__, "message": p.message,
                                 "hint": p.hint,
                                 "key": p.key, "file": p.mark.file, "line": p.mark.line,
                                 "column": p.mark.column})
    elif exc is not None:
        _sink.errors.append({"type": type(exc).__name__, "message": exc.message,
                             "hint": exc.hint})
    else:
        _sink.errors.append({"type": kind or "Error", "message": message or "", "hint": None})


def flush(exit_code: int) -> None:
    """Print the run's one JSON document on stdout (nothing unless --json was given)."""
    if _sink.command is None or not _sink.running:
        return
    doc: dict[str, Any] = dict(_sink.data or {})
    doc.update({"schema": schema_id(_sink.command), "ok": exit_code == 0,
                "exit_code": exit_code, "errors": list(_sink.errors)})
    typer.echo(json.dumps(doc, indent=2, sort_keys=True))
    reset()
