"""Run the aigw CLI with the key commands registered (until cli.py wires them itself).

`python tests/rotation/cli_entry.py rotate-keys . --env prod --yes` behaves like
`aigw rotate-keys . --env prod --yes`: same error handling and exit codes.
"""

from __future__ import annotations

import sys

from aigw import cli
from aigw.commands import keys


def main(argv: list[str] | None = None) -> None:
    """Register keys/rotate-keys/audit if cli.py does not yet, then run `aigw.cli.main`."""
    cli._register()  # the commands cli.py wires itself, so none is registered twice
    names = {c.name or (c.callback.__name__ if c.callback else "")
             for c in cli.app.registered_commands}
    if "rotate-keys" not in names:
        keys.register(cli.app)
    cli.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
