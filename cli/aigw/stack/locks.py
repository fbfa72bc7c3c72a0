"""Stale stack locks of the Pulumi file backend, found and cleared without the user.

While an operation runs, the engine holds a lock file
`<backend>/.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` (plus a
`.json.attrs` sidecar) whose JSON records the engine's `pid`, `username`,
`hostname` and `timestamp` (checked against pulumi 3.259). A run that was killed
leaves it behind, and every later run fails with "the stack is currently
locked". A lock is stale when its holder is provably dead: it was taken on this
host and no process has that pid, or the pid now belongs to a process that is
not pulumi and started after the lock was taken. Only such locks are removed on
their own; `--force-unlock` removes any lock.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil


@dataclass(frozen=True)
class StackLock:
    """One lock file and what it says about its holder."""

    path: Path
    pid: int | None
    hostname: str | None
    username: str | None
    timestamp: str | None

    @property
    def holder(self) -> str:
        """`pid 123 on host (user)`, for messages."""
        who = f" ({self.username})" if self.username else ""
        return f"pid {self.pid} on {self.hostname or 'unknown host'}{who}"

    def taken_at(self) -> float | None:
        """The lock's timestamp as epoch seconds, when it parses."""
        if not self.timestamp:
            return None
        text = self.timestamp.rstrip("Z")
        head, _, frac = text.partition(".")
        try:
            moment = datetime.fromisoformat(head + "+00:00")
        except ValueError:
            return None
        return moment.timestamp() + (float(f"0.{frac}") if frac.isdigit() else 0.0)

    def holder_is_dead(self) -> bool:
        """True only when this host took the lock and its process is provably gone."""
        if self.pid is None or self.hostname != socket.gethostname():
            return False
        try:
            proc = psutil.Process(self.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return True
            name, started = proc.name(), proc.create_time()
        except psutil.NoSuchProcess:
            return True
        except psutil.Error:
            return False  # exists but cannot be inspected: assume it is alive
        taken = self.taken_at()
        reused = "pulumi" not in name and taken is not None and started > taken + 1.0
        return reused


def lock_dir(backend_dir: Path, project: str, stack: str) -> list[Path]:
    """The lock folders of a stack (one per organization folder, normally `organization`)."""
    return sorted((backend_dir / ".pulumi" / "locks").glob(f"*/{project}/{stack}"))


def read_lock(path: Path) -> StackLock:
    """Parse a lock file; fields that are missing or malformed are None."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    pid = data.get("pid")
    return StackLock(path=path, pid=pid if isinstance(pid, int) else None,
                     hostname=text("hostname"), username=text("username"),
                     timestamp=text("timestamp"))


def stack_locks(backend_dir: Path, project: str, stack: str) -> list[StackLock]:
    """Every lock currently held on the stack."""
    return [read_lock(p) for folder in lock_dir(backend_dir, project, stack)
            for p in sorted(folder.glob("*.json"))]


def remove_lock(lock: StackLock) -> None:
    """Delete a lock file and its `.attrs` sidecar (already gone is fine)."""
    for path in (lock.path, lock.path.with_name(lock.path.name + ".attrs")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
