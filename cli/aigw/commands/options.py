"""Options and arguments shared by several commands, defined once.

Only typer and the standard library are imported here: every command module imports
this at start-up, and `aigw --help` must stay fast (benchmarks/startup.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aigw.commands import output

PathArg = Annotated[Path, typer.Argument(help="aigw.yaml, or a folder with aigw.yaml or "
                                         "catalog/*.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", callback=output.json_mode,
                                       help="Print one JSON document (docs/json.md).")]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")]
NeedEnv = Annotated[str, typer.Option("--env", "-e", help="The environment.")]
ProviderOpt = Annotated[str | None, typer.Option("--provider", "-p", help="Only this provider.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


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
