"""SDK adapters: the official openai and anthropic SDKs, with aigw as their transport.

The SDK keeps its whole surface (typed responses, streaming helpers, tools,
structured output, the Responses API); aigw only plugs in underneath through
the SDK's ``http_client`` (httpx2, which both SDKs use). The SDK's own retries
are off: aigw owns retries and failover. Pass the alias as ``model``.
"""

from __future__ import annotations

import logging
from typing import Any

from .core import BaseClient
from .errors import ClientError
from .transport import AsyncFailoverTransport, FailoverTransport
from .wire import ANTHROPIC, OPENAI

# The SDK's base URL: the transport replaces it with each route's base_url.
SDK_BASE_URL = "http://aigw.invalid"
# What the SDK sends as its key: dropped by the transport, which sets the route's.
PLACEHOLDER_KEY = "aigw-routes-set-the-key"
_EXTRA = {OPENAI: "openai", ANTHROPIC: "anthropic"}


def _import(family: str) -> Any:
    import importlib

    try:
        return importlib.import_module(_EXTRA[family])
    except ImportError:
        raise ClientError(f"the {_EXTRA[family]} SDK is not installed: "
                          f"pip install 'aigw[{_EXTRA[family]}]'") from None


def _httpx2() -> Any:
    import httpx2

    return httpx2


class _PlaceholderRequestLine(logging.Filter):
    """Drops httpx's `HTTP Request: POST http://aigw.invalid/... "HTTP/1.1 200 OK"` INFO line.

    That URL is the SDK's placeholder: the transport sends each attempt to a route's
    base_url (and reports attempts itself: `on_attempt`, telemetry), so the line
    names no real endpoint and only confuses a service's log. Requests of the
    service's own httpx clients still log as before.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not any(str(arg).startswith(SDK_BASE_URL) for arg in args[1:2])


_PLACEHOLDER_FILTER = _PlaceholderRequestLine()


def _quiet_placeholder_requests() -> None:
    # Installed on first use of an SDK adapter (idempotent: a filter is kept once).
    for name in ("httpx2", "httpx"):
        logging.getLogger(name).addFilter(_PLACEHOLDER_FILTER)


def make_sdk(core: BaseClient, family: str, inner: Any, aio: bool, kwargs: dict[str, Any]) -> Any:
    """An openai.OpenAI / AsyncOpenAI or anthropic.Anthropic / AsyncAnthropic over aigw."""
    sdk = _import(family)
    _quiet_placeholder_requests()
    h = _httpx2()
    if aio:
        http: Any = h.AsyncClient(transport=AsyncFailoverTransport(core, inner, h, family))
    else:
        http = h.Client(transport=FailoverTransport(core, inner, h, family))
    names = {(OPENAI, False): "OpenAI", (OPENAI, True): "AsyncOpenAI",
             (ANTHROPIC, False): "Anthropic", (ANTHROPIC, True): "AsyncAnthropic"}
    cls = getattr(sdk, names[(family, aio)])
    options: dict[str, Any] = {"api_key": PLACEHOLDER_KEY, "base_url": SDK_BASE_URL,
                               "max_retries": 0, "http_client": http}
    for name in ("api_key", "base_url", "max_retries", "http_client"):
        if name in kwargs:
            raise TypeError(f"{name} is set by aigw (routes come from aigw-client.json)")
    return cls(**options, **kwargs)


def inner_httpx2(aio: bool) -> Any:
    """A pooled httpx2 transport for the SDK adapters."""
    h = _httpx2()
    limits = h.Limits(max_connections=200, max_keepalive_connections=50)
    return h.AsyncHTTPTransport(limits=limits) if aio else h.HTTPTransport(limits=limits)
