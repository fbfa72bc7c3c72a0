"""The sans-I/O core `Client` and `AsyncClient` share: routes, key files, spans and
the failover decisions, as a generator that does no I/O (the transports drive it
with their own sync or async sends).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator
from typing import Any, NamedTuple, Self

from .acks import record_use
from .config import ClientConfig, Route, load_config
from .errors import AllRoutesFailed, Attempt, ConfigError, UnknownAlias, WrongFamily
from .keys import KeyFile, KeyWatcher
from .router import AliasRouter, Clock, RouteState
from .sigv4 import require_botocore
from .telemetry import CallSpan, Telemetry

log = logging.getLogger("aigw.client")

OnAttempt = Callable[[Attempt], None]
# Transient: worth a retry on the same route, then a cooldown.
_TRANSIENT_4XX = frozenset({408, 409, 425, 429})


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
    def failed(cls, outcome: str, t0: float) -> Result:
        """The result of a send that got no (usable) answer."""
        return cls(None, None, outcome, time.perf_counter() - t0)


class Decision(NamedTuple):
    """How a call ended: the route and value that decided it, and every attempt."""

    route: RouteState
    value: Any
    attempts: list[Attempt]

    @property
    def ok(self) -> bool:
        """True when a route answered 2xx/3xx (else a 4xx blamed the request)."""
        return self.attempts[-1].outcome == "ok"


# Yields (route, credential) to send to; is sent each Result; returns the Decision.
Plan = Generator[tuple[RouteState, Any], Result, Decision]


def failure_outcome(exc: BaseException) -> str:
    """The span outcome of a call that raised `exc`."""
    if isinstance(exc, AllRoutesFailed):
        return "all_routes_failed"
    if isinstance(exc, UnknownAlias | WrongFamily):
        return "unknown_alias"
    return "error"


class BaseClient:
    """Config, routers, key files, the key watcher and telemetry of one service."""

    def __init__(self, config: ClientConfig, *, session_affinity: bool = True,
                 on_attempt: OnAttempt | None = None, tracer_provider: Any = None,
                 key_check_interval: float = 0.1, watch_keys: bool | None = None,
                 clock: Clock = time.monotonic) -> None:
        """Build from a parsed config.

        `key_check_interval` bounds how often a key file is stat'ed; `watch_keys`
        (default: when watchfiles is installed) also re-reads on change events;
        `on_attempt` is called with every `Attempt`; `tracer_provider` defaults
        to OpenTelemetry's global one; `clock` (seconds, monotonic) times cooldowns.
        """
        self.config = config
        self.session_affinity = session_affinity
        self.on_attempt = on_attempt
        self.clock = clock
        self._key_check_interval = key_check_interval
        self._key_files: dict[str, KeyFile] = {}
        # Per-route state by (alias, route identity): a newer config keeps it.
        self._states: dict[tuple[str, tuple[str, ...]], RouteState] = {}
        self._routers = self._build_routers(config)
        for kf in self._key_files.values():
            if kf.get() is None:  # load now: the first requests find the key ready
                log.warning("key file %s is missing or empty; its routes fail over until "
                            "it appears", kf.path)
        self._watcher: KeyWatcher | None = None
        if watch_keys or (watch_keys is None and KeyWatcher.available()):
            self._watcher = KeyWatcher(self._key_files.values())
            if not self._watcher.start():
                self._watcher = None
        self._telemetry = Telemetry(config.service, config.environment, tracer_provider)

    def _build_routers(self, config: ClientConfig) -> dict[str, AliasRouter]:
        routers: dict[str, AliasRouter] = {}
        for alias, routes in config.aliases.items():
            family = config.families.get(alias, "openai")
            states = [self._state(alias, family, i, route) for i, route in enumerate(routes)]
            routers[alias] = AliasRouter(alias, family, states, self.clock)
        return routers

    def _state(self, alias: str, family: str, index: int, route: Route) -> RouteState:
        wire = route.wire
        if wire is not None and wire.auth == "sigv4":
            require_botocore(f"aliases.{alias}.routes[{index}]")
        parse = wire.parse_secret if wire is not None else None
        kf = self._key_files.get(str(route.key_file))
        if kf is None:
            kf = KeyFile(route.key_file, self._key_check_interval,
                         *([parse] if parse is not None else []))
            self._key_files[str(route.key_file)] = kf
        rs = RouteState(route, index, kf,
                        usable=wire is not None and wire.family == family)
        self._states[(alias, route.identity)] = rs
        return rs

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

    def family(self, alias: str) -> str:
        """The wire family (``openai`` or ``anthropic``) the alias speaks."""
        return self.router(alias, None).family

    def router(self, alias: str, family: str | None) -> AliasRouter:
        """The alias's router; raises UnknownAlias, or WrongFamily if `family` differs."""
        router = self._routers.get(alias)
        if router is None:
            raise UnknownAlias(f"model alias {alias!r} is not configured for service "
                               f"{self.config.service!r} (known: {', '.join(self._routers)})")
        if family is not None and router.family != family:
            raise WrongFamily(alias, router.family, family)
        return router

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def plan(self, router: AliasRouter, session_id: str | None, span: CallSpan) -> Plan:
        """Decide which route and credential to send to next, from the results of sends.

        Returns at the deciding attempt: ``ok``, or a 4xx that says the request
        (not the route) is wrong. Raises `AllRoutesFailed` when no route answered.
        """
        sid = session_id if self.session_affinity else None
        attempts: list[Attempt] = []
        alias = router.alias
        for rs in router.order(sid):
            current = rs.key.get() if rs.usable else None
            if current is None:
                skip = "no_key" if rs.usable else (
                    "unsupported_api" if rs.wire is None else "wrong_family")
                self._record(attempts, span, rs, alias, Result(None, None, skip, 0.0), "")
                continue
            key, fp = current
            reloaded, retries_left = False, rs.route.retries
            while True:  # attempts on this route: retries, and one retry after a new key
                result = yield rs, key
                attempt = self._record(attempts, span, rs, alias, result, fp)
                status = result.status
                if status is not None and status < 400:
                    router.served(rs, sid)
                    record_use(self, rs.route, fp)
                    return Decision(rs, result.value, attempts)
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
                    return Decision(rs, result.value, attempts)
                del attempt
                if retries_left > 0:
                    retries_left -= 1
                    continue
                rs.cool_down(result.outcome, self.clock())
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
