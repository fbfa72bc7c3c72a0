"""Small helpers shared by tests."""

from __future__ import annotations

import time
from collections.abc import Callable
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


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll PREDICATE every 0.1 s until it holds (True) or TIMEOUT seconds pass (False).

    An event-based wait with a generous bound: never a measure of speed.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False
