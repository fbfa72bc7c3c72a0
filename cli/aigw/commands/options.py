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


def emit_json(data: Any) -> None:
    """The command's `--json` fields: printed in the envelope of docs/json.md (output.py)."""
    output.emit(data)


def catalog_folder(path: Path) -> Path:
    """The folder a catalog path stands for (the path itself, or the file's folder)."""
    return path if path.is_dir() else path.parent


def rendered_folder(path: Path) -> Path:
    """Where `aigw render` writes by default: `rendered/` beside the catalog."""
    return catalog_folder(path) / "rendered"
