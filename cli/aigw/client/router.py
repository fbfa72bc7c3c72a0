"""Which route to try next: weights, fallback order, cooldowns and session affinity.

Time comes from an injected clock (``time.monotonic`` by default) and the
weighted pick from an injected ``random.Random``, so the decisions are testable
without sleeping.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

from .config import Route
from .keys import KeyFile
from .wires import usage_reader

log = logging.getLogger("aigw.client")

MAX_SESSIONS = 10_000
Clock = Callable[[], float]
# A session's route, by route identity: the map outlives a config swap.
Sessions = OrderedDict[str, tuple[str, ...]]


class RouteState:
    """A route plus what the client learned about it: key file, cooldown."""

    __slots__ = ("route", "index", "key", "wire", "timeout", "cooldown_until", "host",
                 "usable", "ident", "usage")

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
        self.ident = route.identity
        # How its answers report tokens: its family's hook (metrics, spans).
        self.usage = usage_reader(self.wire.api.family if self.wire is not None else None)

    def cool_down(self, outcome: str, now: float) -> None:
        """Skip this route for `cooldown` seconds from `now`."""
        self.cooldown_until = now + self.route.cooldown
        log.warning("route %s/%s (%s) failed with %s; cooling down for %.1fs",
                    self.route.provider, self.route.slot, self.route.model, outcome,
                    self.route.cooldown)


class AliasRouter:
    """The routes of one alias (in one config revision) and the order to try them in.

    `sessions` (session id -> route identity) may be shared with the router of
    the same alias in an older config, so a swap keeps affinity; an identity
    this router does not have is ignored (affinity to a removed route is gone).
    """

    __slots__ = ("alias", "family", "routes", "clock", "revision", "_sessions", "_by_id",
                 "_weighted", "_rng")

    def __init__(self, alias: str, family: str, routes: list[RouteState],
                 clock: Clock, *, revision: str = "", rng: random.Random | None = None,
                 sessions: Sessions | None = None) -> None:
        self.alias = alias
        self.family = family
        self.routes = routes
        self.clock = clock
        self.revision = revision
        self._sessions: Sessions = sessions if sessions is not None else OrderedDict()
        self._by_id = {r.ident: r for r in routes}
        weighted = tuple(r for r in routes if r.route.weight and r.usable)
        # None when no route has a weight above 0: plain fallback order, no RNG.
        self._weighted = weighted or None
        self._rng = rng if rng is not None else random.Random()

    @property
    def sessions(self) -> Sessions:
        """The session map (shared with this alias's router in the next config)."""
        return self._sessions

    def order(self, session_id: str | None = None) -> list[RouteState]:
        """Return the routes to try, best first.

        Healthy ones in fallback order, then cooling ones as a last resort (so a
        request never fails without trying every route). First goes a session's
        last route while it is healthy, else, when routes have weights, one
        healthy weighted route picked by weight.
        """
        now = self.clock()
        routes = self.routes
        if routes[0].cooldown_until <= now and len(routes) == 1:
            return routes
        healthy = [r for r in routes if r.cooldown_until <= now]
        if healthy:
            first = None
            if session_id is not None:
                ident = self._sessions.get(session_id)
                if ident is not None:
                    sticky = self._by_id.get(ident)
                    if sticky is not None and sticky.cooldown_until <= now:
                        first = sticky
            if first is None and self._weighted is not None:
                first = self._pick(now)
            if first is not None and healthy[0] is not first:
                healthy.remove(first)
                healthy.insert(0, first)
        if len(healthy) == len(routes):
            return healthy
        return healthy + [r for r in routes if r.cooldown_until > now]

    def _pick(self, now: float) -> RouteState | None:
        """A healthy weighted route, drawn by weight (None when none is healthy)."""
        assert self._weighted is not None
        live = [r for r in self._weighted if r.cooldown_until <= now]
        if not live:
            return None
        if len(live) == 1:
            return live[0]
        x = self._rng.random() * sum(r.route.weight or 0 for r in live)
        for r in live:
            x -= r.route.weight or 0
            if x < 0:
                return r
        return live[-1]

    def served(self, route: RouteState, session_id: str | None) -> None:
        """Remember that `route` answered; a success also ends its cooldown."""
        route.cooldown_until = 0.0
        if session_id is not None:
            sessions = self._sessions
            if sessions.get(session_id) != route.ident:
                sessions[session_id] = route.ident
                sessions.move_to_end(session_id)
                if len(sessions) > MAX_SESSIONS:
                    try:
                        sessions.popitem(last=False)
                    except KeyError:  # another thread emptied it first
                        pass

    def forget_removed(self) -> int:
        """Drop sessions whose route this router does not have; how many were dropped."""
        for _ in range(3):  # another thread may change the map while we copy it
            try:
                items = list(self._sessions.items())
                break
            except RuntimeError:
                continue
        else:
            return 0
        stale = [sid for sid, ident in items if ident not in self._by_id]
        for sid in stale:
            self._sessions.pop(sid, None)
        return len(stale)
