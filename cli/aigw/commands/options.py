"""Options and arguments shared by several commands, defined once.

Only typer and the standard library are imported here: every command module imports
this at start-up, and `aigw --help` must stay fast (benchmarks/startup.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

PathArg = Annotated[Path, typer.Argument(help="aigw.yaml, or a folder with aigw.yaml or "
                                         "catalog/*.yaml.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
EnvOpt = Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")]
NeedEnv = Annotated[str, typer.Option("--env", "-e", help="The environment.")]
ProviderOpt = Annotated[str | None, typer.Option("--provider", "-p", help="Only this provider.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout (sorted keys, indented)."""
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def catalog_folder(path: Path) -> Path:
    """The folder a catalog path stands for (the path itself, or the file's folder)."""
    return path if path.is_dir() else path.parent


def rendered_folder(path: Path) -> Path:
    """Where `aigw render` writes by default: `rendered/` beside the catalog."""
    return catalog_folder(path) / "rendered"
