"""`aigw render`: write each deployment's files (or, with --check, print the plan and the diff)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, PathArg, emit_json, rendered_folder
from aigw.errors import EXIT_CHANGES, EXIT_OK


def render(
    path: PathArg = Path(),
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this service.")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: "
                                             "rendered/ beside the catalog).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; print the plan (what "
                                        "would be written and removed) and a diff, and exit 1 "
                                        "when the files on disk differ.")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Render per-service configs (aigw-client.json, LiteLLM, dotenv, agent) into a folder."""
    from aigw.catalog import load_catalog
    from aigw.render_sync import render_into

    loaded = load_catalog(path)
    if out is None:
        out = rendered_folder(path)
    result = render_into(loaded, out, env=env, service=service, check=check)
    if as_json:
        emit_json({"out": str(out), "check": check, "written": result.written,
                   "removed": result.removed, "unchanged": len(result.unchanged),
                   "kept": result.kept, "deployments": result.deployments,
                   "committable": result.committable,
                   "deployments_unchanged": result.skipped})
    elif check:
        if result.changed:
            typer.echo("\n".join([*result.plan(), result.diff]), nl=False)
            typer.echo(f"render --check: {len(result.written)} file(s) differ, "
                       f"{len(result.removed)} to remove in {out} (run `aigw render`)", err=True)
        else:
            typer.echo(f"render --check: {out} is up to date ({len(result.unchanged)} files)")
    else:
        typer.echo(f"rendered {len(result.written) + len(result.unchanged)} files into {out}: "
                   f"{len(result.written)} written, {len(result.unchanged)} unchanged, "
                   f"{len(result.removed)} removed; {result.skipped} of {result.deployments} "
                   "deployments unchanged since the last render (not rendered again)")
    if result.kept and not as_json:
        shown = ", ".join(result.kept[:5]) + (" ..." if len(result.kept) > 5 else "")
        typer.echo(f"left alone {len(result.kept)} file(s) aigw render did not write: {shown}",
                   err=True)
    if result.committable:
        shown = ", ".join(result.committable[:3]) + (" ..." if len(result.committable) > 3
                                                      else "")
        typer.echo(f"warning: git would commit what an agent writes: {shown} (in a git work "
                   "tree and not git-ignored; hint: put key_dir outside the repository, or "
                   "git-ignore it)", err=True)
    return EXIT_CHANGES if check and result.changed else EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `render` to the app."""
    app.command()(render)
