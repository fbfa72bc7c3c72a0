"""`aigw tools install`: the pinned Pulumi engine, OPA and actionlint into aigw's cache.

Parses flags, calls aigw.tool_install.install, prints one line per tool.
"""

from __future__ import annotations

from typing import Annotated

import typer

from aigw.errors import EXIT_OK

app = typer.Typer(name="tools", help="The external tools aigw runs (Pulumi engine, OPA, "
                  "actionlint).", no_args_is_help=True, rich_markup_mode=None)


@app.command("install")
def install_cmd(
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Only this tool: pulumi, opa or actionlint (repeatable; default: all "
        "three).")] = None,
    release: Annotated[bool, typer.Option(
        "--release", help="Download the official release, checked against upstream's "
        "checksum file, instead of building from the Go module proxy.")] = False,
    mirror: Annotated[str | None, typer.Option(
        "--mirror", help="With --release: fetch https://HOST/PATH as MIRROR/HOST/PATH (an "
        "internal mirror).")] = None,
) -> int:
    """Build (or with --release download) the pinned tools into ${AIGW_CACHE:-~/.cache/aigw}.

    A tool already found (its AIGW_* variable, the cache, or PATH at the pinned
    version) is left alone. Building needs Go; the Pulumi engine takes about 4 minutes
    and 4 GB cold, OPA about 30 s with a warm Go module cache. Prints each tool's
    folder on stdout.
    """
    from aigw.tool_install import install

    for done in install(only, release=release, mirror=mirror,
                        say=lambda line: typer.echo(f"tools: {line}", err=True)):
        typer.echo(f"{done.name} v{done.version}: {done.how}, {done.folder}", err=True)
        typer.echo(str(done.folder))
    return EXIT_OK
