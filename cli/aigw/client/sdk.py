"""SDK adapters: a family's SDK (the official openai and anthropic SDKs), with aigw as
its transport.

The SDK keeps its whole surface (typed responses, streaming helpers, tools,
structured output, the Responses API); aigw only plugs in underneath through
the SDK's ``http_client`` (httpx2, which both SDKs use). Which SDK a family
gets is its wire's `sdk` hook (client/wires/). The SDK's own retries are off:
aigw owns retries and failover. Pass the alias as ``model``.
"""

from __future__ import annotations

import logging
from typing import Any

from .core import BaseClient
from .transport import AsyncFailoverTransport, FailoverTransport
from .wire import SDK_BASE_URL
from .wires import family_wire


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
    """The SDK client of `family`'s wire (``openai.OpenAI``, ``anthropic.AsyncAnthropic``...)
    over an httpx2 client whose transport fails over across `core`'s routes."""
    wire = family_wire(family)
    _quiet_placeholder_requests()
    h = _httpx2()
    if aio:
        http: Any = h.AsyncClient(transport=AsyncFailoverTransport(core, inner, h, family))
    else:
        http = h.Client(transport=FailoverTransport(core, inner, h, family))
    return wire.sdk(http, aio, kwargs)


def inner_httpx2(aio: bool) -> Any:
    """A pooled httpx2 transport for the SDK adapters."""
    h = _httpx2()
    limits = h.Limits(max_connections=200, max_keepalive_connections=50)
    return h.AsyncHTTPTransport(limits=limits) if aio else h.HTTPTransport(limits=limits)
