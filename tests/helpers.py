"""Small helpers shared by tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aigw.cli import main


@dataclass
class Result:
    """What one `aigw` invocation did."""

    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """Run `aigw ARGS` in-process and capture its exit code and output."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
