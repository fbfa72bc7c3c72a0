"""`aigw init`: scaffold a catalog repository, or refresh the files aigw owns in one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import YesOpt
from aigw.errors import EXIT_OK


def init(
    folder: Annotated[Path, typer.Argument(help="Where to create the catalog repository.")]
    = Path(),
    update: Annotated[bool, typer.Option("--update", help="Refresh only the files aigw owns "
                                         "(workflows, the setup-aigw action, the pre-commit "
                                         "config); the catalog and policies stay as they are."
                                         )] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite every scaffold file, the "
                                        "catalog and policies included (names them and asks; "
                                        "without a terminal it needs --yes).")] = False,
    install_source: Annotated[str | None, typer.Option(
        "--install-source", help="What CI pip-installs aigw from (default: where this aigw "
        "came from, else aigw[cli]==VERSION; docs/ci.md).")] = None,
    yes: YesOpt = False,
) -> int:
    """Scaffold a catalog repo: example catalog, policies, CI workflows, .gitignore, README."""
    from aigw.errors import UsageError
    from aigw.scaffold import init_repo, plan_init, write_init
    from aigw.scaffold.source import detect

    if update and force:
        raise UsageError("--update and --force do not go together",
                         hint="--update refreshes aigw's own files; --force overwrites all")
    source, note = (install_source, None) if install_source else detect()
    if force:
        plan = plan_init(folder, install_source=source)
        if plan.overwrite and not yes:
            _confirm_overwrite(plan.overwrite)
        result = write_init(plan)
    else:
        result = init_repo(folder, update=update, install_source=source)
    for verb, rels in (("create   ", result.written), ("overwrite", result.overwritten),
                       ("unchanged", result.unchanged if update else []),
                       ("keep     ", result.kept)):
        for rel in rels:
            typer.echo(f"  {verb} {rel}")
    typer.echo(f"CI installs aigw from: {source}")
    if note:
        typer.echo(f"note: {note}", err=True)
    if update:
        typer.echo(f"refreshed aigw's own files in {folder}: {len(result.written)} created, "
                   f"{len(result.overwritten)} updated, {len(result.unchanged)} unchanged; "
                   "catalog and policies untouched")
    else:
        typer.echo(f"initialised an aigw catalog repository in {folder}\n"
                   "next: aigw validate && aigw policy check && aigw render, then commit; "
                   "see README.md for CI setup")
    return EXIT_OK


def _confirm_overwrite(paths: list[str]) -> None:
    """Name what --force overwrites; ask on a terminal, refuse without one (needs --yes)."""
    import sys

    from aigw.errors import UsageError

    names = ", ".join(paths)
    if not sys.stdin.isatty():
        raise UsageError(f"init --force would overwrite {len(paths)} file(s): {names}",
                         hint="pass --yes to overwrite them, or --update to refresh only "
                         "aigw's own files")
    typer.echo(f"init --force overwrites {len(paths)} file(s):", err=True)
    for rel in paths:
        typer.echo(f"  {rel}", err=True)
    typer.confirm("Overwrite them?", default=False, abort=True)


def register(app: typer.Typer) -> None:
    """Add `init` to the app."""
    app.command()(init)
