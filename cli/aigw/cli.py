"""The `aigw` command line: parse flags, call the core, print, map errors to exit codes.

This module is the one place where errors become messages and exit codes
(README: 0 ok, 1 check failed / changes pending / aborted at a prompt, 2 invalid
input, 3 unexpected, 130 interrupted).

Only typer's public names are used (`typer.TyperException`, `typer.Abort`,
`typer.Exit`): typer 0.29 vendors click, so naming click here would break the
install a user gets (`pip install 'aigw[cli]'` does not bring click).
"""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Annotated, Any

import typer

from aigw import __version__, context
from aigw.commands import output
from aigw.errors import (
    EXIT_CHANGES,
    EXIT_INVALID,
    EXIT_UNEXPECTED,
    AigwError,
    CatalogError,
    VaultUnreachable,
    missing_extra_line,
)

EXIT_INTERRUPTED = 130

app = typer.Typer(
    name="aigw",
    help="Compile an AI-provider catalog into per-service configs, Vault policies and rotated "
    "keys. No gateway in the request path.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help and usage errors: one readable line in CI logs, and no rich import
    # on the start-up path (benchmarks/startup.py).
    rich_markup_mode=None,
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
    # The run's settings, taken once from the environment and working directory; each
    # part (home, OpenBao, engine) resolves when a command first asks (aigw.context).
    context.use(context.Context())


_registered = False


def _register() -> None:
    # Command modules import only typer and aigw.commands.options at the top; each
    # command imports the core it needs when it runs, so `aigw --help` and
    # `aigw validate` never load Pulumi, hvac or boto3
    # (tests/test_cli.py::test_start_up_does_not_import_heavy_packages).
    # Idempotent: tests call main() many times in one process.
    global _registered
    if _registered:
        return
    _registered = True
    # One module per verb (commands/<verb>.py); this order is `aigw --help`'s.
    from aigw.commands import (
        agent_credentials,
        apply,
        audit,
        destroy,
        dev,
        diff,
        init,
        keys,
        plan,
        policy,
        render,
        rotate_keys,
        status,
        tools,
        usage,
        validate,
    )
    from aigw.commands import eval as eval_cmd

    for verb in (validate, render, plan, apply, destroy, agent_credentials, keys, rotate_keys,
                 audit, policy, diff, init, eval_cmd, status, usage):
        verb.register(app)
    app.add_typer(dev.app, name="dev")
    app.add_typer(tools.app, name="tools")


def _err(line: str) -> None:
    typer.echo(line, err=True)


class _Interrupt:
    """Ctrl-C is one "interrupted" line: quiet the threads that die of it.

    The Pulumi engine runs an inline program through gRPC server threads and tails its
    event log in another; when Ctrl-C stops the engine, those threads fail and Python
    would print their tracebacks (threading.excepthook, or "Exception ignored" at exit).
    Once SIGINT has arrived, such reports are dropped; before it, they print as usual.
    """

    seen = False

    @classmethod
    def install(cls) -> None:
        cls.seen = False
        # Wrap the hooks in place now (a test runner may have swapped them since).
        threading.excepthook = cls._quiet(threading.excepthook)
        sys.unraisablehook = cls._quiet(sys.unraisablehook)

    @classmethod
    def _quiet(cls, hook: Callable[[Any], object]) -> Callable[[Any], None]:
        """HOOK, wrapped once so that it drops reports once SIGINT has arrived."""
        if getattr(hook, "_aigw", False):
            return hook  # type: ignore[return-value]

        def quiet(report: Any) -> None:
            if not cls.seen:
                hook(report)
        quiet._aigw = True  # type: ignore[attr-defined]
        return quiet

    @classmethod
    def on_sigint(cls, signum: int, frame: Any) -> None:
        cls.seen = True
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt in the main thread


def run(args: list[str]) -> int:
    """Run one command line; return its exit code (never raises, except SystemExit)."""
    debug = "--debug" in args
    _register()
    output.reset(running=True)
    _Interrupt.install()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _Interrupt.on_sigint) if main_thread else None
    try:
        return _run(args, debug)
    finally:
        output.reset()  # a sub-app invoked directly later prints its own JSON
        context.use(None)  # the next run (tests run many in one process) resolves afresh
        if main_thread:
            signal.signal(signal.SIGINT, previous if previous is not None
                          else signal.default_int_handler)


def _run(args: list[str], debug: bool) -> int:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="aigw", standalone_mode=False)
    except AigwError as exc:
        if isinstance(exc, VaultUnreachable):  # BAO_ADDR when it is set, else `aigw dev up`
            exc.hint = context.current().unreachable_hint()
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
        output.add_error(exc)
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        # Raised when someone answers "no" at a confirmation prompt (typer.confirm(abort=True)).
        _err("aborted")
        code = EXIT_CHANGES
        output.add_error(message="aborted", kind="Aborted")
    except typer.TyperException as exc:
        # Usage errors (unknown option or command, missing argument, bad value): typer's
        # own message with the usage line, exit 2.
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            _err(f"error: {exc.format_message()}")
        code = EXIT_INVALID if exc.exit_code == 2 else exc.exit_code
        output.add_error(message=exc.format_message(), kind="UsageError")
    except KeyboardInterrupt:
        _Interrupt.seen = True
        code = EXIT_INTERRUPTED
    except Exception as exc:  # the one catch-all: an unexpected error is still one line
        hint = missing_extra_line(exc) if isinstance(exc, ModuleNotFoundError) else None
        if hint is not None:  # a command's core needs a package the installed extras lack
            _err(hint)
            output.add_error(message=hint, kind="MissingExtra")
            output.flush(EXIT_INVALID)
            return EXIT_INVALID
        _err(f"unexpected error: {type(exc).__name__}: {_safe(exc)} "
             "(run with --debug for a traceback, and please report it)")
        if debug:
            traceback.print_exc()
        code = EXIT_UNEXPECTED
        output.add_error(message=f"{type(exc).__name__}: {_safe(exc)}", kind="Unexpected")
    code = code if isinstance(code, int) else 0
    if code == EXIT_INTERRUPTED:
        # typer turns Ctrl-C into Exit(130); say so once, without a traceback.
        _Interrupt.seen = True
        _err("interrupted")
        output.add_error(message="interrupted", kind="Interrupted")
    # Under --json, stdout gets exactly one document, errors included (docs/json.md).
    output.flush(code)
    return code


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `aigw` console script."""
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))


def _safe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
