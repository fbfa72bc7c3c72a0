"""Server-sent events from an OpenAI-compatible stream, as chunk dicts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from .errors import StreamInterrupted


class BadResponse(Exception):
    """A 2xx answer that is not what an OpenAI-compatible API sends."""


_DONE = object()


def parse_line(line: str) -> Any:
    """The chunk dict of one SSE line, None for other lines, `_DONE` at the end."""
    if not line.startswith("data:"):
        return None  # comments, event names, blank separators
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    try:
        chunk = json.loads(data)
    except ValueError:
        raise BadResponse("stream chunk is not JSON") from None
    if isinstance(chunk, dict) and "error" in chunk and "choices" not in chunk:
        raise BadResponse("stream carried an error event")
    return chunk


def iter_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Yield each ``data:`` JSON chunk until ``data: [DONE]`` or the end of the body."""
    for line in response.iter_lines():
        chunk = parse_line(line)
        if chunk is _DONE:
            return
        if chunk is not None:
            yield chunk


async def aiter_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Async `iter_events`."""
    async for line in response.aiter_lines():
        chunk = parse_line(line)
        if chunk is _DONE:
            return
        if chunk is not None:
            yield chunk


def open_first_chunk(response: httpx.Response) -> tuple[Iterator[dict[str, Any]], dict[str, Any]]:
    """Read up to the first chunk; failover is still allowed if this raises."""
    events = iter_events(response)
    try:
        first = next(events)
    except StopIteration:
        response.close()
        raise BadResponse("stream ended before its first chunk") from None
    except BaseException:
        response.close()
        raise
    return events, first


async def aopen_first_chunk(response: httpx.Response
                            ) -> tuple[AsyncIterator[dict[str, Any]], dict[str, Any]]:
    """Async `open_first_chunk`."""
    events = aiter_events(response)
    try:
        first = await anext(events)
    except StopAsyncIteration:
        await response.aclose()
        raise BadResponse("stream ended before its first chunk") from None
    except BaseException:
        await response.aclose()
        raise
    return events, first


OnEnd = Callable[[str, "dict[str, Any] | None"], None]


class _StreamEnd:
    """Calls `on_end` once with the outcome and the last chunk seen."""

    def __init__(self, provider: str, first: dict[str, Any], on_end: OnEnd) -> None:
        self.provider = provider
        self._next: dict[str, Any] | None = first
        self._last: dict[str, Any] | None = None
        self._on_end: OnEnd | None = on_end

    def _take_first(self) -> dict[str, Any] | None:
        chunk, self._next = self._next, None
        return chunk

    def _report(self, outcome: str) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end(outcome, self._last)

    def _broken(self, exc: BaseException) -> StreamInterrupted:
        self._report("interrupted")
        return StreamInterrupted(f"stream from {self.provider} broke after it started "
                                 f"({type(exc).__name__})")


class AsyncChatStream(_StreamEnd):
    """Async `ChatStream`: ``async for chunk in stream``; ``await stream.aclose()``."""

    def __init__(self, response: httpx.Response, events: AsyncIterator[dict[str, Any]],
                 first: dict[str, Any], provider: str, on_end: OnEnd) -> None:
        super().__init__(provider, first, on_end)
        self.response = response
        self._events = events

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        chunk = self._take_first()
        if chunk is None:
            try:
                chunk = await anext(self._events)
            except StopAsyncIteration:
                await self.response.aclose()
                self._report("ok")
                raise
            except (httpx.HTTPError, BadResponse) as exc:
                await self.response.aclose()
                raise self._broken(exc) from None
        self._last = chunk
        return chunk

    async def aclose(self) -> None:
        """Close the underlying response (ends the span if still open)."""
        await self.response.aclose()
        self._report("closed")

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class ChatStream(_StreamEnd):
    """An iterator of chat completion chunk dicts; close it (or use `with`) if you stop early.

    `on_end` is called once with the outcome (``ok``, ``interrupted``, ``closed``)
    and the last chunk seen (which carries ``usage`` when the provider sends it).
    """

    def __init__(self, response: httpx.Response, events: Iterator[dict[str, Any]],
                 first: dict[str, Any], provider: str, on_end: OnEnd) -> None:
        super().__init__(provider, first, on_end)
        self.response = response
        self._events = events

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> dict[str, Any]:
        chunk = self._take_first()
        if chunk is None:
            try:
                chunk = next(self._events)
            except StopIteration:
                self.response.close()
                self._report("ok")
                raise
            except (httpx.HTTPError, BadResponse) as exc:
                self.response.close()
                raise self._broken(exc) from None
        self._last = chunk
        return chunk

    def close(self) -> None:
        """Close the underlying response (ends the span if still open)."""
        self.response.close()
        self._report("closed")

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
