"""Atomic file writes: a reader sees the old bytes or the new ones, never half.

Plain `os` calls on string paths, not pathlib: `aigw render` writes tens of
thousands of files, and Path objects cost more than the writes on tmpfs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

# Temp names are unique per process (pid) and per write (counter); O_EXCL refuses a
# name a crashed earlier process left behind, and the loop then takes the next one.
_COUNTER = itertools.count()


def atomic_write(path: Path | str, data: bytes, mode: int = 0o644, *,
                 durable: bool = True) -> os.stat_result:
    """Write DATA to PATH through a temp file in the same folder, then rename.

    DURABLE fsyncs before the rename (survives power loss, costs a disk flush per
    file); rendered outputs that can be regenerated skip it, key files keep it.
    The temp file is created 0600 and given MODE before any byte is written.
    Returns the written file's stat (taken before the rename, which keeps it).
    """
    target = os.fspath(path)
    folder, name = os.path.split(target)
    while True:
        tmp = os.path.join(folder, f".{name}.{os.getpid()}.{next(_COUNTER)}.tmp")  # noqa: PTH118
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        except FileNotFoundError:
            os.makedirs(folder or ".", exist_ok=True)  # noqa: PTH103
            continue
        break
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
            st = os.fstat(fh.fileno())
        os.replace(tmp, target)  # noqa: PTH105
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # noqa: PTH108
        raise
    return st
