"""Shared fixtures: one real OpenBao dev server per session, a fresh KV v2 mount per test."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import hvac.exceptions
import pytest
from testing.bao import BaoDevServer


@pytest.fixture(scope="session")
def bao() -> Iterator[BaoDevServer]:
    """A `bao server -dev` on a free loopback port for the whole session (do not stop it)."""
    with BaoDevServer() as server:
        yield server


@pytest.fixture
def vault_mount(bao: BaoDevServer) -> Iterator[str]:
    """The path of a KV v2 mount enabled for this test only and disabled afterwards."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    client = bao.client()
    client.sys.enable_secrets_engine("kv", path=name, options={"version": "2"})
    _wait_until_kv2_ready(client, name)
    yield name
    if bao.running:
        client.sys.disable_secrets_engine(path=name)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run `after_runners` tests last; deselect `drift` tests unless asked for (`-m drift`, as scripts/check-drift.sh does).

    They install the newest allowed releases from PyPI instead of the lock, so their
    outcome depends on the day, not on the change under test.
    """
    # The cross-runner comparison reads the results files that the Python, TypeScript
    # and Go vector runners write during this run, so it runs after all of them.
    items.sort(key=lambda item: item.get_closest_marker("after_runners") is not None)
    if "drift" in (config.option.markexpr or ""):
        return
    keep = [item for item in items if item.get_closest_marker("drift") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def _wait_until_kv2_ready(client: object, mount: str, timeout: float = 60.0) -> None:
    """A new KV v2 mount answers "Upgrading from non-versioned..." for a moment (longer on
    a busy machine): wait until it serves requests, as aigw's own stack code does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.secrets.kv.v2.read_configuration(mount_point=mount)  # type: ignore[attr-defined]
            return
        except hvac.exceptions.InvalidRequest as exc:
            if "Upgrading" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
