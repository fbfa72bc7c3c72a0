"""A stopped (then hung) OpenBao never fails or holds up a request (issue 18).

A service calls its provider at a steady rate while its runtime acknowledges keys to a
real OpenBao (its own dev server, so the test can kill it). The server is killed, the
service's key changes (so the runtime has an acknowledgement to write), then a listener
that accepts connections and never answers takes the server's port (a hung OpenBao:
every write waits for its timeout). Every attempt of every request must succeed, and
requests must complete while an acknowledgement write is in flight on the runtime's
thread. The token has exactly the service's policy from the stack's spec
(`environment_spec`). The provider is testing/fake_provider.py (OpenAI-compatible).
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import hvac
import pytest
import yaml
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments
from aigw.client import Attempt, Client
from aigw.client.acks import recorder
from aigw.client.keys import fingerprint
from aigw.client_config import ClientConfigs
from aigw.stack.spec import environment_spec

pytestmark = pytest.mark.integration


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class _Blackhole:
    """Accepts TCP connections on PORT and never answers (a hung server)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_stopped_openbao_never_fails_a_request(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    old, new = f"sk-fake-{secrets.token_hex(8)}", f"sk-fake-{secrets.token_hex(8)}"
    provider = FakeProvider("fake", [old, new]).start()
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    server = BaoDevServer().start()
    hole: _Blackhole | None = None
    client: Client | None = None
    stop = threading.Event()
    outcomes: list[str] = []
    errors: list[BaseException] = []
    during_write = [0]
    try:
        admin = server.client()
        admin.sys.enable_secrets_engine("kv", path="aigw", options={"version": "2"})
        _wait_for(lambda: _kv_ready(admin))
        admin.secrets.kv.v2.configure(max_versions=10, cas_required=True, mount_point="aigw")
        repo = tmp_path / "repo"
        repo.mkdir()
        (repo / "aigw.yaml").write_text(yaml.safe_dump({
            "version": 1, "environments": {"prod": {"key_dir": str(key_dir)}},
            "providers": {"fake": {"api": "openai", "base_url": provider.base_url,
                                   "region": "us"}},
            "models": {"m": {"routes": [{"provider": "fake", "model": "x"}]}},
            "services": {"web": {"environments": ["prod"], "models": ["m"]}}}))
        cat = load_catalog(repo).catalog
        policy, = environment_spec(cat, "prod").policies
        admin.sys.create_or_update_policy(name=policy.name, policy=policy.text)
        token = admin.auth.token.create(policies=[policy.name], no_default_policy=True,
                                        ttl="1h")["auth"]["client_token"]
        (key_dir / ".aigw-token").write_text(token)
        (key_dir / ".aigw-token").chmod(0o600)
        key_file = key_dir / "fake.default.key"
        key_file.write_text(old)
        dep, = deployments(cat)
        doc = ClientConfigs().document(dep)
        doc["acks"].update(address=server.addr, interval=0.2)
        config = tmp_path / "aigw-client.json"
        config.write_text(json.dumps(doc))

        client = Client.from_file(config, key_check_interval=0.05,
                                  on_attempt=lambda a: outcomes.append(_outcome(a)))
        rec = recorder(client)

        def load() -> None:
            assert client is not None
            while not stop.is_set():
                try:
                    client.chat.completions.create(model="m", messages=[
                        {"role": "user", "content": "hi"}])
                    if getattr(rec, "in_flight", False):
                        during_write[0] += 1
                except BaseException as exc:  # noqa: BLE001 - every failure is the finding
                    errors.append(exc)
                time.sleep(0.01)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        ack_path = "prod/_aigw/acks/fake/default/web"
        assert _wait_for(lambda: _ack_fp(admin, ack_path) == fingerprint(old)), "no ack"

        with caplog.at_level(logging.WARNING, logger="aigw.client.acks"):
            # 1. OpenBao killed: writes are refused at once.
            server.stop()
            _replace(key_file, new)  # the agent renders a new key: an ack to write
            failed = rec.failures  # type: ignore[union-attr]
            assert _wait_for(lambda: rec.failures >= failed + 3)  # type: ignore[union-attr]
            # 2. OpenBao hung: each write waits for its timeout, on the runtime's thread.
            hole = _Blackhole(server.port)
            during_write[0] = 0
            failed = rec.failures  # type: ignore[union-attr]
            assert _wait_for(lambda: rec.failures >= failed + 2)  # type: ignore[union-attr]
            assert during_write[0] > 0, "no request completed while an ack write hung"
        stop.set()
        worker.join(30)
        assert not errors, errors[:3]
        assert outcomes and set(outcomes) == {"ok"}, sorted(set(outcomes))
        assert outcomes.count("ok") == len(outcomes)
        warned = [r for r in caplog.records if "cannot write key acknowledgements" in r.message]
        assert warned, "the outage went unreported"
        assert len(warned) == 1, "one warning a minute, not one per retry"
        assert all(old not in r.getMessage() and new not in r.getMessage()
                   and token not in r.getMessage() for r in caplog.records)
    finally:
        stop.set()
        if client is not None:
            recorder(client).stop(timeout=5)
            client.close()
        if hole is not None:
            hole.close()
        server.stop()
        provider.stop()


def _outcome(attempt: Attempt) -> str:
    return attempt.outcome


def _kv_ready(admin: hvac.Client) -> bool:
    try:
        admin.secrets.kv.v2.read_configuration(mount_point="aigw")
        return True
    except Exception:  # noqa: BLE001 - not upgraded yet
        return False


def _ack_fp(admin: hvac.Client, path: str) -> str | None:
    try:
        got = admin.secrets.kv.v2.read_secret_version(path=path, mount_point="aigw",
                                                      raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None
    return str(got["data"]["data"].get("fingerprint"))


def _replace(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)
