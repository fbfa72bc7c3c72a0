"""Every process aigw starts goes through here: `run` and `popen`.

One place that sees each command line aigw runs (OpenBao's `bao server`, `opa`,
`git`, the version probes of tools), so a test can record them all
(`watch()`) and prove the rule that matters: a key value never goes on a
command line, where any local user can read it (/proc/<pid>/cmdline, `ps`).
Pass secrets on stdin, in a 0600 file or in the child's environment instead.

The argv is always a list (no shell). Only this module imports `subprocess`;
tests/test_proc.py checks that no other module of the package does.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# Re-exported so callers never import subprocess themselves.
CompletedProcess = subprocess.CompletedProcess
Popen = subprocess.Popen
DEVNULL = subprocess.DEVNULL
PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT
SubprocessError = subprocess.SubprocessError
TimeoutExpired = subprocess.TimeoutExpired

Argv = Sequence["str | os.PathLike[str]"]

_watchers: list[Callable[[list[str]], None]] = []
_lock = threading.Lock()


def _argv(argv: Argv, kwargs: dict[str, Any]) -> list[str]:
    if isinstance(argv, (str, bytes)) or kwargs.get("shell"):
        raise TypeError("aigw.proc runs an argv list, never a shell command line")
    out = [os.fspath(part) for part in argv]
    with _lock:
        watchers = list(_watchers)
    for watcher in watchers:
        watcher(list(out))
    return out


def run(argv: Argv, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run(argv, **kwargs)`, seen by `watch()`; no shell."""
    return subprocess.run(_argv(argv, kwargs), **kwargs)  # noqa: PLW1510 - callers pass check


def popen(argv: Argv, **kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **kwargs)`, seen by `watch()`; no shell."""
    return subprocess.Popen(_argv(argv, kwargs), **kwargs)


@contextmanager
def watch() -> Iterator[list[list[str]]]:
    """Record the argv of every process started through this module inside the block."""
    seen: list[list[str]] = []
    with _lock:
        _watchers.append(seen.append)
    try:
        yield seen
    finally:
        with _lock:
            _watchers.remove(seen.append)
