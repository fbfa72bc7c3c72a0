"""The dict API (``client.chat.completions.create``, ``client.request``) on the transport.

Building the call and reading its answer are the same for `Client` and
`AsyncClient`; only the send is awaited or not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from aigw.apis import OPENAI

from .errors import AllRoutesFailed, ProviderError
from .transport import ATTEMPTS, DEFAULT_HEADERS, OUTCOME, Call
from .wire import headers_of

CHAT_PATH = "/chat/completions"


def chat_call(alias: str, messages: Iterable[dict[str, Any]], stream: bool,
              session_id: str | None, extra: dict[str, Any]) -> Call:
    """An OpenAI chat completion call: messages, then the caller's extra parameters."""
    body: dict[str, Any] = {"model": alias,
                            "messages": messages if isinstance(messages, list)
                            else list(messages)}
    if extra:
        body.update(extra)
    if stream:
        body["stream"] = True
    return Call(alias, "POST", CHAT_PATH, body, stream=stream, session_id=session_id,
                family=OPENAI)


def request_call(alias: str, method: str, path: str, json: Any,
                 headers: dict[str, str] | None, session_id: str | None) -> Call:
    """A raw call of `path` (relative to each route's base_url) on any family."""
    hdrs = DEFAULT_HEADERS + headers_of(headers.items()) if headers else DEFAULT_HEADERS
    if isinstance(json, dict):
        return Call(alias, method, path, json, headers=hdrs, session_id=session_id,
                    stream=json.get("stream") is True, operation="request")
    raw = b"" if json is None else httpx.Request("POST", "http://x", json=json).content
    return Call(alias, method, path, None, raw=raw, headers=hdrs, session_id=session_id,
                operation="request")


def check(alias: str, resp: Any) -> Any:
    """Raise AllRoutesFailed / ProviderError for a response the transport labelled so."""
    outcome = resp.extensions.get(OUTCOME)
    if outcome == "all_routes_failed":
        raise AllRoutesFailed(alias, list(resp.extensions[ATTEMPTS]))
    return resp


def chat_value(alias: str, resp: Any) -> Any:
    """The completion dict of a non-streaming answer."""
    check(alias, resp)
    if resp.extensions.get(OUTCOME) != "ok":
        attempts = resp.extensions.get(ATTEMPTS) or []
        if attempts:
            raise ProviderError(alias, attempts[-1], resp.text)
        raise ProviderError.rejected(alias, resp.status_code, resp.text)
    try:
        return resp.json()
    except ValueError:
        raise ProviderError(alias, resp.extensions[ATTEMPTS][-1], resp.text) from None


def provider_of(resp: Any) -> str:
    """The provider that served a labelled response."""
    attempts = resp.extensions.get(ATTEMPTS) or []
    return str(attempts[-1].provider) if attempts else "?"


def sanitized(resp: Any, method: str, path: str) -> Any:
    """Point the response at a request without the route's credential in it."""
    resp.request = httpx.Request(method, "http://aigw.invalid" + path)
    return resp
