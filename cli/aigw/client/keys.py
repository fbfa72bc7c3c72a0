"""Key files: read once, re-read when an agent replaces them.

Agents (OpenBao/Vault Agent, the CSI driver) replace a key file by rename, so a
change shows as a new (inode, mtime, size). The hot path only compares a
monotonic clock with a deadline; an `os.stat` runs at most every
`check_interval` seconds, or as soon as the optional watchfiles watcher marks the
file dirty. No key value is ever logged; only its fingerprint. The same
watcher (`FileWatcher`) tells the live config (client/live.py) about its file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

try:  # optional: push notifications instead of polling
    import watchfiles
except ImportError:  # pragma: no cover - exercised when watchfiles is absent
    watchfiles = None  # type: ignore[assignment]

log = logging.getLogger("aigw.client")


def fingerprint(key: str) -> str:
    """The public fingerprint of a key: the first 12 hex digits of its sha256."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def parse_token(text: str) -> tuple[str, str] | None:
    """A key file holding one key: the key and its fingerprint, None when empty."""
    key = text.strip()
    return (key, fingerprint(key)) if key else None


Parse = Callable[[str], "tuple[Any, str] | None"]


class KeyFile:
    """The current credential in one file, as (credential, fingerprint), or None.

    `parse` turns the file's text into the credential (one key by default; an
    AWS credentials file for SigV4 routes).
    """

    __slots__ = ("path", "check_interval", "parse", "parts", "_sig", "_current",
                 "_next_check", "_lock")

    def __init__(self, path: Path, check_interval: float = 0.1,
                 parse: Parse = parse_token,
                 parts: tuple[tuple[Path, str], ...] = ()) -> None:
        """`parts`: (file, field) pairs read instead of `path` when it is missing: an
        AWS credential as a Kubernetes CSI volume mounts it, one field per file."""
        self.path = path
        self.check_interval = check_interval
        self.parse = parse
        self.parts = parts
        self._sig: tuple[int, ...] | None = None
        self._current: tuple[Any, str] | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()

    def get(self) -> tuple[Any, str] | None:
        """The key and its fingerprint; checks the file at most every `check_interval`."""
        if time.monotonic() >= self._next_check:
            self._refresh(force=False)
        return self._current

    def reload(self) -> tuple[Any, str] | None:
        """Re-read the file now, even if it looks unchanged (after a 401/403)."""
        self._refresh(force=True)
        return self._current

    def mark_dirty(self) -> None:
        """Make the next `get` look at the file (called by the watcher)."""
        self._next_check = 0.0

    changed = mark_dirty  # what a `FileWatcher` calls

    def _refresh(self, force: bool) -> None:
        with self._lock:
            if not force and time.monotonic() < self._next_check:
                return  # another thread refreshed while we waited for the lock
            try:
                self._read(force)
            finally:
                # Only now: other threads keep using the previous key meanwhile.
                self._next_check = time.monotonic() + self.check_interval

    def _stat(self) -> tuple[list[Path], list[os.stat_result]] | None:
        """The files holding the credential, with their stats: the key file, else its parts."""
        for files in ([self.path], [p for p, _ in self.parts]):
            try:
                if files:
                    return files, [p.stat() for p in files]
            except OSError:
                continue
        return None

    def _read(self, force: bool) -> None:
        found = self._stat()
        if found is None:
            if self._sig is not None or self._current is not None:
                log.warning("key file %s is missing", self.path)
            self._sig, self._current = None, None
            return
        files, stats = found
        sig = tuple(n for st in stats for n in (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size))
        if sig == self._sig and not force:
            return
        try:
            if files == [self.path]:
                text = self.path.read_text(encoding="utf-8")
            else:  # one field per file: as the credentials file the agent would write
                text = "[default]\n" + "".join(
                    f"{field} = {p.read_text(encoding='utf-8').strip()}\n"
                    for p, field in self.parts)
        except (OSError, UnicodeDecodeError):
            log.warning("key file %s is unreadable", self.path)
            self._sig, self._current = None, None
            return
        old = self._current[1] if self._current else None
        self._sig = sig
        self._current = self.parse(text)
        new = self._current[1] if self._current else None
        if new != old:
            log.info("key file %s: now key %s", self.path, new or "(empty)")


class Watched(Protocol):
    """What a `FileWatcher` watches: a file, told when its folder had an event."""

    @property
    def path(self) -> Path: ...

    def changed(self) -> None:
        """Called from the watcher thread on an event in this file's folder."""


class FileWatcher:
    """One watchfiles thread over the folders of key files and the config file.

    An event in a watched folder calls `changed()` of every watched file: a key
    file is marked dirty (its next `get` re-reads it), the live config reloads
    (in this thread, off the request path). `update` changes the set of files
    (a new config's key files); the thread re-targets itself when the folders
    change, so `update` may be called from the watcher thread itself.
    """

    def __init__(self, files: Iterable[Watched]) -> None:
        self._by_dir: dict[Path, list[Watched]] = {}
        self._stop = threading.Event()
        self._retarget = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._watching: frozenset[Path] = frozenset()
        self.update(files)

    @staticmethod
    def available() -> bool:
        """True when watchfiles is installed."""
        return watchfiles is not None

    def update(self, files: Iterable[Watched]) -> None:
        """Watch exactly `files` from now on."""
        by_dir: dict[Path, list[Watched]] = {}
        for f in files:
            by_dir.setdefault(f.path.parent, []).append(f)
        with self._lock:
            self._by_dir = by_dir
            if self._thread is not None and self._dirs() != self._watching:
                self._retarget.set()  # the thread's watch ends and starts anew

    def _dirs(self) -> frozenset[Path]:
        return frozenset(d for d in self._by_dir if d.is_dir())

    def start(self) -> bool:
        """Start watching the folders that exist; False if nothing is watched."""
        if watchfiles is None or not self._dirs():
            return False
        self._thread = threading.Thread(target=self._run, name="aigw-file-watcher",
                                        daemon=True)
        self._thread.start()
        return True

    def _run(self) -> None:
        assert watchfiles is not None
        try:
            while not self._stop.is_set():
                with self._lock:
                    self._retarget.clear()
                    self._watching = dirs = self._dirs()
                if not dirs:  # every folder gone: wait for an update
                    self._retarget.wait(1.0)
                    continue
                for changes in watchfiles.watch(*dirs, stop_event=_Either(self._stop,
                                                                          self._retarget),
                                                debounce=200, step=10, rust_timeout=500,
                                                raise_interrupt=False):
                    # Any event (a rename, a symlink swap, reported under a path that
                    # may be spelt differently) may be ours; `changed` is cheap.
                    del changes
                    with self._lock:
                        hit = [f for fs in self._by_dir.values() for f in fs]
                    for f in hit:
                        f.changed()
        except Exception as exc:  # the poll fallback still runs; say why once
            log.warning("file watcher stopped (%s); polling key and config files instead",
                        type(exc).__name__)

    def stop(self) -> None:
        """Stop the watcher thread."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)


class _Either:
    """A stop_event for watchfiles that is set when either event is."""

    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        self._a, self._b = a, b

    def is_set(self) -> bool:
        return self._a.is_set() or self._b.is_set()

