"""What `Client` and `AsyncClient` share: routes, key files, spans, and the
failover decisions as a generator that does no I/O (each client drives it with
its own sync or async sends).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, Self

import httpx

from .config import ClientConfig, load_config
from .errors import AllRoutesFailed, Attempt, ConfigError, UnknownAlias
from .keys import KeyFile, KeyWatcher
from .router import SUPPORTED_APIS, AliasRouter, RouteState
from .streaming import BadResponse
from .telemetry import CallSpan, Telemetry

log = logging.getLogger("aigw.client")

OnAttempt = Callable[[Attempt], None]
# Transient: worth a retry on the same route, then a cooldown.
_TRANSIENT_4XX = frozenset({408, 409, 425, 429})
# Errors of one attempt that mean "this route did not answer" (order matters).
ATTEMPT_ERRORS = (httpx.TransportError, BadResponse)
_OUTCOMES: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.TimeoutException, "timeout"),
    (httpx.ConnectError, "connect_error"),
    (httpx.TransportError, "transport_error"),
    (BadResponse, "bad_response"),
)


class Result(NamedTuple):
    """What one send produced: HTTP status (None if none), value, outcome, latency."""

    status: int | None
    value: Any
    outcome: str
    latency: float

    @classmethod
    def of(cls, status: int, value: Any, t0: float) -> Result:
        """The result of a send that got an HTTP answer."""
        outcome = "ok" if status < 400 else f"http_{status}"
        return cls(status, value, outcome, time.perf_counter() - t0)

    @classmethod
    def failed(cls, exc: BaseException, t0: float) -> Result:
        """The result of a send that raised one of ATTEMPT_ERRORS."""
        outcome = next(o for t, o in _OUTCOMES if isinstance(exc, t))
        return cls(None, None, outcome, time.perf_counter() - t0)


# Yields (route, key) to send to; is sent each Result; returns (route, value, attempt).
Plan = Generator[tuple[RouteState, str], Result, tuple[RouteState, Any, Attempt]]


def failure_outcome(exc: BaseException) -> str:
    """The span outcome of a call that raised `exc`."""
    if isinstance(exc, AllRoutesFailed):
        return "all_routes_failed"
    if isinstance(exc, UnknownAlias):
        return "unknown_alias"
    return "error"


class BaseClient:
    """Config, routers, key files, the key watcher and telemetry of one service."""

    def __init__(self, config: ClientConfig, *, session_affinity: bool = True,
                 on_attempt: OnAttempt | None = None, tracer_provider: Any = None,
                 key_check_interval: float = 0.1, watch_keys: bool | None = None) -> None:
        """Build from a parsed config.

        `key_check_interval` bounds how often a key file is stat'ed; `watch_keys`
        (default: when watchfiles is installed) also re-reads on change events;
        `on_attempt` is called with every `Attempt`; `tracer_provider` defaults
        to OpenTelemetry's global one.
        """
        self.config = config
        self.session_affinity = session_affinity
        self.on_attempt = on_attempt
        key_files: dict[str, KeyFile] = {}
        self._routers: dict[str, AliasRouter] = {}
        for alias, routes in config.aliases.items():
            states = []
            for i, route in enumerate(routes):
                kf = key_files.setdefault(str(route.key_file),
                                          KeyFile(route.key_file, key_check_interval))
                states.append(RouteState(route, i, kf))
            self._routers[alias] = AliasRouter(alias, states)
        for kf in key_files.values():
            if kf.get() is None:  # load now: the first requests find the key ready
                log.warning("key file %s is missing or empty; its routes fail over until "
                            "it appears", kf.path)
        self._watcher: KeyWatcher | None = None
        if watch_keys or (watch_keys is None and KeyWatcher.available()):
            self._watcher = KeyWatcher(key_files.values())
            if not self._watcher.start():
                self._watcher = None
        self._telemetry = Telemetry(config.service, config.environment, tracer_provider)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Self:
        """Load `aigw-client.json` at `path`; keyword arguments go to the constructor."""
        return cls(load_config(path), **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Load the config named by ``AIGW_CLIENT_CONFIG`` (as written in aigw.env)."""
        path = os.environ.get("AIGW_CLIENT_CONFIG")
        if not path:
            raise ConfigError("AIGW_CLIENT_CONFIG is not set")
        return cls.from_file(path, **kwargs)

    @property
    def aliases(self) -> list[str]:
        """The model aliases this service may call."""
        return list(self._routers)

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    @staticmethod
    def _chat_body(rs: RouteState, messages: list[dict[str, Any]], stream: bool,
                   extra: dict[str, Any]) -> dict[str, Any]:
        """The request body: route model, messages, route extra, then caller extra."""
        body: dict[str, Any] = {"model": rs.route.model, "messages": messages}
        if rs.route.extra:
            body.update(rs.route.extra)
        if extra:
            body.update(extra)
        if stream:
            body["stream"] = True
        return body

    def _plan(self, alias: str, session_id: str | None, span: CallSpan) -> Plan:
        """Decide which route and key to send to next, from the results of sends.

        Returns at the deciding attempt: ``ok``, or a 4xx that says the request
        (not the route) is wrong. Raises `AllRoutesFailed` when no route answered.
        """
        router = self._routers.get(alias)
        if router is None:
            raise UnknownAlias(f"model alias {alias!r} is not configured for service "
                               f"{self.config.service!r} (known: {', '.join(self._routers)})")
        sid = session_id if self.session_affinity else None
        attempts: list[Attempt] = []
        for rs in router.order(sid):
            route = rs.route
            current = rs.key.get() if route.api in SUPPORTED_APIS else None
            if current is None:
                skip = "no_key" if route.api in SUPPORTED_APIS else "unsupported_api"
                self._record(attempts, span, rs, alias, Result(None, None, skip, 0.0), "")
                continue
            key, fp = current
            reloaded, retries_left = False, route.retries
            while True:  # attempts on this route: retries, and one retry after a new key
                result = yield rs, key
                attempt = self._record(attempts, span, rs, alias, result, fp)
                status = result.status
                if status is not None and status < 400:
                    router.served(rs, sid)
                    return rs, result.value, attempt
                if status in (401, 403):
                    # Re-read the key once; retry only with a different key (the
                    # same key would get the same answer), else move on.
                    if not reloaded:
                        reloaded = True
                        fresh = rs.key.reload()
                        if fresh is not None and fresh[0] != key:
                            key, fp = fresh
                            continue
                    break
                if status is not None and status < 500 and status not in _TRANSIENT_4XX:
                    return rs, result.value, attempt
                if retries_left > 0:
                    retries_left -= 1
                    continue
                rs.cool_down(result.outcome)
                break
        raise AllRoutesFailed(alias, attempts)

    def _record(self, attempts: list[Attempt], span: CallSpan, rs: RouteState, alias: str,
                result: Result, fp: str) -> Attempt:
        r = rs.route
        attempt = Attempt(alias, r.provider, r.slot, rs.index, result.outcome, result.latency,
                          fp, result.status)
        attempts.append(attempt)
        span.attempt(attempt)
        if result.outcome != "ok":
            log.debug("%s: %s/%s attempt failed: %s", alias, r.provider, r.slot, result.outcome)
        if self.on_attempt is not None:
            try:
                self.on_attempt(attempt)
            except Exception:
                log.exception("on_attempt callback failed")
        return attempt
