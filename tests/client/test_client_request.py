"""`Client.request` and the dict API's answers (httpx.MockTransport plays the upstream)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from aigw.client import Client


def _dict_client(write_config: Any, handler: Any) -> Client:
    route = {"provider": "up", "api": "openai", "base_url": "http://up.test/v1",
             "model": "route-model", "slot": "default", "key_file": "up.default.key",
             "timeout": 2.0, "retries": 0, "cooldown": 30.0, "extra": {"temperature": 0.1}}
    return Client.from_file(write_config({"chat": [route]}),
                            transport=httpx.MockTransport(handler), watch_keys=False)


def test_request_always_sends_the_route_model(write_config):
    """`client.request` with a JSON object body: the route's model replaces whatever
    model the caller wrote, `extra` fills only keys the caller left out; a non-object
    JSON body goes as is. (httpx.MockTransport plays the upstream.)"""
    seen: list[Any] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": True})

    with _dict_client(write_config, upstream) as client:
        resp = client.request("chat", "POST", "/embeddings",
                              json={"model": "caller-model", "input": "x", "temperature": 1})
        client.request("chat", "POST", "/embeddings", json=["a", "b"])
    assert resp.status_code == 200
    assert seen == [{"model": "route-model", "input": "x", "temperature": 1}, ["a", "b"]]


def test_non_json_2xx_raises_provider_error(write_config):
    """A 2xx chat answer that is not JSON is the provider's fault: ProviderError naming
    the provider and status, with the body (no key value anywhere)."""
    from aigw.client import ProviderError

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>maintenance</html>",
                              headers={"content-type": "text/html"})

    with _dict_client(write_config, upstream) as client, \
            pytest.raises(ProviderError) as info:
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 200 and "maintenance" in info.value.body
    assert "up/default" in str(info.value) and "sk-" not in str(info.value)
