"""The failover transport: an httpx transport that sends each request to an alias's routes.

A request addressed to an alias (its JSON body's ``model``, or the
``x-aigw-alias`` header) is sent, route by route as the sans-I/O plan in
`core` decides, with the route's URL (base_url + the request's path), model,
``extra`` and auth (see `wire`). What the caller gets back is the deciding
route's response: 2xx, a 4xx that blames the request, or, when every route
failed, the last HTTP answer (or `AllRoutesFailed` if none answered at all).
Streams fail over until their first event.

One implementation serves httpx (the dict API) and httpx2 (what the openai and
anthropic SDKs use): the module is a constructor argument (`httpapi.HttpModule`).
Each response carries the call's attempts in ``response.extensions["aigw.attempts"]``.
How requests are built and read is `fastpath.Requests` (the only code that
touches httpx's internals).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from .core import BaseClient, Decision, Result, failure_outcome
from .errors import AllRoutesFailed, Attempt, ClientError, UnknownAlias, WrongFamily
from .eventstream import EventStreamError
from .fastpath import Requests
from .httpapi import (
    URL,
    AsyncTransport,
    HttpModule,
    Request,
    Response,
    ResponseHeaders,
    SyncTransport,
)
from .multipart import ModelField, model_field, with_model
from .router import RouteState
from .streaming import (
    BadResponse,
    EventStreamToSSE,
    FirstEvent,
    Peeked,
    apeek,
    aread,
    peek,
    read,
    replay_classes,
)
from .telemetry import CallSpan
from .wire import BadRequest, Family, Header, Headers, header, loads, name_value
from .wires import family_wire

ATTEMPTS = "aigw.attempts"
OUTCOME = "aigw.outcome"
_JSON = "application/json"
DEFAULT_HEADERS: Headers = [header("content-type", _JSON), header("accept", _JSON),
                            header("user-agent", "aigw-client/1")]
# Attempts that never reached a provider.
SKIPPED = frozenset({"no_key", "unsupported_api", "wrong_family"})
_OPERATIONS = {"completions": "chat", "messages": "chat", "responses": "responses",
               "embeddings": "embeddings"}
_CACHE_MAX = 4096


class Call:
    """One request addressed to a model alias, as the transport sends it on."""

    __slots__ = ("alias", "method", "path", "body", "raw", "headers", "stream",
                 "session_id", "family", "operation", "form")

    def __init__(self, alias: str, method: str, path: str, body: dict[str, Any] | None,
                 raw: bytes | None = None, headers: Headers | None = None,
                 stream: bool = False, session_id: str | None = None,
                 family: str | None = None, operation: str = "chat",
                 form: ModelField | None = None) -> None:
        self.alias = alias
        self.method = method
        self.path = path
        self.body = body
        self.raw = raw
        self.headers = headers if headers is not None else DEFAULT_HEADERS
        self.stream = stream
        self.session_id = session_id
        self.family = family
        self.operation = operation
        # A multipart body's `model` field (spec R3): the route's model goes there.
        self.form = form


class Reject(ClientError):
    """A request the transport answers itself, without calling a provider."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_ops: dict[str, str] = {}


def _operation(path: str) -> str:
    op = _ops.get(path)
    if op is None:
        tail = path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        op = _OPERATIONS.get(tail, tail or "request")
        if len(_ops) < _CACHE_MAX:
            _ops[path] = op
    return op


def call_from_request(request: Request, family: str | None, requests: Requests,
                      fam: Family) -> Call:
    """Read an SDK's request: alias from the body's ``model`` or ``x-aigw-alias``
    (`fam` is `family`'s wire: how its requests name the alias and ask to stream)."""
    headers = requests.headers(request)
    raw = requests.body(request)
    body = None
    named = dict(map(name_value, headers))  # (the last one of a name wins)
    ctype = named.get(b"content-type", b"application/json")
    value = named.get(b"x-aigw-alias")
    alias: object = value.decode("latin-1") if value is not None else None
    value = named.get(b"x-aigw-session")
    session = value.decode("latin-1") if value is not None else None
    if raw and ctype.startswith(b"application/json"):
        try:
            parsed = loads(raw)
        except ValueError:
            raise Reject(400, "aigw: the request body is not valid JSON") from None
        if isinstance(parsed, dict):
            body = parsed
    form = None
    if raw and ctype.startswith(b"multipart/form-data"):
        form = model_field(raw, ctype)
        if form is not None and not alias:
            alias = form[0]
    path = request.url.raw_path.decode("ascii")
    if not alias:
        alias = fam.alias_of(path, body)
    if not isinstance(alias, str) or not alias:
        raise Reject(400, "aigw: the request names no model alias (pass the alias as "
                          "`model`, or send the x-aigw-alias header)")
    return Call(alias, request.method, path, body, None if body is not None else raw,
                headers, fam.streams(path, body), session, family,
                _ops.get(path) or _operation(path), form)


class _RouteCache:
    """What a route's requests share: parsed URLs, the Host header, the auth headers
    of its current credential (rebuilt when the key file changes)."""

    __slots__ = ("urls", "credential", "auth")

    def __init__(self) -> None:
        self.urls: dict[str, tuple[URL, Header]] = {}
        self.credential: object = None
        self.auth: Headers = []


InnerT = TypeVar("InnerT", SyncTransport, AsyncTransport)


class _Failover(Generic[InnerT]):
    """What the sync and async transports share: building sends, reading outcomes."""

    aio = False

    def __init__(self, client: BaseClient, inner: InnerT, h: HttpModule,
                 family: str | None) -> None:
        self.client = client
        self.inner: InnerT = inner
        self.h = h
        self.family = family
        self.requests = Requests(h)
        self._family = family_wire(family)  # (its error body)
        self.errors: tuple[type[BaseException], ...] = (
            h.TransportError, BadResponse, EventStreamError)
        self._outcomes: tuple[tuple[type[BaseException], str], ...] = (
            (h.TimeoutException, "timeout"), (h.ConnectError, "connect_error"),
            (h.TransportError, "transport_error"), (BadResponse, "bad_response"),
            (EventStreamError, "bad_response"))
        self.replay, self.areplay = replay_classes(h)
        self.replays = (self.replay, self.areplay)
        self._routes: dict[RouteState, _RouteCache] = {}

    def outcome(self, exc: BaseException) -> str:
        """The attempt outcome of a send that raised one of `errors`."""
        return next(o for t, o in self._outcomes if isinstance(exc, t))

    def _cache(self, rs: RouteState) -> _RouteCache:
        cache = self._routes.get(rs)
        if cache is None:
            if len(self._routes) > _CACHE_MAX:  # configs replaced many times over
                self._routes.clear()
            cache = self._routes[rs] = _RouteCache()
        return cache

    def outgoing(self, call: Call, rs: RouteState, credential: object) -> Request:
        """The request to send to route `rs`."""
        wire = rs.wire
        assert wire is not None  # the plan sends to usable routes only
        cache = self._routes.get(rs) or self._cache(rs)
        if credential is not cache.credential:
            cache.auth = wire.auth_headers(credential)
            cache.credential = credential
        raw = call.raw if call.form is None else with_model(call.raw or b"", call.form,
                                                             rs.route.model)
        url, headers, content = wire.prepare(rs.route, call.method, call.path, call.body,
                                             raw, call.stream, call.headers, credential,
                                             cache.auth)
        parsed = cache.urls.get(url)
        if parsed is None:
            if len(cache.urls) > _CACHE_MAX:
                cache.urls.clear()
            u = self.h.URL(url)
            parsed = cache.urls[url] = (u, header("host", u.netloc))
        # Host and Content-Length set here and the body given as a stream: httpx's
        # own content encoding and header defaults would cost more than the rest.
        headers.insert(0, parsed[1])
        if content or call.method != "GET":
            headers.append((b"content-length", b"content-length", b"%d" % len(content)))
        return self.requests.build(call.method, parsed[0], headers, content,
                                   {"timeout": rs.timeout})

    def is_stream(self, call: Call, rs: RouteState, resp: Response) -> FirstEvent | None:
        """The reader of this answer up to its first event (the route's wire decides),
        or None when it is not a stream to peek."""
        if not call.stream or resp.status_code >= 400 or rs.wire is None:
            return None
        return rs.wire.first_event(resp.headers.get("content-type", ""))

    def streamed(self, resp: Response, head: list[bytes], rest: object,
                 conv: EventStreamToSSE | None, span: CallSpan, rs: RouteState) -> Response:
        """The response to hand on for a stream that has started."""
        headers: ResponseHeaders | list[tuple[str, str]] = resp.headers
        if conv is not None:
            converted = [(k, v) for k, v in resp.headers.multi_items()
                         if k.lower() not in ("content-type", "content-length")]
            converted.append(("content-type", "text/event-stream"))
            headers = converted

        def on_end(outcome: str) -> None:
            span.finish(rs, outcome)

        cls = self.areplay if self.aio else self.replay
        close = resp.aclose if self.aio else resp.close
        tap = span.stream_tap() if span.recording else None
        return self.h.Response(resp.status_code, headers=headers,
                               stream=cls(head, rest, conv, close, on_end, tap),
                               extensions=resp.extensions)

    def reject(self, status: int, message: str) -> Response:
        """An answer in the SDK's own error shape, so it raises its own exception."""
        return self.h.Response(status, headers=[("content-type", _JSON)],
                               content=self._family.error_body(status, message))

    def decided(self, decision: Decision, span: CallSpan) -> Response:
        """Label the deciding response and end the span unless a stream still runs."""
        resp = decision.value
        resp.extensions[ATTEMPTS] = decision.attempts
        ok = decision.attempts[-1].outcome == "ok"  # (Decision.ok, inlined)
        resp.extensions[OUTCOME] = "ok" if ok else "request_error"
        if span.recording and not isinstance(resp.stream, self.replays):
            span.finish(decision.route, decision.attempts[-1].outcome,
                        resp.content if ok else None)
        return resp

    def failed(self, last: Response, exc: AllRoutesFailed, span: CallSpan) -> Response:
        """Every route failed and `last` was the last HTTP answer: hand it on, labelled."""
        last.extensions[ATTEMPTS] = exc.attempts
        last.extensions[OUTCOME] = "all_routes_failed"
        span.finish(None, "all_routes_failed")
        return last

    def transport_error(self, exc: AllRoutesFailed, request: Request) -> Exception:
        """What an SDK understands when no route answered at all: a timeout if every
        route timed out, else a connection error (the AllRoutesFailed is its cause)."""
        tried = [a.outcome for a in exc.attempts if a.outcome not in SKIPPED]
        kind: Callable[..., Exception] = self.h.TimeoutException \
            if tried and set(tried) == {"timeout"} else self.h.ConnectError
        return kind(str(exc), request=request)

    def answer_error(self, exc: ClientError, request: Request) -> Response:
        """What an SDK gets for a call that raised `exc`: a rejection in the family's
        error shape, or a transport error when no route answered."""
        if isinstance(exc, Reject):
            return self.reject(exc.status, str(exc))
        if isinstance(exc, UnknownAlias | WrongFamily):
            return self.reject(404 if isinstance(exc, UnknownAlias) else 400, f"aigw: {exc}")
        if isinstance(exc, AllRoutesFailed):
            raise self.transport_error(exc, request) from exc
        raise exc


class Run:
    """One call's way through the failover plan, sans I/O.

    The sync and async transports only send `request`, read (or peek) the answer
    and hand it, or the transport error, to `answered`, until `request` is None;
    then `value` is the response to return.
    """

    __slots__ = ("f", "call", "span", "plan", "rs", "t0", "request", "value", "last")

    def __init__(self, f: _Failover, call: Call) -> None:
        client = f.client
        router = client.router(call.alias, call.family)
        self.f, self.call = f, call
        self.span = span = client._telemetry.start(call.alias, call.operation)
        self.plan = client.plan(router, call.session_id, span)
        self.last: Response | None = None
        self.value: Response | None = None
        self._advance(None)

    def _advance(self, result: Result | None) -> None:
        f, span = self.f, self.span
        self.request = None
        try:
            rs, credential = next(self.plan) if result is None else self.plan.send(result)
            try:
                self.request = f.outgoing(self.call, rs, credential)
            except BadRequest as exc:
                self.plan.close()
                span.finish(rs, "bad_request")
                self.value = f.reject(400, f"aigw: {exc}")
                return
            self.rs = rs
            self.t0 = time.perf_counter()
        except StopIteration as done:
            self.value = f.decided(done.value, span)
        except AllRoutesFailed as exc:
            if self.last is None:
                span.finish(None, "all_routes_failed")
                raise
            self.value = f.failed(self.last, exc, span)
        except BaseException as exc:
            span.finish(None, failure_outcome(exc))
            raise

    def peeks(self, resp: Response) -> FirstEvent | None:
        """The reader of `resp` up to its first event, when it is a stream to peek."""
        return self.f.is_stream(self.call, self.rs, resp)

    def streamed(self, resp: Response, peeked: Peeked) -> Response:
        """The response to hand on once a stream's first event is in."""
        return self.f.streamed(resp, *peeked, self.span, self.rs)

    def failed(self, exc: BaseException) -> BaseException:
        """A send that raised: a transport error is an attempt's outcome; anything
        else (a bug, a cancellation) ends the call."""
        if isinstance(exc, self.f.errors):
            return exc
        self.plan.close()
        self.span.finish(None, failure_outcome(exc))
        raise exc

    def answered(self, got: Response | BaseException) -> None:
        """Hand the plan what the send gave (a response or a transport error)."""
        if isinstance(got, BaseException):
            self._advance(Result.failed(self.f.outcome(got), self.t0))
        else:
            self.last = got
            self._advance(Result.of(got.status_code, got, self.t0))


class FailoverTransport(_Failover[SyncTransport]):
    """A sync httpx (or httpx2) transport that fails over across an alias's routes."""

    def handle_request(self, request: Request) -> Response:
        """httpx's transport API: send `request` to its alias's routes."""
        try:
            return self.send(call_from_request(request, self.family, self.requests,
                                               self._family))
        except ClientError as exc:
            return self.answer_error(exc, request)

    def send(self, call: Call) -> Response:
        """Send `call` with failover; raises UnknownAlias, WrongFamily, AllRoutesFailed."""
        run = Run(self, call)
        if not run.span.recording:
            return self._drive(run)
        with run.span.use():
            return self._drive(run)

    def _drive(self, run: Run) -> Response:
        while run.request is not None:
            got: Response | BaseException
            try:
                resp = self.inner.handle_request(run.request)
                if run.call.stream and (first := run.peeks(resp)) is not None:
                    got = run.streamed(resp, peek(resp, first))
                else:
                    got = read(resp)
            except BaseException as exc:
                got = run.failed(exc)
            run.answered(got)
        return run.value  # type: ignore[return-value] # (set once the run has no request)

    def close(self) -> None:
        """Nothing to close: the client owns the inner transport."""

    def __enter__(self) -> FailoverTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncFailoverTransport(_Failover[AsyncTransport]):
    """The asyncio twin of `FailoverTransport` (same `Run`, awaited sends)."""

    aio = True

    async def handle_async_request(self, request: Request) -> Response:
        """httpx's async transport API: send `request` to its alias's routes."""
        try:
            return await self.send(call_from_request(request, self.family, self.requests,
                                               self._family))
        except ClientError as exc:
            return self.answer_error(exc, request)

    async def send(self, call: Call) -> Response:
        """Async `FailoverTransport.send`."""
        run = Run(self, call)
        if not run.span.recording:
            return await self._drive(run)
        with run.span.use():
            return await self._drive(run)

    async def _drive(self, run: Run) -> Response:
        while run.request is not None:
            got: Response | BaseException
            try:
                resp = await self.inner.handle_async_request(run.request)
                if run.call.stream and (first := run.peeks(resp)) is not None:
                    got = run.streamed(resp, await apeek(resp, first))
                else:
                    got = await aread(resp)
            except BaseException as exc:
                got = run.failed(exc)
            run.answered(got)
        return run.value  # type: ignore[return-value] # (set once the run has no request)

    async def aclose(self) -> None:
        """Nothing to close: the client owns the inner transport."""

    async def __aenter__(self) -> AsyncFailoverTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def attempts_of(obj: object) -> list[Attempt]:
    """The aigw attempts behind an SDK exception, an httpx response or an aigw error.

    Works for ``openai.APIStatusError`` / ``anthropic.APIStatusError`` (through
    their ``response``), for ``APIConnectionError`` / ``APITimeoutError`` (through
    the `AllRoutesFailed` they were raised from), and for aigw's own errors.
    """
    seen: set[int] = set()
    todo: list[object] = [obj]
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


def _linked(obj: object) -> Iterable[object]:
    for name in ("response", "__cause__", "__context__"):
        try:
            yield getattr(obj, name, None)
        except Exception:  # httpx raises when a response/request is not set
            yield None
