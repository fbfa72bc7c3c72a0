"""`aigw dev up|down|status|env`: the local OpenBao dev server and Pulumi backend."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, emit_json
from aigw.errors import EXIT_CHANGES, EXIT_OK, VaultError

app = typer.Typer(
    help="Run a local OpenBao dev server (in memory, or --persist) and a local Pulumi backend "
    "under .aigw/.",
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
def up(
    home: HomeOpt = None,
    port: Annotated[int | None, typer.Option(
        "--port", min=1, max=65535, help="Listen on this 127.0.0.1 port (default: the port of "
        "the last `aigw dev up`, else a free one; kept for the next start).")] = None,
    persist: Annotated[bool | None, typer.Option(
        "--persist/--no-persist", help="Keep keys and state across restarts: file storage "
        "under .aigw/dev/data, unsealed by aigw with a key kept beside it (DEVELOPMENT "
        "ONLY). Default: as last time; in memory the first time.")] = None,
) -> int:
    """Start the dev server (or reuse the running one), on the same port as last time."""
    from aigw import dev

    env = dev.up(_home(home), port=port, persist=persist)
    verb = "already running" if env.reused else "started"
    storage = "file storage in .aigw/dev/data" if env.persistent else "in memory"
    typer.echo(f"OpenBao dev server {verb} at {env.addr} (pid {env.pid}, {storage})")
    if env.persistent and not env.reused:
        typer.echo("note: --persist is for development only: aigw keeps the unseal key and "
                   "root token in .aigw/dev/ beside the data and unseals the server itself, so "
                   "whoever can read .aigw/ can read every key stored there; never put a real "
                   "production key in it")
    elif not env.reused:
        typer.echo("note: dev mode keeps data in memory; a restarted server is empty "
                   "(run `aigw apply` and `aigw keys` again, or start it with --persist)")
    typer.echo(f"Pulumi backend: file://{env.paths.pulumi}")
    typer.echo('use it in this shell: eval "$(aigw dev env)"')
    return EXIT_OK


@app.command()
def down(home: HomeOpt = None) -> int:
    """Stop the dev server. In memory, everything stored in it is gone; with --persist it is
    kept for the next `aigw dev up`. The Pulumi backend and the port are kept."""
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
        storage = ", file storage" if st.persistent else ", in memory"
        typer.echo(f"running at {st.addr} (pid {st.pid}, {health}{version}{storage})")
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
