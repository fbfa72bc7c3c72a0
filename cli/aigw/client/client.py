"""`Client`: call a model alias; routes, keys and failover come from aigw-client.json."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import httpx

from .config import ClientConfig
from .core import ATTEMPT_ERRORS, BaseClient, Result, failure_outcome
from .errors import Attempt, ProviderError
from .router import RouteState
from .streaming import BadResponse, ChatStream, open_first_chunk
from .telemetry import CallSpan

T = TypeVar("T")


class Client(BaseClient):
    """Calls providers directly for one service, following its aigw-client.json.

    Thread-safe; create one per process and reuse it. Use ``with Client...`` or
    `close` to stop the key watcher and the owned HTTP client.
    """

    def __init__(self, config: ClientConfig, *, http_client: httpx.Client | None = None,
                 **kwargs: Any) -> None:
        """Build a client; see `BaseClient` for the other keyword arguments.

        `http_client` is used as is (the caller closes it); by default the client
        makes and owns one.
        """
        super().__init__(config, **kwargs)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        self.chat = Chat(self)

    def close(self) -> None:
        """Stop the key watcher and close the HTTP client if this client created it."""
        self._stop_watcher()
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, alias: str, method: str, path: str, *, json: Any = None,
                headers: dict[str, str] | None = None,
                session_id: str | None = None) -> httpx.Response:
        """Send `method` `path` (relative to the route's base_url) with failover.

        A JSON object body gets the route's ``model`` unless it names one. Returns
        the first non-failing response (including a 4xx other than 401/403/429).
        """
        span = self._telemetry.start(alias, "request")

        def send(rs: RouteState, key: str) -> tuple[int, httpx.Response]:
            body = json
            if isinstance(json, dict) and "model" not in json:
                body = {"model": rs.route.model, **json}
            hdrs = {**(headers or {}), "Authorization": "Bearer " + key}
            resp = self._http.request(method, rs.route.base_url + path, json=body,
                                      headers=hdrs, timeout=rs.timeout)
            return resp.status_code, resp

        rs, resp, attempt = self._drive(alias, session_id, span, send)
        span.finish(rs, attempt.outcome)
        return resp

    def _chat(self, alias: str, messages: Iterable[dict[str, Any]], stream: bool,
              session_id: str | None, extra: dict[str, Any]) -> Any:
        msgs = messages if isinstance(messages, list) else list(messages)
        span = self._telemetry.start(alias)

        def send(rs: RouteState, key: str) -> tuple[int, Any]:
            body = self._chat_body(rs, msgs, stream, extra)
            hdrs = {"Authorization": "Bearer " + key}
            if not stream:
                resp = self._http.post(rs.chat_url, json=body, headers=hdrs, timeout=rs.timeout)
                if resp.status_code >= 400:
                    return resp.status_code, resp
                try:
                    return resp.status_code, resp.json()
                except ValueError:
                    raise BadResponse("answer is not JSON") from None
            req = self._http.build_request("POST", rs.chat_url, json=body, headers=hdrs,
                                           timeout=rs.timeout)
            resp = self._http.send(req, stream=True)
            if resp.status_code >= 400:
                try:
                    resp.read()
                finally:
                    resp.close()
                return resp.status_code, resp
            events, first = open_first_chunk(resp)

            def on_end(outcome: str, last: dict[str, Any] | None) -> None:
                span.finish(rs, outcome, last)

            return resp.status_code, ChatStream(resp, events, first, rs.route.provider, on_end)

        rs, value, attempt = self._drive(alias, session_id, span, send)
        if attempt.outcome != "ok":
            span.finish(rs, attempt.outcome)
            raise ProviderError(alias, attempt, value.text)
        if not stream:
            span.finish(rs, "ok", value)
        return value

    def _drive(self, alias: str, session_id: str | None, span: CallSpan,
               send: Callable[[RouteState, str], tuple[int, T]]
               ) -> tuple[RouteState, T, Attempt]:
        """Run the failover plan with blocking sends; the span ends if it raises."""
        try:
            with span.use():
                plan = self._plan(alias, session_id, span)
                try:
                    rs, key = next(plan)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            status, value = send(rs, key)
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


class Completions:
    """``client.chat.completions``: the OpenAI-shaped entry point."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, *, model: str, messages: Iterable[dict[str, Any]], stream: bool = False,
               session_id: str | None = None, **extra: Any) -> Any:
        """Create a chat completion for the model alias `model`.

        Returns the provider's JSON as a dict, or with ``stream=True`` a
        `ChatStream` of chunk dicts (failover happens only before its first chunk).
        `extra` keyword arguments go into the body after the route's ``extra``.
        """
        return self._client._chat(model, messages, stream, session_id, extra)


class Chat:
    """``client.chat``."""

    def __init__(self, client: Client) -> None:
        self.completions = Completions(client)
