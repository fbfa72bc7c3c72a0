"""`AsyncClient`: the asyncio twin of `Client` over httpx.AsyncClient.

Same config, keys, failover plan and spans; only the sends are awaited. Key
files are checked with a cheap `os.stat` (at most every `key_check_interval`),
which does not need a thread.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx

from .config import ClientConfig
from .core import ATTEMPT_ERRORS, BaseClient, Result, failure_outcome
from .errors import Attempt, ProviderError
from .router import RouteState
from .streaming import AsyncChatStream, BadResponse, aopen_first_chunk
from .telemetry import CallSpan

T = TypeVar("T")


class AsyncClient(BaseClient):
    """Calls providers directly for one service from asyncio code.

    Create one per event loop and reuse it; ``async with`` or `aclose` closes it.
    """

    def __init__(self, config: ClientConfig, *, http_client: httpx.AsyncClient | None = None,
                 **kwargs: Any) -> None:
        """Build a client; see `BaseClient` for the other keyword arguments."""
        super().__init__(config, **kwargs)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        self.chat = AsyncChat(self)

    async def aclose(self) -> None:
        """Stop the key watcher and close the HTTP client if this client created it."""
        self._stop_watcher()
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(self, alias: str, method: str, path: str, *, json: Any = None,
                      headers: dict[str, str] | None = None,
                      session_id: str | None = None) -> httpx.Response:
        """Async `Client.request`."""
        span = self._telemetry.start(alias, "request")

        async def send(rs: RouteState, key: str) -> tuple[int, httpx.Response]:
            body = json
            if isinstance(json, dict) and "model" not in json:
                body = {"model": rs.route.model, **json}
            hdrs = {**(headers or {}), "Authorization": "Bearer " + key}
            resp = await self._http.request(method, rs.route.base_url + path, json=body,
                                            headers=hdrs, timeout=rs.timeout)
            return resp.status_code, resp

        rs, resp, attempt = await self._drive(alias, session_id, span, send)
        span.finish(rs, attempt.outcome)
        return resp

    async def _chat(self, alias: str, messages: Iterable[dict[str, Any]], stream: bool,
                    session_id: str | None, extra: dict[str, Any]) -> Any:
        msgs = messages if isinstance(messages, list) else list(messages)
        span = self._telemetry.start(alias)

        async def send(rs: RouteState, key: str) -> tuple[int, Any]:
            body = self._chat_body(rs, msgs, stream, extra)
            hdrs = {"Authorization": "Bearer " + key}
            if not stream:
                resp = await self._http.post(rs.chat_url, json=body, headers=hdrs,
                                             timeout=rs.timeout)
                if resp.status_code >= 400:
                    return resp.status_code, resp
                try:
                    return resp.status_code, resp.json()
                except ValueError:
                    raise BadResponse("answer is not JSON") from None
            req = self._http.build_request("POST", rs.chat_url, json=body, headers=hdrs,
                                           timeout=rs.timeout)
            resp = await self._http.send(req, stream=True)
            if resp.status_code >= 400:
                try:
                    await resp.aread()
                finally:
                    await resp.aclose()
                return resp.status_code, resp
            events, first = await aopen_first_chunk(resp)

            def on_end(outcome: str, last: dict[str, Any] | None) -> None:
                span.finish(rs, outcome, last)

            return resp.status_code, AsyncChatStream(resp, events, first, rs.route.provider,
                                                     on_end)

        rs, value, attempt = await self._drive(alias, session_id, span, send)
        if attempt.outcome != "ok":
            span.finish(rs, attempt.outcome)
            raise ProviderError(alias, attempt, value.text)
        if not stream:
            span.finish(rs, "ok", value)
        return value

    async def _drive(self, alias: str, session_id: str | None, span: CallSpan,
                     send: Callable[[RouteState, str], Awaitable[tuple[int, T]]]
                     ) -> tuple[RouteState, T, Attempt]:
        """Run the failover plan with awaited sends; the span ends if it raises."""
        try:
            with span.use():
                plan = self._plan(alias, session_id, span)
                try:
                    rs, key = next(plan)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            status, value = await send(rs, key)
                            result = Result.of(status, value, t0)
                        except ATTEMPT_ERRORS as exc:
                            result = Result.failed(exc, t0)
                        rs, key = plan.send(result)
                except StopIteration as done:
                    decided: tuple[RouteState, T, Attempt] = done.value
                    return decided
        except BaseException as exc:
            span.finish(None, failure_outcome(exc))
            raise


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
