"""The `aigw` console script: the CLI when the `cli` extra is installed, else one hint.

`pip install aigw` is the client runtime alone (httpx only); the command line needs
`pip install 'aigw[cli]'`. A third-party module that cannot be imported, at start or
when a command loads its core, means the extra is missing: that is one line and exit
2, never a traceback.
"""

from __future__ import annotations

import sys

from aigw.errors import EXIT_INVALID, missing_extra_line


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
