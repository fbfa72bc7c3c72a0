"""Streams: failover until the first event, then hand the bytes through unchanged.

`peek` reads a streaming answer up to its first complete event, as the route's
wire says (its `first_event` hook: an SSE event by the spec's rule, or a Bedrock
event-stream frame converted to Anthropic SSE). Until then the failover transport may still try another route; after it,
`replay_stream` replays what was read and passes the rest through. The dict
API's `ChatStream` turns the SSE bytes into chunk dicts.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from .errors import StreamInterrupted
from .eventstream import EventStreamDecoder, EventStreamError, frame_to_sse
from .usage import StreamTap


class BadResponse(Exception):
    """A 2xx streaming answer that failed before its first event."""


_DONE = object()
# A wire's first-event rule: one SSE event's bytes -> True for a data event, None for
# an event without data; raises BadResponse for an event that opens a failed stream.
FirstEventRule = Callable[[bytes], "bool | None"]


def sse_first_event(block: bytes) -> bool | None:
    """The spec's first-event rule (spec/README.md R5), for OpenAI and Anthropic SSE:
    True for a data event, None for a block without data, raises for an error event."""
    event, data = "", []
    for line in block.decode("utf-8", "replace").splitlines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    if not data:
        return None
    text = "\n".join(data)
    if text == "[DONE]":
        raise BadResponse("stream ended before its first event")
    try:
        obj = json.loads(text)
    except ValueError:
        raise BadResponse("first stream event is not JSON") from None
    if event == "error" or (isinstance(obj, dict) and (
            obj.get("type") == "error" or (obj.get("error") and "choices" not in obj))):
        raise BadResponse("stream opened with an error event")
    return True


class SSEPeek:
    """Feed SSE bytes until the first event that carries data has arrived."""

    def __init__(self, rule: FirstEventRule = sse_first_event) -> None:
        self._buf = b""
        self._rule = rule

    def feed(self, chunk: bytes) -> bool:
        """True once a complete first data event is in; raises BadResponse on errors."""
        self._buf += chunk
        while True:
            buf = self._buf.replace(b"\r\n", b"\n")
            end = buf.find(b"\n\n")
            if end < 0:
                return False
            self._buf = buf[end + 2:]
            if self._rule(buf[:end]):
                return True


class EventStreamToSSE:
    """Bedrock event-stream bytes in, Anthropic SSE bytes out."""

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()
        self.started = False

    def feed(self, chunk: bytes) -> bytes:
        """The SSE bytes of the frames completed by `chunk`.

        Before the first event an error frame raises BadResponse (failover is
        still possible); after it, errors pass through as SSE ``error`` events.
        """
        out = []
        try:
            frames = self._decoder.feed(chunk)
            for frame in frames:
                sse, is_error = frame_to_sse(frame)
                if is_error and not self.started:
                    raise BadResponse("Bedrock stream opened with an exception")
                if sse:
                    self.started = True
                    out.append(sse)
        except EventStreamError as exc:
            if not self.started:
                raise BadResponse(str(exc)) from None
            raise
        return b"".join(out)

    def finish(self) -> None:
        """Raise if the stream ended inside a frame."""
        if self._decoder.pending:
            raise EventStreamError("stream ended inside a frame")


OnEnd = Callable[[str], None]


def once(fn: OnEnd) -> OnEnd:
    """`fn` called at most once."""
    state = [fn]

    def call(outcome: str) -> None:
        f = state.pop() if state else None
        if f is not None:
            f(outcome)

    return call


class FirstEvent:
    """Sans-I/O: the chunks of a stream up to its first event, by a wire's `rule` for
    SSE, or converted to SSE by `conv` (Bedrock event-stream frames: the converter
    knows when the stream started). A wire's `first_event` hook makes one per answer."""

    __slots__ = ("head", "conv", "_sse")

    def __init__(self, rule: FirstEventRule = sse_first_event,
                 conv: EventStreamToSSE | None = None) -> None:
        self.head: list[bytes] = []
        self.conv = conv
        self._sse = SSEPeek(rule)

    def feed(self, chunk: bytes) -> bool:
        """True once the first event is in; raises BadResponse for a failed start."""
        conv = self.conv
        if conv is None:
            self.head.append(chunk)
            return self._sse.feed(chunk)
        chunk = conv.feed(chunk)
        if chunk:
            self.head.append(chunk)
        return conv.started

    def ended(self) -> BadResponse:
        """The error of a stream that ended before its first event."""
        return BadResponse("stream ended before its first event")


Peeked = tuple[list[bytes], Any, EventStreamToSSE | None]


def peek(resp: Any, first: FirstEvent) -> Peeked:
    """Read `resp` up to its first event: (bytes read, the rest, the converter if any).

    Closes `resp` when that fails."""
    try:
        it: Iterator[bytes] = resp.iter_raw()
        for chunk in it:
            if first.feed(chunk):
                return first.head, it, first.conv
        raise first.ended()
    except BaseException:
        resp.close()
        raise


async def apeek(resp: Any, first: FirstEvent) -> Peeked:
    """Async `peek`."""
    try:
        it: AsyncIterator[bytes] = resp.aiter_raw()
        async for chunk in it:
            if first.feed(chunk):
                return first.head, it, first.conv
        raise first.ended()
    except BaseException:
        await resp.aclose()
        raise


def read(resp: Any) -> Any:
    """`resp`, read to its end and closed (its connection goes back to the pool)."""
    try:
        resp.read()
    finally:
        if not resp.is_closed:  # (read to its end, it is closed already)
            resp.close()
    return resp


async def aread(resp: Any) -> Any:
    """Async `read`."""
    try:
        await resp.aread()
    finally:
        if not resp.is_closed:
            await resp.aclose()
    return resp


class Started:
    """Sans-I/O: a stream past its first event, as the replay classes pass it on: the
    peeked head first, then each chunk (converted from Bedrock frames when `conv`),
    and how it ended, reported once."""

    __slots__ = ("head", "conv", "on_end", "tap")

    def __init__(self, head: list[bytes], conv: EventStreamToSSE | None,
                 on_end: OnEnd, tap: StreamTap | None = None) -> None:
        self.head, self.conv, self.on_end = head, conv, once(on_end)
        self.tap = tap  # keeps the events with usage, for metrics (client/usage.py)

    def take_head(self) -> list[bytes]:
        """The bytes read before the stream was handed on (once)."""
        head, self.head = self.head, []
        if self.tap is not None:
            for chunk in head:
                self.tap.feed(chunk)
        return head

    def chunk(self, chunk: bytes) -> bytes:
        """What to pass on for `chunk` (b"" while a Bedrock frame is incomplete)."""
        out = self.conv.feed(chunk) if self.conv is not None else chunk
        if self.tap is not None and out:
            self.tap.feed(out)
        return out

    def done(self) -> None:
        """The stream ended; raises if it ended inside a Bedrock frame."""
        if self.conv is not None:
            self.conv.finish()
        self.on_end("ok")

    @contextlib.contextmanager
    def ending(self) -> Iterator[None]:
        """Report an interrupted stream (not one its reader closed early)."""
        try:
            yield
        except GeneratorExit:
            raise
        except BaseException:
            self.on_end("interrupted")
            raise


class _Replaying:
    def __init__(self, head: list[bytes], rest: Any, conv: EventStreamToSSE | None,
                 close: Callable[[], Any], on_end: OnEnd, tap: StreamTap | None = None) -> None:
        self._started = Started(head, conv, on_end, tap)
        self._rest, self._close = rest, close


@functools.cache
def replay_classes(h: Any) -> tuple[type, type]:
    """Byte-stream classes of the httpx-like module `h` (httpx or httpx2) that replay
    the peeked bytes, then pass the rest through and report how the stream ended."""

    class Replay(_Replaying, h.SyncByteStream):  # type: ignore[misc, name-defined]
        def __iter__(self) -> Iterator[bytes]:
            started = self._started
            with started.ending():
                yield from started.take_head()
                for chunk in self._rest:
                    if out := started.chunk(chunk):
                        yield out
                started.done()

        def close(self) -> None:
            self._close()
            self._started.on_end("closed")

    class AsyncReplay(_Replaying, h.AsyncByteStream):  # type: ignore[misc, name-defined]
        async def __aiter__(self) -> AsyncIterator[bytes]:
            started = self._started
            with started.ending():
                for chunk in started.take_head():
                    yield chunk
                async for chunk in self._rest:
                    if out := started.chunk(chunk):
                        yield out
                started.done()

        async def aclose(self) -> None:
            await self._close()
            self._started.on_end("closed")

    return Replay, AsyncReplay


# -- the dict API's view of a stream -------------------------------------------

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


class _Chunks:
    """What ChatStream and AsyncChatStream share: the response, its lines, the error."""

    def __init__(self, response: Any, provider: str) -> None:
        self.response = response
        self.provider = provider
        self._lines: Any = self._open(response)

    def _open(self, response: Any) -> Any:
        return response.iter_lines()

    def _broke(self, exc: Exception) -> StreamInterrupted:
        return StreamInterrupted(f"stream from {self.provider} broke after it started "
                                 f"({type(exc).__name__})")


class ChatStream(_Chunks):
    """An iterator of chat completion chunk dicts; close it (or use `with`) if you stop early.

    The stream has already delivered its first event when you get it: failover
    is over. A break after that raises `StreamInterrupted`.
    """

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> dict[str, Any]:
        try:
            for line in self._lines:
                chunk = parse_line(line)
                if chunk is _DONE:
                    for _ in self._lines:  # read to the end: the stream ended well
                        pass
                    break
                if chunk is not None:
                    return dict(chunk)
        except Exception as exc:
            self.response.close()
            raise self._broke(exc) from None
        self.response.close()
        raise StopIteration

    def close(self) -> None:
        """Close the underlying response."""
        self.response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncChatStream(_Chunks):
    """Async `ChatStream`: ``async for chunk in stream``; ``await stream.aclose()``."""

    def _open(self, response: Any) -> Any:
        return response.aiter_lines()

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            async for line in self._lines:
                chunk = parse_line(line)
                if chunk is _DONE:
                    async for _ in self._lines:  # read to the end: the stream ended well
                        pass
                    break
                if chunk is not None:
                    return dict(chunk)
        except Exception as exc:
            await self.response.aclose()
            raise self._broke(exc) from None
        await self.response.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Close the underlying response."""
        await self.response.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
