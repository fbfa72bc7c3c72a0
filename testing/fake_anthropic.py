"""A local stand-in for the Anthropic Messages API (POST /v1/messages), for tests and
benchmarks.

Faithful where the official `anthropic` SDK looks: a key (``x-api-key``, or
``Authorization: Bearer`` as the SDK itself sends it) and ``anthropic-version``
are required, answers are Message objects, streams are the
documented SSE events (message_start, content_block_start, ping,
content_block_delta, content_block_stop, message_delta, message_stop), errors are
``{"type": "error", "error": {"type", "message"}}`` with Anthropic's error types.
A forced tool (``tool_choice: {"type": "tool"}``) is answered with a tool_use
block whose input satisfies the tool's schema. Keys, fault modes, counts and the
control API are those of `testing.fake_provider.FakeProvider`; run it as a
process with ``python -m testing.fake_anthropic`` (same options).
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterable
from typing import Any

from testing.fake_provider import FakeProvider, _Handler, _reply, main, sample

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 429: "rate_limit_error",
               500: "api_error", 503: "overloaded_error", 529: "overloaded_error"}


def error(status: int, message: str) -> bytes:
    """An Anthropic error body."""
    return json.dumps({"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"),
                                                  "message": message}}).encode()


def last_text(body: dict[str, Any]) -> str:
    """The text of the last message (a string or a list of content blocks)."""
    messages = body.get("messages") or [{}]
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    if isinstance(content, list):
        content = " ".join(str(b.get("text", "")) for b in content
                           if isinstance(b, dict) and b.get("type") == "text")
    return str(content)[:200]


def message(provider: str, body: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """The Message a model would answer with: an echo, or the forced tool's call."""
    text = f"[{provider}] echo: {last_text(body)}"
    fmt = (body.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":  # structured output: text that fits the schema
        text = json.dumps(sample(fmt.get("schema"), text))
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    stop = "end_turn"
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        tool = next((t for t in body.get("tools") or [] if t.get("name") == choice.get("name")),
                    {})
        content = [{"type": "tool_use", "id": "toolu_" + secrets.token_hex(8),
                    "name": choice.get("name"), "input": sample(tool.get("input_schema"))}]
        stop = "tool_use"
    return {"id": "msg_" + secrets.token_hex(8), "type": "message", "role": "assistant",
            "model": model if model is not None else body.get("model", ""),
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": len(last_text(body).split()) or 1,
                      "output_tokens": len(text.split())}}


def stream_events(msg: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The SSE events of `msg`, streamed the way the Messages API streams it."""
    start = {**msg, "content": [], "stop_reason": None,
             "usage": {"input_tokens": msg["usage"]["input_tokens"], "output_tokens": 1}}
    yield {"type": "message_start", "message": start}
    for i, block in enumerate(msg["content"]):
        if block["type"] == "text":
            yield {"type": "content_block_start", "index": i,
                   "content_block": {"type": "text", "text": ""}}
            if i == 0:
                yield {"type": "ping"}
            for j, word in enumerate(block["text"].split(" ")):
                yield {"type": "content_block_delta", "index": i,
                       "delta": {"type": "text_delta", "text": word if j == 0 else " " + word}}
        else:
            yield {"type": "content_block_start", "index": i,
                   "content_block": {**block, "input": {}}}
            yield {"type": "content_block_delta", "index": i,
                   "delta": {"type": "input_json_delta",
                             "partial_json": json.dumps(block["input"])}}
        yield {"type": "content_block_stop", "index": i}
    yield {"type": "message_delta", "delta": {"stop_reason": msg["stop_reason"],
                                              "stop_sequence": None},
           "usage": {"output_tokens": msg["usage"]["output_tokens"]}}
    yield {"type": "message_stop"}


class FakeAnthropic(FakeProvider):
    """The Anthropic Messages API on 127.0.0.1 (``base_url`` is the root, as for
    api.anthropic.com: the SDK adds ``/v1/messages``)."""

    @property
    def base_url(self) -> str:
        """What a route's base_url is for this stand-in."""
        return self.url

    def _handle(self, h: _Handler) -> None:
        path = h.path.split("?", 1)[0]
        if path.startswith("/_fake/") or h.server.admin_only:
            return super()._handle(h)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if path != "/v1/messages" or h.command != "POST":
            _reply(h, 404, error(404, f"no route {h.command} {path}"), self.name)
            return
        if not h.headers.get("anthropic-version"):
            _reply(h, 400, error(400, "anthropic-version header is required"), self.name)
            return
        # The API takes the key as x-api-key (what aigw sends) or, as the SDK sends it
        # itself, Authorization: Bearer.
        auth = h.headers.get("Authorization") or ""
        key = h.headers.get("x-api-key") or (auth[7:] if auth[:7].lower() == "bearer " else "")
        status, mode, body = self.admit(key, raw, parse=True)
        if status == 401:
            _reply(h, 401, error(401, "invalid x-api-key"), self.name)
        elif status != 200:
            _reply(h, status, error(status, f"injected {status}"), self.name)
        elif not isinstance(body.get("max_tokens"), int) or not body.get("messages"):
            _reply(h, 400, error(400, "max_tokens and messages are required"), self.name)
        elif body.get("stream"):
            self._sse(h, ((e["type"], e) for e in stream_events(message(self.name, body))),
                      cut=mode == "cut", done=False)
        else:
            _reply(h, 200, json.dumps(message(self.name, body)).encode(), self.name)


if __name__ == "__main__":
    sys.exit(main(cls=FakeAnthropic, prog="python -m testing.fake_anthropic"))
