"""The `aigw` console script: the CLI when the `cli` extra is installed, else one hint.

`pip install aigw` is the client runtime alone (httpx only); the command line needs
`pip install 'aigw[cli]'`. A third-party module that cannot be imported, at start or
when a command loads its core, means the extra is missing: that is one line and exit
2, never a traceback.
"""

from __future__ import annotations

import sys

EXIT_INVALID = 2
HINT = "aigw: the command line needs the cli extra: pip install 'aigw[cli]'"


def missing_extra_line(exc: ModuleNotFoundError) -> str | None:
    """The hint for a missing third-party module; None when aigw itself is broken."""
    top = (exc.name or "").partition(".")[0]
    if not top or top == "aigw":
        return None
    return f"{HINT} (module '{top}' is not installed)"


def main() -> None:
    """Run the CLI, or print one line naming the missing extra and exit 2."""
    try:
        from aigw.cli import main as cli_main
    except ModuleNotFoundError as exc:
        line = missing_extra_line(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        sys.exit(EXIT_INVALID)
    cli_main()
