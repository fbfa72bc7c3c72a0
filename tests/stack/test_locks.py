"""Stale lock detection and recovery on the file backend (lock files as pulumi 3.259 writes them)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from aigw.context import EngineSettings
from aigw.errors import EngineError
from aigw.stack.locks import stack_locks
from aigw.stack.session import clear_locks
from aigw.stack.workspace import StackHandle


def now() -> str:
    """A timestamp in the lock file's format (RFC 3339, nanoseconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def write_lock(backend: Path, *, pid: int, hostname: str | None = None,
               timestamp: str | None = None) -> Path:
    folder = backend / ".pulumi" / "locks" / "organization" / "aigw" / "prod"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.glob('*.json')))}-lock.json"
    path.write_text(json.dumps({"pid": pid, "username": "ci", "timestamp": timestamp or now(),
                                "hostname": hostname or socket.gethostname()}))
    path.with_name(path.name + ".attrs").write_text("{}")
    return path


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def handle(backend: Path) -> StackHandle:
    settings = EngineSettings(backend_url=f"file://{backend}", passphrase_env={})
    return StackHandle(stack=cast(Any, None), name="prod", settings=settings)


def test_lock_of_a_dead_process_on_this_host_is_removed_with_one_line(tmp_path: Path) -> None:
    path = write_lock(tmp_path, pid=dead_pid())
    lines: list[str] = []
    clear_locks(handle(tmp_path), lines.append, force=False)
    assert not path.exists() and not path.with_name(path.name + ".attrs").exists()
    assert len(lines) == 1 and "removed a stale lock left by pid" in lines[0]


def test_lock_of_a_live_process_is_refused(tmp_path: Path) -> None:
    write_lock(tmp_path, pid=os.getpid())
    with pytest.raises(EngineError, match=f"locked by pid {os.getpid()} on"):
        clear_locks(handle(tmp_path), print, force=False)
    assert len(stack_locks(tmp_path, "aigw", "prod")) == 1


def test_lock_from_another_host_is_never_presumed_dead(tmp_path: Path) -> None:
    write_lock(tmp_path, pid=dead_pid(), hostname="some-other-host")
    with pytest.raises(EngineError, match="on some-other-host") as caught:
        clear_locks(handle(tmp_path), print, force=False)
    assert "--force-unlock" in (caught.value.hint or "")


def test_a_reused_pid_does_not_keep_the_lock(tmp_path: Path) -> None:
    # Our own pid, but the lock is older than this process: the holder is gone.
    path = write_lock(tmp_path, pid=os.getpid(), timestamp="2001-01-01T00:00:00Z")
    clear_locks(handle(tmp_path), print, force=False)
    assert not path.exists()


def test_force_unlock_removes_any_lock(tmp_path: Path) -> None:
    write_lock(tmp_path, pid=os.getpid(), hostname="elsewhere")
    lines: list[str] = []
    clear_locks(handle(tmp_path), lines.append, force=True)
    assert stack_locks(tmp_path, "aigw", "prod") == []
    assert "--force-unlock" in lines[0]


def test_unreadable_lock_is_kept_and_reported(tmp_path: Path) -> None:
    path = write_lock(tmp_path, pid=1)
    path.write_text("not json")
    with pytest.raises(EngineError, match="locked by pid None"):
        clear_locks(handle(tmp_path), print, force=False)
