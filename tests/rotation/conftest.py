"""Fixtures for rotation tests: catalogs, stand-in providers, the zygote.

The CAS-required KV v2 mount (`kv_mount`) is slot storage's fixture
(tests/slots/conftest.py); the stack (cli/aigw/stack) is not used.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml
from testing.openai_admin import OpenAIAdminServer

from aigw.catalog import LoadedCatalog, load_catalog
from tests.slots.conftest import kv_mount as kv_mount  # a fixture: rotation runs on slot storage

ADMIN_KEY = "admin-test-key"
ANTHROPIC_ADMIN_KEY = "sk-ant-admin01-" + "t" * 24  # a test value, not a real key
PROJECT = "proj_test"


def write_catalog(folder: Path, mount: str, providers: dict[str, Any], *,
                  services: dict[str, Any] | None = None, agent_refresh: int = 0) -> Path:
    """An aigw.yaml in FOLDER: one env `prod` on MOUNT, PROVIDERS, one alias per provider."""
    models = {f"m-{name}": {"routes": [{"provider": name, "model": "test-model"}]}
              for name in providers}
    doc = {
        "version": 1,
        "environments": {"prod": {"mount": mount, "agent_refresh": agent_refresh}},
        "providers": providers,
        "models": models,
        "services": services or {"web": {"environments": ["prod"], "models": sorted(models)}},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "aigw.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def openai_provider(url: str, **rotation: Any) -> dict[str, Any]:
    """A provider entry rotated by openai-admin against the stand-in at URL."""
    params = {"project_id": PROJECT, "admin_base_url": url, "verify_attempts": 2,
              "verify_delay": 0.05}
    return {"api": "openai", "base_url": url, "region": "us",
            "rotation": {"driver": "openai-admin", "max_age": "30d", "grace": "1s",
                         "params": params, **rotation}}


def load(folder: Path) -> LoadedCatalog:
    """Load the catalog in FOLDER."""
    return load_catalog(folder)


@pytest.fixture
def admin_server() -> Iterator[OpenAIAdminServer]:
    """The OpenAI stand-in, started and stopped by the test."""
    with OpenAIAdminServer(ADMIN_KEY) as server:
        yield server


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


ADMIN_POLICY = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", '
                '"Resource": "*"}]}')


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server (ThreadedMotoServer) on a free 127.0.0.1 port that checks signatures.

    It stands in for AWS IAM and STS. moto checks nothing by default; here its
    IAM authentication is switched on (`/moto-api/reset-auth`, what
    INITIAL_NO_AUTH_ACTION_COUNT sets) after an admin user `aigw-admin` is made:
    from then on every request must carry a SigV4 signature that moto
    recomputes with the secret of an existing access key (else
    SignatureDoesNotMatch / InvalidClientTokenId), and IAM calls need a policy
    allowing them (STS GetCallerIdentity is always allowed, as in AWS). The
    admin's key is put in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (boto3's chain).
    The auth switch is process-wide in moto: it is turned off again at the end.
    Make clients with `boto3_client` (a fresh session: boto3's default one keeps
    the credentials it saw first).
    """
    import requests
    from moto.server import ThreadedMotoServer

    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        # moto keeps its state in this process across servers: start every test empty.
        requests.post(f"{url}/moto-api/reset-auth", data="inf", timeout=10).raise_for_status()
        requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        iam = boto3_client("iam", url)
        iam.create_user(UserName="aigw-admin")
        iam.put_user_policy(UserName="aigw-admin", PolicyName="admin",
                            PolicyDocument=ADMIN_POLICY)
        key = iam.create_access_key(UserName="aigw-admin")["AccessKey"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
        import boto3

        # boto3's default session caches the credentials it resolved first.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        requests.post(f"{url}/moto-api/reset-auth", data="0", timeout=10).raise_for_status()
        yield url
    finally:
        requests.post(f"{url}/moto-api/reset-auth", data="inf", timeout=10)
        server.stop()


def boto3_client(service: str, url: str, **credentials: str) -> Any:
    """A boto3 client of the moto server at URL (admin credentials unless given)."""
    import boto3

    return boto3.Session().client(service, endpoint_url=url, region_name="us-east-1",
                                  **credentials)


def aws_env() -> dict[str, str]:
    """The admin credentials `moto_url` made, for a child process's environment."""
    import os

    return {k: os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                       "AWS_DEFAULT_REGION")}


def read_slot(client: hvac.Client, mount: str, path: str) -> dict[str, str] | None:
    """The current data of a slot, or None."""
    try:
        resp = client.secrets.kv.v2.read_secret_version(path=path, mount_point=mount,
                                                        raise_on_deleted_version=True)
    except hvac.exceptions.InvalidPath:
        return None
    return dict(resp["data"]["data"])


def seed(client: hvac.Client, mount: str, path: str, data: dict[str, str]) -> None:
    """Write a slot's first value (as `aigw keys put` would)."""
    client.secrets.kv.v2.create_or_update_secret(path=path, secret=data, cas=0,
                                                 mount_point=mount)


class Consumer:
    """A service stand-in: re-reads the slot (like an agent) and calls with its key.

    A call fails when USE returns False or raises (the exception's type is kept
    in `errors`); reading the slot is part of the call. `calls` counts every
    attempt, so a test can assert both `failures == 0` and `calls > 0`.
    """

    def __init__(self, client: hvac.Client, mount: str, path: str,
                 use: Callable[[dict[str, str]], Any], interval: float = 0.02) -> None:
        self.client, self.mount, self.path, self.use = client, mount, path, use
        self.interval = interval
        self.failures = 0
        self.calls = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.calls += 1
            try:
                data = read_slot(self.client, self.mount, self.path)
                ok = self.use(data) if data else False
            except Exception as exc:  # noqa: BLE001 - every error is a failed call
                self.errors.append(type(exc).__name__)
                ok = False
            if ok is False:
                self.failures += 1
            time.sleep(self.interval)

    def assert_clean(self) -> None:
        """At least one call was made and none failed."""
        assert self.calls > 0, "the consumer made no call"
        assert self.failures == 0, (f"{self.failures} of {self.calls} calls failed",
                                    self.errors[:5])

    def __enter__(self) -> Consumer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture(scope="session")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Fast real `aigw` processes (see zygote.py); the parent stops at the end of the session."""
    from tests.rotation.zygote import Zygote

    z = Zygote(tmp_path_factory.mktemp("zygote"))
    try:
        yield z
    finally:
        z.stop()


def child_env(addr: str, token: str, home: Path, **extra: str) -> dict[str, str]:
    """The whole environment of a CLI child process: OpenBao, fast timing knobs, EXTRA."""
    import os

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           "AIGW_HOME": str(home), "BAO_ADDR": addr, "BAO_TOKEN": token, "LANG": "C.UTF-8",
           "OPENAI_ADMIN_KEY": ADMIN_KEY, "AIGW_ROTATE_QUIET": "0.15",
           "AIGW_ROTATE_POLL": "0.03"}
    env.update(extra)
    return env
