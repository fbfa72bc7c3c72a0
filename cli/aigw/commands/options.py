"""Options and arguments shared by several commands, defined once.

Only typer and the standard library are imported here: every command module imports
this at start-up, and `aigw --help` must stay fast (benchmarks/startup.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aigw.commands import output

if TYPE_CHECKING:
    from aigw.stack.session import Confirm, StackResult

PathArg = Annotated[Path, typer.Argument(help="aigw.yaml, or a folder with aigw.yaml or "
                                         "catalog/*.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", callback=output.json_mode,
                                       help="Print one JSON document (docs/json.md).")]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")]
NeedEnv = Annotated[str, typer.Option("--env", "-e", help="The environment.")]
ProviderOpt = Annotated[str | None, typer.Option("--provider", "-p", help="Only this provider.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
# `aigw plan`, `apply` and `destroy` (one stack per environment).
StackEnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment "
                                                 "(default: every environment in turn, in the "
                                                 "catalog's order).")]
UnlockOpt = Annotated[bool, typer.Option("--force-unlock", help="Remove a lock on the stack "
                                         "even if its holder may be alive (a stale lock of a "
                                         "dead run on this host is removed without it).")]
PlanRefreshOpt = Annotated[bool, typer.Option(
    "--refresh/--no-refresh", help="Read every object back from OpenBao first, so drift made "
    "by hand shows too (default: off: compare the catalog with the recorded state).")]
ApplyRefreshOpt = Annotated[bool, typer.Option(
    "--refresh/--no-refresh", help="Read every object back from OpenBao first, so drift made "
    "by hand (or an emptied server) is repaired (default: on).")]


def duration_flag(text: str | None, flag: str) -> int | None:
    """The seconds a duration flag's TEXT (`10m`, `24h`) names; None when not given."""
    from aigw.catalog.models import parse_duration
    from aigw.errors import UsageError

    if text is None:
        return None
    try:
        return parse_duration(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a duration such as 10m, 30s or 24h") from None


def age_text(seconds: float) -> str:
    """How long SECONDS is, for text output: `45s`, `12m`, `3h`, `2d`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def emit_json(data: Any) -> None:
    """The command's `--json` fields: printed in the envelope of docs/json.md (output.py)."""
    output.emit(data)


def catalog_folder(path: Path) -> Path:
    """The folder a catalog path stands for (the path itself, or the file's folder)."""
    return path if path.is_dir() else path.parent


def rendered_folder(path: Path) -> Path:
    """Where `aigw render` writes by default: `rendered/` beside the catalog."""
    return catalog_folder(path) / "rendered"


def vault_client() -> Any:
    """The run's OpenBao client (aigw.context: flags, environment, or `aigw dev`)."""
    from aigw.context import current
    from aigw.vault import connect

    return connect(current().vault)


def confirm_on_tty() -> Confirm | None:
    """Ask on a terminal; None (so --yes is required) when stdin is not one."""
    if not sys.stdin.isatty():
        return None
    return lambda question: typer.confirm(question, default=False)


def stack_echo(line: str) -> None:
    """A stack run's progress line: stdout, or stderr under --json (stdout is the document's)."""
    typer.echo(line, err=output.active())


def emit_stack_results(results: list[StackResult]) -> None:
    """Under --json, the stacks' results and the deployments held (docs/json.md)."""
    if output.active():
        emit_json({"stacks": [r.as_dict() for r in results],
                   "held": [d.as_dict() for r in results for d in r.held]})
