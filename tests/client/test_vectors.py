"""The cross-language conformance vectors (tests/client/vectors/*.json, docs/client.md).

Each vector is a config, key files and a list of calls; each call is a request as
an SDK of one family sends it to the failover transport, the exact upstream
requests the transport must make (URL, headers, JSON body) with the answer each
gets (a status and body, or a connection failure or timeout), and what the
caller must see (status, attempts, or the error raised). A TypeScript or Go
client runs the same files. No provider is needed: ``httpx.MockTransport``
plays the upstream and checks every request it gets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw.client import Client, attempts_of
from aigw.client.config import parse_config
from aigw.client.transport import FailoverTransport

VECTORS = sorted((Path(__file__).parent / "vectors").glob("*.json"))


class Clock:
    """The client's clock, advanced by the vectors' ``advance``."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Upstream:
    """Plays the providers: each request must match the next expected step."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        self.steps: list[dict[str, Any]] = []
        self.where = ""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.steps, f"{self.where}: unexpected upstream request {request.url}"
        step = self.steps.pop(0)
        expect = step.get("expect", {})
        where = f"{self.where}: upstream {expect.get('url', '')}"
        if "method" in expect:
            assert request.method == expect["method"], where
        if "url" in expect:
            assert str(request.url) == expect["url"], where
        for name, value in expect.get("headers", {}).items():
            assert request.headers.get(name) == value, f"{where}: header {name}"
        for name, prefix in expect.get("header_prefixes", {}).items():
            assert (request.headers.get(name) or "").startswith(prefix), f"{where}: {name}"
        for name in expect.get("absent_headers", []):
            assert name not in request.headers, f"{where}: header {name} must not be sent"
        if "body" in expect:
            assert json.loads(request.content) == expect["body"], f"{where}: body"
        for name, text in step.get("then_write_keys", {}).items():
            (self.key_dir / name).write_text(text)
        fail = step.get("fail")
        if fail == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fail == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        answer = step.get("respond", {"status": 200, "body": {}})
        return httpx.Response(answer["status"], json=answer.get("body", {}),
                              headers=answer.get("headers"))


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector(path: Path, tmp_path: Path) -> None:
    vector = json.loads(path.read_text())
    key_dir = tmp_path / "keys"
    key_dir.mkdir()
    for name, text in vector.get("keys", {}).items():
        (key_dir / name).write_text(text)
    config = parse_config({"version": 1, "service": "vectors", "environment": "test",
                           "key_dir": str(key_dir), **vector["config"]}, tmp_path)
    upstream = Upstream(key_dir)
    mock = httpx.MockTransport(upstream)
    clock = Clock()
    with Client(config, transport=mock, clock=clock, watch_keys=False,
                key_check_interval=3600) as client:
        for i, call in enumerate(vector["calls"]):
            upstream.where = f"{path.name} call {i + 1}"
            upstream.steps = list(call["upstream"])
            clock.now += call.get("advance", 0)
            req = call["request"]
            transport = FailoverTransport(client, mock, httpx, req.get("via"))
            request = httpx.Request(req.get("method", "POST"), "http://aigw.invalid" +
                                    req["path"], headers=req.get("headers", {}),
                                    json=req.get("body"))
            want = call["expect"]
            if "raises" in want:
                kind = {"connect_error": httpx.ConnectError,
                        "timeout": httpx.TimeoutException}[want["raises"]]
                with pytest.raises(kind) as info:
                    transport.handle_request(request)
                attempts = attempts_of(info.value)
            else:
                resp = transport.handle_request(request)
                resp.read()
                assert resp.status_code == want["status"], upstream.where
                if "body" in want:
                    assert resp.json() == want["body"], upstream.where
                for text in want.get("error_contains", []):
                    assert text in resp.text, upstream.where
                attempts = attempts_of(resp)
            assert upstream.steps == [], f"{upstream.where}: upstream requests not made"
            if "attempts" in want:
                assert [[a.provider, a.outcome] for a in attempts] == want["attempts"], \
                    upstream.where


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
