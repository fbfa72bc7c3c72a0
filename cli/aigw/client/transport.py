"""The failover transport: an httpx transport that sends each request to an alias's routes.

A request addressed to an alias (its JSON body's ``model``, or the
``x-aigw-alias`` header) is sent, route by route as the sans-I/O plan in
`core` decides, with the route's URL (base_url + the request's path), model,
``extra`` and auth (see `wire`). What the caller gets back is the deciding
route's response: 2xx, a 4xx that blames the request, or, when every route
failed, the last HTTP answer (or `AllRoutesFailed` if none answered at all).
Streams fail over until their first event.

One implementation serves httpx (the dict API) and httpx2 (what the openai and
anthropic SDKs use): the module is a constructor argument. Each response
carries the call's attempts in ``response.extensions["aigw.attempts"]``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .core import BaseClient, Decision, Result, failure_outcome
from .errors import AllRoutesFailed, ClientError, UnknownAlias, WrongFamily
from .eventstream import EventStreamError
from .router import RouteState
from .streaming import EVENTSTREAM, BadResponse, apeek, peek, replay_classes
from .telemetry import CallSpan
from .wire import BadRequest, error_body, loads, prepare

ATTEMPTS = "aigw.attempts"
OUTCOME = "aigw.outcome"
_JSON = "application/json"
_USER_AGENT = "aigw-client/1"
# Attempts that never reached a provider.
SKIPPED = frozenset({"no_key", "unsupported_api", "wrong_family"})


class Call:
    """One request addressed to a model alias, as the transport sends it on."""

    __slots__ = ("alias", "method", "path", "body", "raw", "headers", "stream",
                 "session_id", "family", "operation")

    def __init__(self, alias: str, method: str, path: str, body: dict[str, Any] | None,
                 raw: bytes | None = None, headers: list[tuple[str, str]] | None = None,
                 stream: bool = False, session_id: str | None = None,
                 family: str | None = None, operation: str = "chat") -> None:
        self.alias = alias
        self.method = method
        self.path = path
        self.body = body
        self.raw = raw
        self.headers = headers if headers is not None else [
            ("content-type", _JSON), ("accept", _JSON), ("user-agent", _USER_AGENT)]
        self.stream = stream
        self.session_id = session_id
        self.family = family
        self.operation = operation


class Reject(Exception):
    """A request the transport answers itself, without calling a provider."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _operation(path: str) -> str:
    tail = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return {"completions": "chat", "messages": "chat", "responses": "responses",
            "embeddings": "embeddings"}.get(tail, tail or "request")


def call_from_request(request: Any, family: str | None) -> Call:
    """Read an SDK's request: alias from the body's ``model`` or ``x-aigw-alias``."""
    headers = request.headers.raw  # (bytes, bytes): no decoding on the hot path
    raw = request.read() if request.method != "GET" else b""
    body = None
    hdr = {k.lower().decode("latin-1"): v.decode("latin-1") for k, v in headers
           if k[:7].lower() == b"x-aigw-" or k.lower() == b"content-type"}
    if raw and hdr.get("content-type", _JSON).startswith(_JSON):
        try:
            parsed = loads(raw)
        except ValueError:
            raise Reject(400, "aigw: the request body is not valid JSON") from None
        if isinstance(parsed, dict):
            body = parsed
    alias = hdr.get("x-aigw-alias") or (body.get("model") if body else None)
    if not isinstance(alias, str) or not alias:
        raise Reject(400, "aigw: the request names no model alias (pass the alias as "
                          "`model`, or send the x-aigw-alias header)")
    path = request.url.raw_path.decode("ascii")
    return Call(alias, request.method, path, body, None if body is not None else raw,
                headers, bool(body and body.get("stream") is True),
                hdr.get("x-aigw-session"), family, _operation(path))


class _Failover:
    """What the sync and async transports share: building sends, reading outcomes."""

    def __init__(self, client: BaseClient, inner: Any, h: Any, family: str | None) -> None:
        self.client = client
        self.inner = inner
        self.h = h
        self.family = family
        self.errors: tuple[type[BaseException], ...] = (
            h.TransportError, BadResponse, EventStreamError)
        self._outcomes: tuple[tuple[type[BaseException], str], ...] = (
            (h.TimeoutException, "timeout"), (h.ConnectError, "connect_error"),
            (h.TransportError, "transport_error"), (BadResponse, "bad_response"),
            (EventStreamError, "bad_response"))
        self.replay, self.areplay = replay_classes(h)
        self._urls: dict[str, Any] = {}  # parsed once: URL parsing is most of a Request

    def outcome(self, exc: BaseException) -> str:
        """The attempt outcome of a send that raised one of `errors`."""
        return next(o for t, o in self._outcomes if isinstance(exc, t))

    def outgoing(self, call: Call, rs: RouteState, credential: Any) -> Any:
        """The request to send to route `rs`."""
        url, headers, content = prepare(rs.route, call.method, call.path, call.body,
                                        call.raw, call.stream, call.headers, credential)
        cached = self._urls.get(url)
        if cached is None:
            if len(self._urls) > 4096:
                self._urls.clear()
            parsed = self.h.URL(url)
            cached = self._urls[url] = (parsed, parsed.netloc)
        # Host and Content-Length set here and the body given as a stream: httpx's
        # own content encoding and header defaults would cost more than the rest.
        headers.insert(0, (b"host", cached[1]))
        if content or call.method != "GET":
            headers.append((b"content-length", str(len(content)).encode()))
        return self.h.Request(call.method, cached[0], headers=headers,
                              stream=self.h.ByteStream(content),
                              extensions={"timeout": rs.timeout})

    def is_stream(self, call: Call, rs: RouteState, resp: Any) -> tuple[bool, bool]:
        """(peek this answer as a stream, convert it from Bedrock event-stream)."""
        if not call.stream or resp.status_code >= 400:
            return False, False
        ctype = resp.headers.get("content-type", "")
        convert = rs.wire is not None and rs.wire.is_bedrock and EVENTSTREAM in ctype
        return convert or "text/event-stream" in ctype, convert

    def streamed(self, resp: Any, head: list[bytes], rest: Any, conv: Any, span: CallSpan,
                 rs: RouteState, aio: bool) -> Any:
        """The response to hand on for a stream that has started."""
        headers = resp.headers
        if conv is not None:
            headers = [(k, v) for k, v in resp.headers.multi_items()
                       if k.lower() not in ("content-type", "content-length")]
            headers.append(("content-type", "text/event-stream"))

        def on_end(outcome: str) -> None:
            span.finish(rs, outcome)

        cls = self.areplay if aio else self.replay
        close = resp.aclose if aio else resp.close
        return self.h.Response(resp.status_code, headers=headers,
                               stream=cls(head, rest, conv, close, on_end),
                               extensions=resp.extensions)

    def reject(self, status: int, message: str, family: str | None = None) -> Any:
        """An answer in the SDK's own error shape, so it raises its own exception."""
        return self.h.Response(status, headers=[("content-type", _JSON)],
                               content=error_body(family or self.family, status, message))

    def decided(self, decision: Decision, span: CallSpan) -> Any:
        """Label the deciding response and end the span unless a stream still runs."""
        resp = decision.value
        resp.extensions[ATTEMPTS] = decision.attempts
        resp.extensions[OUTCOME] = "ok" if decision.ok else "request_error"
        if not isinstance(resp.stream, self.replay | self.areplay):
            span.finish(decision.route, decision.attempts[-1].outcome,
                        _usage(resp) if span.recording and decision.ok else None)
        return resp

    def failed(self, last: Any, exc: AllRoutesFailed, span: CallSpan) -> Any:
        """Every route failed and `last` was the last HTTP answer: hand it on, labelled."""
        last.extensions[ATTEMPTS] = exc.attempts
        last.extensions[OUTCOME] = "all_routes_failed"
        span.finish(None, "all_routes_failed")
        return last

    def transport_error(self, exc: AllRoutesFailed, request: Any) -> Exception:
        """What an SDK understands when no route answered at all: a timeout if every
        route timed out, else a connection error (the AllRoutesFailed is its cause)."""
        tried = [a.outcome for a in exc.attempts if a.outcome not in SKIPPED]
        kind = self.h.TimeoutException if tried and set(tried) == {"timeout"} \
            else self.h.ConnectError
        err: Exception = kind(str(exc), request=request)
        return err

    def rejected(self, exc: ClientError, call: Call) -> Any:
        """The SDK-shaped answer to an unknown alias or a wrong-family call."""
        status = 404 if isinstance(exc, UnknownAlias) else 400
        return self.reject(status, f"aigw: {exc}", call.family)


def _usage(resp: Any) -> dict[str, Any] | None:
    try:
        value = resp.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class FailoverTransport(_Failover):
    """A sync httpx (or httpx2) transport that fails over across an alias's routes."""

    def handle_request(self, request: Any) -> Any:
        """httpx's transport API: send `request` to its alias's routes."""
        try:
            call = call_from_request(request, self.family)
            return self.send(call)
        except Reject as exc:
            return self.reject(exc.status, str(exc))
        except (UnknownAlias, WrongFamily) as exc:
            return self.rejected(exc, call)
        except AllRoutesFailed as exc:
            raise self.transport_error(exc, request) from exc

    def send(self, call: Call) -> Any:
        """Send `call` with failover; raises UnknownAlias, WrongFamily, AllRoutesFailed."""
        client = self.client
        router = client.router(call.alias, call.family)
        span = client._telemetry.start(call.alias, call.operation)
        try:
            with span.use():
                plan = client.plan(router, call.session_id, span)
                last = None
                try:
                    rs, credential = next(plan)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            resp = self.inner.handle_request(self.outgoing(call, rs, credential))
                            stream, convert = self.is_stream(call, rs, resp)
                            if stream:
                                try:
                                    head, rest, conv = peek(resp, convert)
                                except BaseException:
                                    resp.close()
                                    raise
                                resp = self.streamed(resp, head, rest, conv, span, rs, False)
                            else:
                                try:
                                    resp.read()
                                finally:
                                    resp.close()
                            result = Result.of(resp.status_code, resp, t0)
                            last = resp
                        except self.errors as exc:
                            result = Result.failed(self.outcome(exc), t0)
                        except BadRequest as exc:
                            span.finish(rs, "bad_request")
                            return self.reject(400, f"aigw: {exc}")
                        rs, credential = plan.send(result)
                except StopIteration as done:
                    return self.decided(done.value, span)
                except AllRoutesFailed as exc:
                    if last is None:
                        raise
                    return self.failed(last, exc, span)
        except BaseException as exc:
            span.finish(None, failure_outcome(exc))
            raise

    def close(self) -> None:
        """Nothing to close: the client owns the inner transport."""

    def __enter__(self) -> FailoverTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncFailoverTransport(_Failover):
    """The asyncio twin of `FailoverTransport` (same decisions, awaited sends)."""

    async def handle_async_request(self, request: Any) -> Any:
        """httpx's async transport API: send `request` to its alias's routes."""
        try:
            call = call_from_request(request, self.family)
            return await self.send(call)
        except Reject as exc:
            return self.reject(exc.status, str(exc))
        except (UnknownAlias, WrongFamily) as exc:
            return self.rejected(exc, call)
        except AllRoutesFailed as exc:
            raise self.transport_error(exc, request) from exc

    async def send(self, call: Call) -> Any:
        """Async `FailoverTransport.send`."""
        client = self.client
        router = client.router(call.alias, call.family)
        span = client._telemetry.start(call.alias, call.operation)
        try:
            with span.use():
                plan = client.plan(router, call.session_id, span)
                last = None
                try:
                    rs, credential = next(plan)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            resp = await self.inner.handle_async_request(
                                self.outgoing(call, rs, credential))
                            stream, convert = self.is_stream(call, rs, resp)
                            if stream:
                                try:
                                    head, rest, conv = await apeek(resp, convert)
                                except BaseException:
                                    await resp.aclose()
                                    raise
                                resp = self.streamed(resp, head, rest, conv, span, rs, True)
                            else:
                                try:
                                    await resp.aread()
                                finally:
                                    await resp.aclose()
                            result = Result.of(resp.status_code, resp, t0)
                            last = resp
                        except self.errors as exc:
                            result = Result.failed(self.outcome(exc), t0)
                        except BadRequest as exc:
                            span.finish(rs, "bad_request")
                            return self.reject(400, f"aigw: {exc}")
                        rs, credential = plan.send(result)
                except StopIteration as done:
                    return self.decided(done.value, span)
                except AllRoutesFailed as exc:
                    if last is None:
                        raise
                    return self.failed(last, exc, span)
        except BaseException as exc:
            span.finish(None, failure_outcome(exc))
            raise

    async def aclose(self) -> None:
        """Nothing to close: the client owns the inner transport."""

    async def __aenter__(self) -> AsyncFailoverTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def attempts_of(obj: Any) -> list[Any]:
    """The aigw attempts behind an SDK exception, an httpx response or an aigw error.

    Works for ``openai.APIStatusError`` / ``anthropic.APIStatusError`` (through
    their ``response``), for ``APIConnectionError`` / ``APITimeoutError`` (through
    the `AllRoutesFailed` they were raised from), and for aigw's own errors.
    """
    seen: set[int] = set()
    todo: list[Any] = [obj]
    while todo:
        cur = todo.pop(0)
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        attempts = getattr(cur, "attempts", None)
        if isinstance(attempts, list):
            return attempts
        ext = getattr(cur, "extensions", None)
        if isinstance(ext, dict) and isinstance(ext.get(ATTEMPTS), list):
            return list(ext[ATTEMPTS])
        attempt = getattr(cur, "attempt", None)
        if attempt is not None and not callable(attempt):
            return [attempt]
        todo.extend(_linked(cur))
    return []


def _linked(obj: Any) -> Iterable[Any]:
    for name in ("response", "__cause__", "__context__"):
        try:
            yield getattr(obj, name, None)
        except Exception:  # httpx raises when a response/request is not set
            yield None
