"""Which route to try next: fallback order, cooldowns and session affinity."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import httpx

from .config import Route
from .keys import KeyFile

log = logging.getLogger("aigw.client")

SUPPORTED_APIS = frozenset({"openai"})
MAX_SESSIONS = 10_000


class RouteState:
    """A route plus what the client learned about it: key file, cooldown."""

    __slots__ = ("route", "index", "key", "timeout", "cooldown_until", "chat_url", "host")

    def __init__(self, route: Route, index: int, key: KeyFile) -> None:
        self.route = route
        self.index = index
        self.key = key
        self.timeout = httpx.Timeout(route.timeout)
        self.cooldown_until = 0.0
        self.chat_url = route.base_url + "/chat/completions"
        self.host = urlsplit(route.base_url).hostname or ""

    def cool_down(self, outcome: str) -> None:
        """Skip this route for `cooldown` seconds."""
        self.cooldown_until = time.monotonic() + self.route.cooldown
        log.warning("route %s/%s (%s) failed with %s; cooling down for %.1fs",
                    self.route.provider, self.route.slot, self.route.model, outcome,
                    self.route.cooldown)


class AliasRouter:
    """The routes of one alias and the order to try them in for a request."""

    __slots__ = ("alias", "routes", "_sessions")

    def __init__(self, alias: str, routes: list[RouteState]) -> None:
        self.alias = alias
        self.routes = routes
        self._sessions: OrderedDict[str, RouteState] = OrderedDict()

    def order(self, session_id: str | None = None) -> list[RouteState]:
        """Return the routes to try, best first.

        Healthy ones in fallback order, then cooling ones as a last resort (so a
        request never fails without trying every route). A session's last route
        goes first while it is healthy.
        """
        now = time.monotonic()
        routes = self.routes
        if routes[0].cooldown_until <= now and len(routes) == 1:
            return routes
        healthy = [r for r in routes if r.cooldown_until <= now]
        if session_id is not None:
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
