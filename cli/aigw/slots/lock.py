"""One rotation per slot at a time: a lease in KV v2 taken with check-and-set.

The lock of a slot is the entry `<prefix>/_aigw/locks/<provider>/<slot>`. Taking
it is a create-only write (`cas=0`) or, when the current holder released it, let
it expire, or died on this host, a write over exactly the version that was read.
Either way only one contender's write succeeds; the others raise
`RotationInProgress` naming the holder. The lease is renewed (again with
check-and-set) while a run waits, and released by writing `released: true`.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from aigw.errors import RotationError, RotationInProgress
from aigw.slots.kv import KV, CasConflict


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a lock."""

    run_id: str
    host: str
    pid: int
    pid_started: float
    user: str
    acquired_at: float
    expires_at: float
    released: bool = False

    @classmethod
    def me(cls, run_id: str, now: float, ttl: float) -> Holder:
        """The holder record of this process for a lease of TTL seconds."""
        started = psutil.Process(os.getpid()).create_time()
        return cls(run_id, socket.gethostname(), os.getpid(), started, _user(), now, now + ttl)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Holder:
        """Rebuild from lock data."""
        return cls(str(data.get("run_id", "")), str(data.get("host", "")),
                   int(data.get("pid", 0)), float(data.get("pid_started", 0.0)),
                   str(data.get("user", "")), float(data.get("acquired_at", 0.0)),
                   float(data.get("expires_at", 0.0)), bool(data.get("released", False)))

    def describe(self) -> str:
        """`run r-1 (alice on host1, pid 42)`."""
        return f"run {self.run_id} ({self.user} on {self.host}, pid {self.pid})"

    def dead_here(self) -> bool:
        """True when the holder ran on this host and its process is gone."""
        if self.host != socket.gethostname():
            return False
        try:
            return bool(abs(psutil.Process(self.pid).create_time() - self.pid_started) > 0.5)
        except psutil.Error:
            return True

    def stale(self, now: float) -> str | None:
        """Why the lock may be taken over (released, expired, holder died), or None."""
        if self.released:
            return "released"
        if now >= self.expires_at:
            return "expired"
        if self.dead_here():
            return "holder died"
        return None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid())


def who_am_i(client: Any) -> str:
    """Who writes to a slot, for its journal and audit trail: `user@host`, plus the
    OpenBao token's display name when the token may look itself up."""
    me = f"{_user()}@{socket.gethostname()}"
    try:
        name = client.auth.token.lookup_self()["data"].get("display_name")
    except Exception:  # noqa: BLE001 - only decoration; a restricted token is fine
        name = None
    return f"{me} (openbao: {name})" if name else me


class SlotLock:
    """The lease of one slot; use `acquire`, `renew`, `release` (or as a context manager)."""

    def __init__(self, kv: KV, path: str, slot_id: str, run_id: str, *, ttl: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.kv = kv
        self.path = path
        self.slot_id = slot_id
        self.run_id = run_id
        self.ttl = ttl
        self.clock = clock
        self.version: int | None = None
        self.took_over: str | None = None

    def holder(self) -> Holder | None:
        """The current holder (also when released or stale), or None if never locked."""
        entry = self.kv.read(self.path)
        return Holder.of(entry.data) if entry is not None and entry.data else None

    def acquire(self) -> None:
        """Take the lease or raise RotationInProgress naming the holder."""
        now = self.clock()
        entry = self.kv.read(self.path)
        cas = 0
        if entry is not None:
            cas = entry.version
            if entry.data:
                held = Holder.of(entry.data)
                why = held.stale(now)
                if why is None:
                    raise self._busy(held)
                self.took_over = None if why == "released" else f"{why}: {held.describe()}"
        mine = Holder.me(self.run_id, now, self.ttl)
        try:
            self.version = self.kv.write(self.path, mine.__dict__, cas=cas)
        except CasConflict:
            current = self.holder()
            raise self._busy(current) from None

    def renew(self) -> None:
        """Extend the lease; raise RotationError when another run took it over."""
        if self.version is None:
            raise RotationError(f"{self.slot_id}: renewing a lock that is not held")
        mine = Holder.me(self.run_id, self.clock(), self.ttl)
        try:
            self.version = self.kv.write(self.path, mine.__dict__, cas=self.version)
        except CasConflict:
            self.version = None
            raise RotationError(f"{self.slot_id}: lost the rotation lock to another run",
                                hint="the journal says where it stands: `aigw keys status`"
                                ) from None

    def release(self) -> None:
        """Give the lease up (no-op when not held, or when it was lost)."""
        if self.version is None:
            return
        mine = Holder.me(self.run_id, self.clock(), 0.0)
        try:
            self.kv.write(self.path, {**mine.__dict__, "released": True}, cas=self.version)
        except CasConflict:
            pass
        self.version = None

    def _busy(self, held: Holder | None) -> RotationInProgress:
        if held is None:
            return RotationInProgress(f"{self.slot_id}: rotation in progress (lock just taken)")
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(held.expires_at))
        return RotationInProgress(
            f"{self.slot_id}: rotation in progress by {held.describe()}, lock until {until}",
            hint="wait for it to finish; `aigw keys status` shows its state")

    def __enter__(self) -> SlotLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
