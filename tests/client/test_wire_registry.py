"""A wire API is one module registered against one data row: a test-only wire proves it.

The toy API below is shaped like Gemini's (the model in the URL path, the key in
``x-goog-api-key``, errors as ``{"error": {"code", "message", "status"}}``) and is
added through `aigw.client.wires.register` alone, without editing aigw. A call then
goes end to end through `aigw.client`: the config names the toy API, the SDK hook
builds the caller's client, the transport reads the alias from the path, fails over
from a 503 to the second route and sends each route its own model and key, over
real HTTP to a stand-in provider this test starts (a stand-in: no such provider).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aigw.apis import API_KEY_FIELDS, APIS, Api
from aigw.client import AsyncClient, Client, WrongFamily, attempts_of
from aigw.client.keys import parse_token
from aigw.client.streaming import BadResponse, FirstEvent
from aigw.client.wire import DROP, DROP_STREAM, dumps, key_auth, merged_body
from aigw.client.wires import FAMILIES, WIRES, register

TOY = Api("toy", "toy", API_KEY_FIELDS, "header", True, "gemini", key_header="x-goog-api-key")
_MODEL = re.compile(r"/models/([^/:?]+)")
SDK_URL = "http://toy.invalid/v1beta"


def _prepare(route: Any, method: str, path: str, body: dict[str, Any] | None,
             raw: bytes | None, stream: bool, headers: Any, credential: Any,
             auth: Any) -> tuple[str, Any, bytes]:
    path = _MODEL.sub("/models/" + quote(route.model, safe=""), path, count=1)
    drop = DROP_STREAM if stream else DROP
    out = [h for h in headers if h[1] not in drop] + auth
    if body is None:
        return route.base_url + path, out, raw or b""
    data = merged_body(body, route.model, route.extra)
    del data["model"]  # the model is in the path
    return route.base_url + path, out, dumps(data)


def _first_event_ok(block: bytes) -> bool | None:
    """The toy's own rule: the first data event must carry candidates."""
    data = [line[5:].strip() for line in block.decode().splitlines() if line.startswith("data:")]
    if not data:
        return None
    if "candidates" not in json.loads("\n".join(data)):
        raise BadResponse("toy stream opened without candidates")
    return True


class ToySDK:
    """What a family's SDK hook returns: here a two-method client over aigw's http client."""

    def __init__(self, http: Any) -> None:
        self.http = http

    def generate(self, model: str, text: str, stream: bool = False) -> Any:
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return self.http.post(f"{SDK_URL}/models/{model}:{action}",
                              json={"contents": [{"parts": [{"text": text}]}]})

    async def agenerate(self, model: str, text: str) -> Any:
        return await self.http.post(f"{SDK_URL}/models/{model}:generateContent",
                                    json={"contents": [{"parts": [{"text": text}]}]})


def _usage_tokens(usage: Any) -> dict[str, int] | None:
    """Gemini's counts: the prompt's include its cached part, the thoughts come apart."""
    if not isinstance(usage, dict) or "promptTokenCount" not in usage:
        return None
    cached, thoughts = usage.get("cachedContentTokenCount", 0), usage.get("thoughtsTokenCount", 0)
    return {"input": usage["promptTokenCount"] - cached, "cache_read": cached, "cache_write": 0,
            "output": usage.get("candidatesTokenCount", 0), "reasoning": thoughts}


TOY_WIRE = SimpleNamespace(
    api=TOY,
    parse_secret=parse_token,
    ready=lambda where: None,
    default_base_url=lambda region: "",
    auth_headers=lambda credential: key_auth(TOY, credential),
    prepare=_prepare,
    first_event=lambda ctype: FirstEvent(_first_event_ok) if "event-stream" in ctype else None,
    alias_of=lambda path, body: (m.group(1) if (m := _MODEL.search(path)) else None),
    streams=lambda path, body: "alt=sse" in path,
    error_body=lambda status, message: dumps({"error": {
        "code": status, "message": message,
        "status": "NOT_FOUND" if status == 404 else "INVALID_ARGUMENT"}}),
    sdk=lambda http, aio, options: ToySDK(http),
    usage_tokens=_usage_tokens,
)


class ToyProvider:
    """Two toy providers on one loopback server: `/p1` answers 503, `/p2` answers."""

    def __init__(self) -> None:
        self.keys = {"p1": secrets.token_hex(8), "p2": secrets.token_hex(8)}
        self.seen: list[dict[str, Any]] = []
        toy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                prefix, _, rest = self.path.lstrip("/").partition("/")
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                toy.seen.append({"provider": prefix, "path": "/" + rest, "body": body,
                                 "headers": {k.lower(): v for k, v in self.headers.items()}})
                model = _MODEL.search(self.path)
                if self.headers.get("x-goog-api-key") != toy.keys.get(prefix) or not model:
                    return self._send(403, b'{"error": {"code": 403}}')
                if prefix == "p1" and "alt=sse" not in self.path:
                    return self._send(503, b'{"error": {"code": 503}}')
                answer = {"candidates": [{"content": {"parts": [{"text": "hi"}]}}],
                          "modelVersion": model.group(1),
                          "usage": {"promptTokenCount": 7, "cachedContentTokenCount": 3,
                                    "candidatesTokenCount": 2, "thoughtsTokenCount": 1}}
                if "alt=sse" not in self.path:
                    return self._send(200, json.dumps(answer).encode())
                first = answer if prefix == "p2" else {"promptFeedback": {}}
                self._send(200, b"data: " + json.dumps(first).encode() + b"\n\n",
                           "text/event-stream")

            def _send(self, status: int, body: bytes,
                      ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def toy() -> Iterator[ToyProvider]:
    """The toy wire registered (and removed after), its stand-in provider started."""
    register(TOY_WIRE, family=TOY_WIRE)  # type: ignore[arg-type]
    provider = ToyProvider()
    try:
        yield provider
    finally:
        provider.stop()
        WIRES.pop("toy", None)
        FAMILIES.pop("toy", None)
        APIS.pop("toy", None)


def _config(tmp_path: Path, toy: ToyProvider) -> Path:
    routes = []
    for name, model in (("p1", "toy-pro"), ("p2", "toy-flash")):
        (tmp_path / f"{name}.key").write_text(toy.keys[name] + "\n")
        routes.append({"provider": name, "api": "toy", "base_url": f"{toy.url}/{name}",
                       "model": model, "slot": "default", "key_file": f"{name}.key",
                       "timeout": 5.0, "retries": 0, "cooldown": 30.0,
                       "extra": {"generationConfig": {"temperature": 0}}})
    path = tmp_path / "aigw-client.json"
    path.write_text(json.dumps({"version": 1, "service": "svc", "environment": "dev",
                                "key_dir": ".", "aliases": {
                                    "gem": {"family": "toy", "routes": routes}}}))
    return path


def test_a_registered_wire_serves_a_call_end_to_end(tmp_path: Path, toy: ToyProvider) -> None:
    with Client.from_file(_config(tmp_path, toy), watch_keys=False) as client:
        sdk = client.sdk("toy")
        resp = sdk.generate("gem", "hello")
        assert resp.status_code == 200
        assert resp.json()["modelVersion"] == "toy-flash"
        assert [(a.provider, a.outcome) for a in attempts_of(resp)] == [
            ("p1", "http_503"), ("p2", "ok")]
        # Each route got its own model in the path, its own key, the route's extra.
        assert [(s["provider"], s["path"]) for s in toy.seen] == [
            ("p1", "/v1beta/models/toy-pro:generateContent"),
            ("p2", "/v1beta/models/toy-flash:generateContent")]
        assert toy.seen[1]["body"] == {"contents": [{"parts": [{"text": "hello"}]}],
                                       "generationConfig": {"temperature": 0}}
        assert "authorization" not in toy.seen[1]["headers"]
        # An alias the service lacks: the family's own error shape, from the transport.
        missing = sdk.generate("nope", "hello")
        assert missing.status_code == 404
        assert missing.json()["error"]["status"] == "NOT_FOUND"
        assert len(toy.seen) == 2
        # Called through another family's entry point: the error names the right one.
        with pytest.raises(WrongFamily, match=r"call it through Client\.sdk\('toy'\)"):
            client.chat.completions.create(model="gem", messages=[])


def test_a_registered_family_reads_its_own_usage(tmp_path: Path, toy: ToyProvider) -> None:
    """The span of the answered attempt counts tokens as the toy family's hook reads them
    (no OpenAI or Anthropic field in its `usage`: the built-in readers would see none)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Client.from_file(_config(tmp_path, toy), watch_keys=False,
                          tracer_provider=tracer_provider) as client:
        assert client.sdk("toy").generate("gem", "hello").status_code == 200
    ok = [dict(s.attributes or {}) for s in exporter.get_finished_spans()
          if (s.attributes or {}).get("aigw.outcome") == "ok"]
    assert len(ok) == 1
    assert ok[0]["gen_ai.usage.input_tokens"] == 7
    assert ok[0]["gen_ai.usage.output_tokens"] == 3
    assert ok[0]["gen_ai.usage.cache_read.input_tokens"] == 3


def test_a_registered_wire_chooses_its_first_event_rule(tmp_path: Path,
                                                        toy: ToyProvider) -> None:
    """p1's stream opens without candidates: the toy's rule fails it over to p2."""
    with Client.from_file(_config(tmp_path, toy), watch_keys=False) as client:
        resp = client.sdk("toy").generate("gem", "hello", stream=True)
        assert [(a.provider, a.outcome) for a in attempts_of(resp)] == [
            ("p1", "bad_response"), ("p2", "ok")]
        assert b"toy-flash" in resp.read()


def test_a_registered_wire_serves_async_calls(tmp_path: Path, toy: ToyProvider) -> None:
    async def main() -> Any:
        async with AsyncClient.from_file(_config(tmp_path, toy), watch_keys=False) as client:
            return await client.sdk("toy").agenerate("gem", "hello")

    resp = asyncio.run(main())
    assert resp.json()["modelVersion"] == "toy-flash"
    assert [a.outcome for a in attempts_of(resp)] == ["http_503", "ok"]


def test_registering_refuses_a_taken_name_or_a_borrowed_family() -> None:
    """A wire may not replace a built-in's row, nor bring hooks for another API's family."""
    other = SimpleNamespace(**{**vars(TOY_WIRE), "api": Api(
        "openai", "openai", API_KEY_FIELDS, "header", True, "x", key_header="k")})
    with pytest.raises(ValueError, match="'openai' is registered already"):
        register(other)  # type: ignore[arg-type]
    bedrock_like = SimpleNamespace(**{**vars(TOY_WIRE), "api": Api(
        "toy2", "anthropic", API_KEY_FIELDS, "bearer", True, "x")})
    with pytest.raises(ValueError, match="only the API a family is named after"):
        register(bedrock_like, family=bedrock_like)  # type: ignore[arg-type]
    assert "toy2" not in WIRES and "toy2" not in APIS
    assert APIS["openai"].auth == "bearer"
