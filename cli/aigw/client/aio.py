"""`AsyncClient`: `Client` for asyncio code, on the same core and transport logic.

Same config, keys, failover plan and spans; only the sends are awaited. Key
files are checked with a cheap `os.stat` (at most every `key_check_interval`),
which does not need a thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from .config import ClientConfig
from .core import BaseClient
from .dictapi import chat_call, chat_value, check, provider_of, request_call, sanitized
from .sdk import inner_httpx2, make_sdk
from .streaming import AsyncChatStream
from .transport import AsyncFailoverTransport
from .wire import ANTHROPIC, OPENAI


class AsyncClient(BaseClient):
    """Calls providers directly for one service from asyncio code.

    Create one per event loop and reuse it; ``async with`` or `aclose` closes it.
    """

    def __init__(self, config: ClientConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None, **kwargs: Any) -> None:
        """Build a client; see `Client` and `BaseClient` for the keyword arguments."""
        super().__init__(config, **kwargs)
        self._owns_inner = transport is None
        self._inner = transport or httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        self._inner_sdk: Any = None
        self.transport = AsyncFailoverTransport(self, self._inner, httpx, None)
        self._chat_transport = AsyncFailoverTransport(self, self._inner, httpx, OPENAI)
        self.chat = AsyncChat(self)

    async def aclose(self) -> None:
        """Stop the key watcher and close the connection pools this client made."""
        self._stop_watcher()
        self._telemetry.close()  # records the queued metrics
        if self._owns_inner:
            await self._inner.aclose()
        if self._inner_sdk is not None:
            await self._inner_sdk.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def openai(self, *, transport: Any = None, **kwargs: Any) -> Any:
        """An ``openai.AsyncOpenAI`` whose requests go through aigw (see `Client.openai`)."""
        return make_sdk(self, OPENAI, transport or self._sdk_inner(), True, kwargs)

    def anthropic(self, *, transport: Any = None, **kwargs: Any) -> Any:
        """An ``anthropic.AsyncAnthropic`` whose requests go through aigw."""
        return make_sdk(self, ANTHROPIC, transport or self._sdk_inner(), True, kwargs)

    def _sdk_inner(self) -> Any:
        if self._inner_sdk is None:
            self._inner_sdk = inner_httpx2(aio=True)
        return self._inner_sdk

    async def request(self, alias: str, method: str, path: str, *, json: Any = None,
                      headers: dict[str, str] | None = None,
                      session_id: str | None = None) -> httpx.Response:
        """Async `Client.request`."""
        call = request_call(alias, method, path, json, headers, session_id)
        return sanitized(check(alias, await self.transport.send(call)), method, path)

    async def _chat(self, alias: str, messages: Iterable[dict[str, Any]], stream: bool,
                    session_id: str | None, extra: dict[str, Any]) -> Any:
        resp = await self._chat_transport.send(
            chat_call(alias, messages, stream, session_id, extra))
        if stream and resp.extensions.get("aigw.outcome") == "ok":
            return AsyncChatStream(resp, provider_of(resp))
        return chat_value(alias, resp)


class AsyncCompletions:
    """``client.chat.completions`` of an `AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(self, *, model: str, messages: Iterable[dict[str, Any]],
                     stream: bool = False, session_id: str | None = None,
                     **extra: Any) -> Any:
        """Async `Completions.create`; with ``stream=True`` an `AsyncChatStream`."""
        return await self._client._chat(model, messages, stream, session_id, extra)


class AsyncChat:
    """``client.chat`` of an `AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self.completions = AsyncCompletions(client)
