"""The `aigw` command line: parse flags, call the core, print, map errors to exit codes.

This module is the one place where errors become messages and exit codes
(README: 0 ok, 1 check failed / changes pending, 2 invalid input, 3 unexpected).
"""

from __future__ import annotations

import sys
import traceback
from typing import Annotated, Any

import click
import typer

from aigw import __version__
from aigw.errors import EXIT_INVALID, EXIT_UNEXPECTED, AigwError, CatalogError

app = typer.Typer(
    name="aigw",
    help="Compile an AI-provider catalog into per-service configs, Vault policies and rotated "
    "keys. No gateway in the request path.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"aigw {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of unexpected "
                                        "errors.")] = False,
) -> None:
    """aigw: declare providers, aliases and services once; render what each service needs."""


_registered = False


def _register() -> None:
    # Imported on first use so `import aigw.cli` stays cheap.
    # Idempotent: tests call main() many times in one process.
    global _registered
    if _registered:
        return
    _registered = True
    from aigw.commands import catalog, dev, governance, keys, stack

    catalog.register(app)
    stack.register(app)
    keys.register(app)
    governance.register(app)
    app.add_typer(dev.app, name="dev")


def _err(line: str) -> None:
    click.echo(line, err=True)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `aigw` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    _register()
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="aigw", standalone_mode=False)
    except AigwError as exc:
        if isinstance(exc, CatalogError):
            for line in exc.lines():
                _err(line)
            _err(f"error: {len(exc.problems)} problem(s) in the catalog")
        else:
            for line in exc.lines():
                _err(f"error: {line}")
        if debug:
            traceback.print_exc()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.Abort:
        _err("aborted")
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = EXIT_INVALID if exc.exit_code == 2 else exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        code = 130
    except Exception as exc:  # the one catch-all: an unexpected error is still one line
        _err(f"unexpected error: {type(exc).__name__}: {_safe(exc)} "
             "(run with --debug for a traceback, and please report it)")
        if debug:
            traceback.print_exc()
        code = EXIT_UNEXPECTED
    sys.exit(code if isinstance(code, int) else 0)


def _safe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
