"""A non-dev `bao server` with on-disk storage, so its data survives a restart.

`BaoDevServer` keeps everything in memory; the outage test needs OpenBao to go
away mid-rotation and come back with its data. This starts `bao server
-config=...` (single-node raft storage in a folder: OpenBao 2 has no `file`
backend; TLS off, loopback only), initializes it with one unseal key through
hvac, and unseals it again after every restart.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from types import TracebackType

import hvac
import requests

from aigw.dev import free_port
from aigw.tools import find_bao


class PersistentBao:
    """Start/stop a disk-backed OpenBao (start again = restart); a context manager."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = workdir / "bao.hcl"
        self.log = workdir / "bao.log"
        (workdir / "data").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f'storage "raft" {{\n  path = "{workdir / "data"}"\n  node_id = "n1"\n'
            '  performance_multiplier = 1\n}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{self.port + 1}"\n  tls_disable = true\n}}\n'
            f'api_addr = "{self.addr}"\ncluster_addr = "http://127.0.0.1:{self.port + 1}"\n'
            'ui = false\n')
        self.token = ""
        self._unseal_key = ""
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        """The server's address."""
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> hvac.Client:
        """A root hvac client."""
        return hvac.Client(url=self.addr, token=self.token or None, timeout=5)

    def _wait_listening(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"bao exited: {self.log.read_text()[-2000:]}")
            try:
                requests.get(f"{self.addr}/v1/sys/health", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("bao did not start listening")

    def start(self) -> PersistentBao:
        """Start, initialize on first start, unseal; wait until it serves."""
        fd = self.log.open("ab")
        self._proc = subprocess.Popen([str(find_bao()), "server", f"-config={self.config}"],
                                      stdin=subprocess.DEVNULL, stdout=fd,
                                      stderr=subprocess.STDOUT)
        fd.close()
        try:
            self._unseal()
        except BaseException:
            self.stop()  # a failed start must not leave the server running
            raise
        return self

    def _unseal(self) -> None:
        self._wait_listening()
        client = hvac.Client(url=self.addr, timeout=60)  # raft bootstrap takes seconds
        if not client.sys.is_initialized():
            init = client.sys.initialize(secret_shares=1, secret_threshold=1)
            self.token, self._unseal_key = init["root_token"], init["keys"][0]
        client.sys.submit_unseal_key(self._unseal_key)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            health = requests.get(f"{self.addr}/v1/sys/health", timeout=5)
            if health.status_code == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("bao did not become active")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def __enter__(self) -> PersistentBao:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
