"""Which route to try next: fallback order, cooldowns and session affinity.

Time comes from an injected clock (``time.monotonic`` by default), so the
decisions are testable without sleeping.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

from .config import Route
from .keys import KeyFile

log = logging.getLogger("aigw.client")

MAX_SESSIONS = 10_000
Clock = Callable[[], float]


class RouteState:
    """A route plus what the client learned about it: key file, cooldown."""

    __slots__ = ("route", "index", "key", "wire", "timeout", "cooldown_until", "host",
                 "usable")

    def __init__(self, route: Route, index: int, key: KeyFile, usable: bool = True) -> None:
        self.route = route
        self.index = index
        self.key = key
        self.wire = route.wire
        # The per-attempt timeout, as httpx transports read it from request extensions.
        t = route.timeout
        self.timeout = {"connect": t, "read": t, "write": t, "pool": t}
        self.cooldown_until = 0.0
        self.host = urlsplit(route.base_url).hostname or ""
        self.usable = usable and self.wire is not None

    def cool_down(self, outcome: str, now: float) -> None:
        """Skip this route for `cooldown` seconds from `now`."""
        self.cooldown_until = now + self.route.cooldown
        log.warning("route %s/%s (%s) failed with %s; cooling down for %.1fs",
                    self.route.provider, self.route.slot, self.route.model, outcome,
                    self.route.cooldown)


class AliasRouter:
    """The routes of one alias and the order to try them in for a request."""

    __slots__ = ("alias", "family", "routes", "clock", "_sessions")

    def __init__(self, alias: str, family: str, routes: list[RouteState],
                 clock: Clock) -> None:
        self.alias = alias
        self.family = family
        self.routes = routes
        self.clock = clock
        self._sessions: OrderedDict[str, RouteState] = OrderedDict()

    def order(self, session_id: str | None = None) -> list[RouteState]:
        """Return the routes to try, best first.

        Healthy ones in fallback order, then cooling ones as a last resort (so a
        request never fails without trying every route). A session's last route
        goes first while it is healthy.
        """
        now = self.clock()
        routes = self.routes
        if routes[0].cooldown_until <= now and len(routes) == 1:
            return routes
        healthy = [r for r in routes if r.cooldown_until <= now]
        if session_id is not None and healthy:
            sticky = self._sessions.get(session_id)
            if sticky is not None and sticky.cooldown_until <= now and healthy[0] is not sticky:
                healthy.remove(sticky)
                healthy.insert(0, sticky)
        if len(healthy) == len(routes):
            return healthy
        return healthy + [r for r in routes if r.cooldown_until > now]

    def served(self, route: RouteState, session_id: str | None) -> None:
        """Remember that `route` answered; a success also ends its cooldown."""
        route.cooldown_until = 0.0
        if session_id is not None:
            sessions = self._sessions
            if sessions.get(session_id) is not route:
                sessions[session_id] = route
                sessions.move_to_end(session_id)
                if len(sessions) > MAX_SESSIONS:
                    try:
                        sessions.popitem(last=False)
                    except KeyError:  # another thread emptied it first
                        pass
