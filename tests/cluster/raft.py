"""A three-node OpenBao cluster with integrated (raft) storage, on loopback, for tests.

Each node is a real `bao server` with its own config file and raft folder in a
temporary directory, an API port and a cluster port. Node 0 is initialised with
one key share (`sys/init`), every node is unsealed with it, and nodes 1 and 2
join node 0 (`sys/storage/raft/join`). The unseal key and the root token go over
HTTP only: never argv, never a log. `kill(i)` SIGKILLs a node; `start(i)`
restarts it on its data (it rejoins by itself) and unseals it. `endpoint(node)`
is one node as a client sees it (testing.bao.OpenBao), for `testing.lab.Lab`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import requests

from aigw.dev import free_port
from aigw.tools import find_bao

NODES = 3
TIMEOUT = 60.0


@dataclass
class Node:
    """One `bao server` of the cluster."""

    index: int
    api_port: int
    cluster_port: int
    folder: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def config(self) -> str:
        return (f'storage "raft" {{\n  path = "{self.folder / "raft"}"\n'
                f'  node_id = "node{self.index}"\n}}\n'
                f'listener "tcp" {{\n  address = "127.0.0.1:{self.api_port}"\n'
                f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n'
                f'  tls_disable = true\n}}\n'
                f'api_addr = "{self.addr}"\n'
                f'cluster_addr = "https://127.0.0.1:{self.cluster_port}"\n'
                'disable_mlock = true\n')


@dataclass(frozen=True)
class Endpoint:
    """One node's address with the root token: what `testing.lab.Lab(bao=...)` needs."""

    addr: str
    token: str = field(repr=False)

    def client(self, token: str | None = None, *, timeout: float = 10.0) -> hvac.Client:
        return hvac.Client(url=self.addr, token=token or self.token, timeout=timeout)


class RaftCluster:
    """`with RaftCluster() as c:`: three initialised, unsealed, joined nodes."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="aigw-raft-")
        root = Path(self._tmp.name)
        self.nodes = []
        for i in range(NODES):
            folder = root / f"node{i}"
            (folder / "raft").mkdir(parents=True)
            port = free_port()
            self.nodes.append(Node(i, port, port + 1, folder))
        self.unseal_key = ""
        self.token = ""

    def __enter__(self) -> RaftCluster:
        try:
            self._form()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, node: Node) -> None:
        cfg = node.folder / "bao.hcl"
        cfg.write_text(node.config())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        log = (node.folder / "bao.log").open("ab")
        node.proc = subprocess.Popen([str(find_bao()), "server", f"-config={cfg}"], env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
        _wait(lambda: _health(node) is not None, f"node{node.index} to listen")

    def _unseal(self, node: Node) -> None:
        requests.put(f"{node.addr}/v1/sys/unseal", json={"key": self.unseal_key}, timeout=5)
        _wait(lambda: (_health(node) or {}).get("sealed") is False,
              f"node{node.index} to unseal")

    def _form(self) -> None:
        first = self.nodes[0]
        self._spawn(first)
        out = requests.put(f"{first.addr}/v1/sys/init",
                           json={"secret_shares": 1, "secret_threshold": 1}, timeout=30).json()
        self.unseal_key, self.token = out["keys"][0], out["root_token"]
        self._unseal(first)
        _wait(lambda: self.leader() is first, "node0 to become active")
        for node in self.nodes[1:]:
            self._spawn(node)
            resp = requests.put(f"{node.addr}/v1/sys/storage/raft/join",
                                json={"leader_api_addr": first.addr}, timeout=30)
            assert resp.ok and resp.json().get("joined"), resp.text
            self._unseal(node)
        _wait(lambda: len(self.peers()) == NODES, "three raft voters")

    def client(self, node: Node | None = None) -> hvac.Client:
        """A root client of NODE (default: the leader)."""
        target = node or self.leader()
        assert target is not None, "no leader"
        return hvac.Client(url=target.addr, token=self.token, timeout=10)

    def endpoint(self, node: Node) -> Endpoint:
        """NODE as the one address a client (aigw, an agent) talks to."""
        return Endpoint(node.addr, self.token)

    def leader(self) -> Node | None:
        """The active node, asked of any running node (None while none is active)."""
        for node in self.nodes:
            if not node.running:
                continue
            with contextlib.suppress(requests.RequestException, ValueError):
                body = requests.get(f"{node.addr}/v1/sys/leader", timeout=2).json()
                for n in self.nodes:
                    if body.get("leader_address") == n.addr and n.running and \
                            (_health(n) or {}).get("standby") is False:
                        return n
        return None

    def followers(self) -> list[Node]:
        """Running nodes that are not the leader."""
        leader = self.leader()
        return [n for n in self.nodes if n.running and n is not leader]

    def peers(self) -> list[str]:
        """The raft configuration's voters, as the leader reports them."""
        with contextlib.suppress(Exception):
            found = self.client().read("sys/storage/raft/configuration")
            return [s["node_id"] for s in found["data"]["config"]["servers"] if s["voter"]]
        return []

    def kill(self, node: Node) -> None:
        """SIGKILL the node (no clean step-down)."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.send_signal(signal.SIGKILL)
            node.proc.wait(10)

    def start(self, node: Node) -> None:
        """Restart a killed node on its data and unseal it."""
        self._spawn(node)
        self._unseal(node)

    def wait_for_leader(self, *, not_: Node | None = None) -> Node:
        """Wait until some running node other than NOT_ is active."""
        found: list[Node] = []

        def elected() -> bool:
            leader = self.leader()
            if leader is not None and leader is not not_:
                found.append(leader)
                return True
            return False

        _wait(elected, "a new leader")
        return found[-1]

    def move_leader_off(self, node: Node) -> Node:
        """Make some running node other than NODE the leader (`sys/step-down` on NODE
        while it leads: raft hands leadership to another voter); return that leader."""
        leader = self.wait_for_leader()
        while leader is node:
            self.client(node).sys.step_down()
            leader = self.wait_for_leader(not_=node)
        return leader

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
                try:
                    node.proc.wait(10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
        self._tmp.cleanup()


def when(predicate: Callable[[], bool], proc: subprocess.Popen[Any],
         timeout: float = 300) -> bool:
    """Wait until PREDICATE holds (True) or PROC ended first (False): the moment to kill
    a node during a run. A predicate that raises (a node in an election may refuse a
    read) counts as not yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - not yet
            pass
        if proc.poll() is not None:
            return False
        time.sleep(0.03)
    raise AssertionError("timed out")


def _health(node: Node) -> dict[str, object] | None:
    if not node.running:
        return None
    try:
        body: dict[str, object] = requests.get(
            f"{node.addr}/v1/sys/health", params={"standbyok": "true", "sealedcode": "200",
                                                  "uninitcode": "200"}, timeout=2).json()
        return body
    except (requests.RequestException, ValueError):
        return None


def _wait(predicate: object, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
