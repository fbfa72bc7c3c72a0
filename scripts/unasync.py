"""Generate the sync client (cli/aigw/client/client.py) from the async one (aio.py).

httpcore's shape (its scripts/unasync.py): the async code is the one source, the
sync code is derived by token substitutions, and a check fails when the committed
file differs from what this script writes. So `Client` and `AsyncClient` cannot
drift: the same methods, signatures, docstrings and bodies, modulo ``async``.

    python scripts/unasync.py          # rewrite client.py
    python scripts/unasync.py --check  # exit 1 (and say which lines) when it is stale
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[1] / "cli" / "aigw" / "client"
SOURCE, TARGET = CLIENT / "aio.py", CLIENT / "client.py"

# (pattern, replacement), applied in order to every line below the module docstring.
SUBS = [
    (r"\basync def\b", "def"),
    (r"\bawait ", ""),
    (r"\basync (with|for)\b", r"\1"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\bAsync([A-Z]\w*)", r"\1"),  # AsyncClient, AsyncHTTPTransport, AsyncOpenAI...
    (r"\baio=True\b", "aio=False"),
    (r"\bper event loop\b", "per process (thread-safe)"),
]
GENERATED = ("Generated from aio.py by scripts/unasync.py: edit aio.py, then run\n"
             "``python scripts/unasync.py`` (tests/client/test_unasync.py checks that the\n"
             "two agree).\n")


def unasync_line(line: str) -> str:
    """One line of the async source, made sync."""
    for pattern, repl in SUBS:
        line = re.sub(pattern, repl, line)
    return line


def unasync(source: str) -> str:
    """The sync module of an async one: its docstring's summary line made sync and
    its body replaced by the generated-file note; every other line substituted."""
    if not source.startswith('"""'):
        raise ValueError("the async source must open with its module docstring")
    end = source.index('"""', 3) + 3
    summary = source[3:end - 3].split("\n", 1)[0]
    doc = f'"""{unasync_line(summary)}\n\n{GENERATED}"""'
    return doc + "".join(unasync_line(line) for line in source[end:].splitlines(True))


def main(argv: list[str]) -> int:
    """Write client.py, or with --check report whether it is what aio.py gives."""
    want = unasync(SOURCE.read_text(encoding="utf-8"))
    if "--check" in argv:
        have = TARGET.read_text(encoding="utf-8")
        if have == want:
            return 0
        diff = difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                    str(TARGET), "generated from aio.py")
        sys.stderr.write("".join(diff))
        sys.stderr.write(f"{TARGET} is stale: run python scripts/unasync.py\n")
        return 1
    TARGET.write_text(want, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
