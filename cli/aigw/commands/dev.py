"""`aigw dev up|down|status|env`: the local OpenBao dev server and Pulumi backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, emit_json
from aigw.errors import EXIT_CHANGES, EXIT_OK, VaultError

app = typer.Typer(
    help="Run a local OpenBao dev server (in memory) and a local Pulumi backend under .aigw/.",
    no_args_is_help=True,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Project folder holding .aigw/ (default: $AIGW_HOME, else the "
                 "nearest folder above the current one holding .aigw/, else the current one)."),
]


def _home(home: Path | None) -> Path:
    from aigw.context import current

    return home.resolve() if home is not None else current().home


@app.command()
def up(home: HomeOpt = None) -> int:
    """Start the dev server (or reuse the running one). Its data lives in memory only."""
    from aigw import dev

    env = dev.up(_home(home))
    verb = "already running" if env.reused else "started"
    typer.echo(f"OpenBao dev server {verb} at {env.addr} (pid {env.pid})")
    if not env.reused:
        typer.echo("note: dev mode keeps data in memory; a restarted server is empty "
                   "(run `aigw apply` and `aigw keys` again)")
    typer.echo(f"Pulumi backend: file://{env.paths.pulumi}")
    typer.echo('use it in this shell: eval "$(aigw dev env)"')
    return EXIT_OK


@app.command()
def down(home: HomeOpt = None) -> int:
    """Stop the dev server; everything stored in it is gone. The Pulumi backend is kept."""
    from aigw import dev

    pid = dev.down(_home(home))
    typer.echo(f"stopped OpenBao dev server (pid {pid})" if pid else "no dev server running")
    return EXIT_OK


@app.command()
def status(
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> int:
    """Show whether the dev server runs and is healthy. Exit 1 when it is not."""
    from aigw import dev

    st = dev.status(_home(home))
    if as_json:
        emit_json(st.as_dict())
    elif not st.running:
        typer.echo("stopped")
    else:
        health = "healthy" if st.healthy else ("sealed" if st.sealed else "not answering")
        version = f", OpenBao {st.version}" if st.version else ""
        typer.echo(f"running at {st.addr} (pid {st.pid}, {health}{version})")
    return EXIT_OK if st.running and st.healthy else EXIT_CHANGES


@app.command("env")
def env_(home: HomeOpt = None) -> int:
    """Print `export` lines for BAO_ADDR/BAO_TOKEN and the Pulumi backend: eval "$(aigw dev env)".

    The token printed is the dev server's throwaway root token.
    """
    from aigw import dev

    where = _home(home)
    running = dev.running_server(where)
    if running is None:
        raise VaultError(f"no OpenBao dev server running under {where}", hint="run `aigw dev up`")
    for line in running.exports():
        typer.echo(line)
    return EXIT_OK
