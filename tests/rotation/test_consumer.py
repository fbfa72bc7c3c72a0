"""The crash and rotation tests' consumer counts every error as a failed call.

Issue 13 item 4: the consumer once wrapped each call in `suppress(Exception)`, so a
rotation that broke every call passed. These checks use a stand-in of hvac's KV v2
reader (no server): what they test is the consumer's counting, not OpenBao.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers import wait_for
from tests.rotation.conftest import Consumer


def _client(read: Any) -> Any:
    return SimpleNamespace(secrets=SimpleNamespace(kv=SimpleNamespace(
        v2=SimpleNamespace(read_secret_version=read))))


def _slot(**_: Any) -> dict[str, Any]:
    return {"data": {"data": {"api_key": "k"}}}


def _refused(**_: Any) -> dict[str, Any]:
    raise ConnectionError("OpenBao is down")


def _raises(_: dict[str, str]) -> bool:
    raise RuntimeError("provider said 401")


@pytest.mark.parametrize(("read", "use", "error"), [
    (_slot, _raises, "RuntimeError"),   # the call itself raises
    (_refused, lambda _: True, "ConnectionError"),  # reading the key is part of the call
    (_slot, lambda _: False, None),     # the call reports failure
])
def test_every_kind_of_failed_call_is_counted(read: Any, use: Any, error: str | None) -> None:
    with Consumer(_client(read), "aigw", "p", use, interval=0.001) as consumer:
        assert wait_for(lambda: consumer.failures >= 3, timeout=30)
    assert consumer.calls >= consumer.failures
    if error:
        assert error in consumer.errors
    with pytest.raises(AssertionError, match="calls failed"):
        consumer.assert_clean()


def test_a_consumer_that_made_no_call_is_not_clean() -> None:
    consumer = Consumer(_client(_slot), "aigw", "p", lambda _: True)
    with pytest.raises(AssertionError, match="made no call"):
        consumer.assert_clean()


def test_a_consumer_whose_calls_succeed_is_clean() -> None:
    with Consumer(_client(_slot), "aigw", "p", lambda _: True, interval=0.001) as consumer:
        assert wait_for(lambda: consumer.calls >= 3, timeout=30)
    consumer.assert_clean()
