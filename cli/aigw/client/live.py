"""Live config: follow `aigw-client.json` as the agent replaces it, without a restart.

The agent renames a new file into place, so a change shows as a new (inode,
mtime, size). `ConfigFollower` stats the file at most every `check_interval`
seconds (the hot path only compares a monotonic clock with a deadline), or at
once, in the watcher thread, on a watchfiles event. A changed file is read
whole and handed to the client, which parses it and swaps in a new immutable
`Snapshot` with one reference assignment, or rejects it: then the old
snapshot keeps serving, one warning is logged and `ConfigStatus` counts it.
Content already seen (served or rejected) is never parsed twice; a truncated
read is just invalid JSON, rejected and retried on the next change.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .config import ClientConfig, read_config_file
from .errors import ConfigError

if TYPE_CHECKING:
    from .router import AliasRouter

log = logging.getLogger("aigw.client")


class Snapshot(NamedTuple):
    """What one config revision serves with: swapped in whole, never changed after."""

    config: ClientConfig
    routers: Mapping[str, AliasRouter]
    revision: str


class ConfigStatus(NamedTuple):
    """What `BaseClient.config_status` reports about following the config file."""

    revision: str          # the revision serving now ("" when the file has none)
    rejection: str         # why the last rejected file was rejected ("" if none yet)
    rejected: int          # how many changed files were rejected
    reloads: int           # how many new configs were swapped in
    loaded_at: float       # wall-clock time (time.time()) the serving config came in
    following: bool        # False when the client reads its config only once


def describe_revision(revision: str) -> str:
    """A revision for a log line ("-" when the file has none)."""
    return revision or "-"


class ConfigFollower:
    """Watches one config file and hands each new content to `apply`.

    `apply(data)` swaps it in or raises `ConfigError` (a rejection). Thread
    safe: one check at a time; the hot path never waits for it.
    """

    __slots__ = ("path", "check_interval", "next_check", "rejected", "rejection",
                 "_apply", "_describe", "_sig", "_serving", "_refused", "_lock", "_missing")

    def __init__(self, config: ClientConfig, check_interval: float,
                 apply: Callable[[bytes], None], describe: Callable[[], str]) -> None:
        assert config.path is not None
        self.path: Path = config.path
        self.check_interval = check_interval
        self.next_check = time.monotonic() + check_interval
        self.rejected = 0
        self.rejection = ""
        self._apply = apply
        self._describe = describe  # "aigw config <service>", for log lines
        # No signature yet: the first check reads the file and compares its bytes
        # with those the serving config was parsed from (a change in between counts).
        self._sig: tuple[int, ...] | None = None
        self._serving = bytes.fromhex(config.source_sha256)  # the bytes serving now
        self._refused = b""  # the bytes last rejected
        self._lock = threading.Lock()
        self._missing = False

    def _stat(self) -> tuple[int, ...] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        # ctime too: a chmod that makes an unreadable file readable is a change.
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    def poll(self) -> None:
        """From the request path, once the deadline passed: check unless one runs."""
        if not self._lock.acquire(blocking=False):
            return  # another thread is checking; keep serving the current snapshot
        try:
            self._check()
        finally:
            self.next_check = time.monotonic() + self.check_interval
            self._lock.release()

    def check(self) -> None:
        """Check now, waiting for a check already running (watcher thread, reload_config)."""
        with self._lock:
            try:
                self._check()
            finally:
                self.next_check = time.monotonic() + self.check_interval

    changed = check  # what a `FileWatcher` calls on an event in the file's folder

    def _check(self) -> None:
        sig = self._stat()
        if sig is None:
            if not self._missing:
                self._missing = True
                self._reject(f"{self.path}: missing")
            self._sig = None
            return
        self._missing = False
        if sig == self._sig:
            return
        self._sig = sig  # read it once; again only when it changes
        try:
            data = read_config_file(self.path)
        except ConfigError as exc:
            self._refused = b""
            self._reject(str(exc))
            return
        digest = hashlib.sha256(data).digest()
        if digest in (self._serving, self._refused):
            return  # bytes already served or rejected: nothing to parse
        try:
            self._apply(data)
        except ConfigError as exc:
            self._refused = digest
            self._reject(str(exc))
        except Exception as exc:  # never let a new file break calls or the watcher
            self._refused = digest
            self._reject(f"{self.path}: cannot use it ({type(exc).__name__}: {exc})")
        else:
            self._serving, self._refused = digest, b""

    def _reject(self, reason: str) -> None:
        self.rejected += 1
        self.rejection = reason
        log.warning("%s: rejected %s; the old config keeps serving", self._describe(),
                    reason.replace("\n", " "))
