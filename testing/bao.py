"""A real OpenBao dev server for tests: `with BaoDevServer() as bao: bao.client()...`.

The server runs in memory on a free 127.0.0.1 port with a random root token
(passed through the environment, never argv). `stop()`/`start()` and
`restart()` keep the address and the token, so outage tests can take the
server away and bring it back; a restarted server is empty (dev mode).
"""

from __future__ import annotations

import secrets
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Protocol

import hvac

from aigw.dev import free_port, spawn_bao, stop_pid, wait_healthy
from aigw.tools import find_bao


class OpenBao(Protocol):
    """What a test lab needs of an OpenBao: one address, a root token, a client.

    `BaoDevServer` is one; tests/cluster/raft.py's `Endpoint` (one node of a raft
    cluster) is another, so `testing.lab.Lab(root, bao=...)` runs on either.
    """

    @property
    def addr(self) -> str: ...

    @property
    def token(self) -> str: ...

    def client(self, token: str | None = None, *, timeout: float = 5.0) -> hvac.Client: ...


class BaoDevServer:
    """Start/stop a `bao server -dev`; use as a context manager."""

    def __init__(self, *, port: int | None = None, token: str | None = None,
                 bao: Path | None = None, timeout: float = 30.0) -> None:
        """Prepare (not start) a server; port and token are chosen when not given."""
        self.port = port or free_port()
        self.token = token or f"test-{secrets.token_hex(12)}"
        self.bao = bao or find_bao()
        self.timeout = timeout
        self._logdir = tempfile.TemporaryDirectory(prefix="aigw-bao-")
        self.log = Path(self._logdir.name) / "bao.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        """The server's address, e.g. http://127.0.0.1:41234."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server process runs."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> BaoDevServer:
        """Start the server and wait until it is healthy; no-op when already running."""
        if self.running:
            return self
        self._proc = spawn_bao(self.bao, self.port, self.token, self.log, detach=False)
        try:
            wait_healthy(self.addr, self._proc, self.log, timeout=self.timeout,
                         redact=[self.token])
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self._proc is not None:
            stop_pid(self._proc.pid)
            self._proc.wait()
            self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same address with the same token (and no data)."""
        self.stop()
        self.start()

    def client(self, token: str | None = None, *, timeout: float = 5.0) -> hvac.Client:
        """An hvac client for this server, with the root token unless `token` is given."""
        return hvac.Client(url=self.addr, token=token or self.token, timeout=timeout)

    def __enter__(self) -> BaoDevServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self._logdir.cleanup()

    def __repr__(self) -> str:
        return f"BaoDevServer(addr={self.addr!r}, running={self.running})"
