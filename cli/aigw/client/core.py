"""The sans-I/O core `Client` and `AsyncClient` share: routes, key files, spans and
the failover decisions, as a generator that does no I/O (the transports drive it
with their own sync or async sends).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, NamedTuple, Self

from aigw.names import aws_key_parts

from .acks import ACKS_ATTR, recorder
from .config import (
    ClientConfig,
    Route,
    config_from_bytes,
    config_path_from_env_file,
    load_config,
)
from .errors import AllRoutesFailed, Attempt, ConfigError, UnknownAlias, WrongFamily, attempt
from .fastpath import new_tuple
from .keys import FileWatcher, KeyFile, Watched, parse_token
from .live import ConfigFollower, ConfigStatus, Snapshot, describe_revision
from .router import AliasRouter, Clock, RouteState, Sessions
from .telemetry import CallSpan, Telemetry

log = logging.getLogger("aigw.client")
_monotonic = time.monotonic  # module globals: one lookup less per call
_perf = time.perf_counter

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
        return new_tuple(cls, (status, value, "ok" if status < 400 else f"http_{status}",
                            _perf() - t0))

    @classmethod
    def failed(cls, outcome: str, t0: float) -> Result:
        """The result of a send that got no (usable) answer."""
        return new_tuple(cls, (None, None, outcome, _perf() - t0))


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
    """Config, routers, key files, the file watcher and telemetry of one service.

    What a call uses (the routers of one config revision, with their route
    states and key files) is one immutable `Snapshot`; a newer config file is
    swapped in by replacing that reference (client/live.py), so a call in
    flight finishes on the snapshot it started with.
    """

    def __init__(self, config: ClientConfig, *, session_affinity: bool = True,
                 on_attempt: OnAttempt | None = None, tracer_provider: Any = None,
                 meter_provider: Any = None,
                 key_check_interval: float = 0.1, watch_keys: bool | None = None,
                 clock: Clock = time.monotonic, watch_config: bool | None = None,
                 config_check_interval: float = 0.1,
                 rng: random.Random | None = None, acks: Any = None) -> None:
        """Build from a parsed config.

        `key_check_interval` bounds how often a key file is stat'ed; `watch_keys`
        (default: when watchfiles is installed) also re-reads on change events;
        `watch_config` (default: when the config was read from a file) follows
        the config file, stat'ed at most every `config_check_interval` (and on
        watchfiles events when the watcher runs); `on_attempt` is called with
        every `Attempt`; `tracer_provider` and `meter_provider` (spans, and the
        metrics of spec/metrics.md) default to OpenTelemetry's global ones; `clock`
        (seconds, monotonic) times cooldowns; `rng` draws weighted first routes
        (default: a fresh ``random.Random``); `acks` records key acknowledgements
        (default: from the config file's `acks` block, see client/acks.py; tests pass
        a recorder of their own).
        """
        self.session_affinity = session_affinity
        self.on_attempt = on_attempt
        self.clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._key_check_interval = key_check_interval
        self._key_files: dict[str, KeyFile] = {}
        self._reloads = 0
        # The key-acknowledgement recorder; False when off (the hot path tests that).
        self._acks: Any = acks
        self._loaded_at = time.time()
        self._snap = self._build(config, None)
        for kf in self._key_files.values():
            if kf.get() is None:  # load now: the first requests find the key ready
                log.warning("key file %s is missing or empty; its routes fail over until "
                            "it appears", kf.path)
        self._telemetry = Telemetry(config.service, config.environment, tracer_provider,
                                    meter_provider, config.path)
        # Following the config file: the hot path compares the clock with this only.
        self._config_next_check = math.inf
        self._follower: ConfigFollower | None = None
        if watch_config and config.path is None:
            raise ConfigError("watch_config needs a config read from a file "
                              "(Client.from_file or Client.from_env)")
        if watch_config is not False and config.path is not None:
            self._follower = ConfigFollower(config, config_check_interval, self._apply,
                                            self._describe)
            self._config_next_check = self._follower.next_check
        log.info("%s: revision - -> %s (%d aliases)", self._describe(),
                 describe_revision(config.revision), len(config.aliases))
        self._start_acks()
        self._watcher: FileWatcher | None = None
        if watch_keys or (watch_keys is None and FileWatcher.available()):
            self._watcher = FileWatcher(self._watched())
            if not self._watcher.start():
                self._watcher = None

    def _start_acks(self) -> None:
        """Make the recorder and have it report the loaded keys (never raises)."""
        try:
            if self._acks is not None:
                self.__dict__[ACKS_ATTR] = self._acks  # what `recorder(client)` returns
            acks = recorder(self)
            self._acks = acks if acks.on else False
            if acks.on:
                acks.watch(self.loaded_keys)
        except Exception:  # noqa: BLE001 - acknowledgements never stop a client
            log.debug("key acknowledgements off", exc_info=True)
            self._acks = False

    def loaded_keys(self) -> dict[tuple[str, str], str | None]:
        """(provider, slot) -> the fingerprint of the key loaded now, for every route
        this client can call (None: no key); what `loaded` acknowledgements report."""
        out: dict[tuple[str, str], str | None] = {}
        for router in self._snap.routers.values():
            for rs in router.routes:
                if rs.usable:
                    current = rs.key.get()
                    out[(rs.route.provider, rs.route.slot)] = current[1] if current else None
        return out

    def _watched(self) -> list[Watched]:
        files: list[Watched] = list(self._key_files.values())
        if self._follower is not None:
            files.append(self._follower)
        return files

    def _describe(self) -> str:
        return f"aigw config {self._snap.config.service}"

    def _build(self, config: ClientConfig, old: Snapshot | None) -> Snapshot:
        """The snapshot of `config`; unchanged routes of `old` keep their state.

        A route whose (alias, identity) is in `old` keeps its `RouteState` when
        nothing about it changed, else gets a new one with its cooldown; each
        alias keeps its session map. Key files are shared by path.
        """
        kept: dict[tuple[str, tuple[str, ...]], RouteState] = {}
        sessions: dict[str, Sessions] = {}
        if old is not None:
            for alias, router in old.routers.items():
                sessions[alias] = router.sessions
                for rs in router.routes:
                    kept[(alias, rs.ident)] = rs
        key_files: dict[str, KeyFile] = {}
        routers: dict[str, AliasRouter] = {}
        for alias, routes in config.aliases.items():
            family = config.families.get(alias, "openai")
            states = [self._state(alias, family, i, route, key_files, kept)
                      for i, route in enumerate(routes)]
            routers[alias] = AliasRouter(alias, family, states, self.clock,
                                         revision=config.revision, rng=self._rng,
                                         sessions=sessions.get(alias))
        self._key_files = key_files
        # A plain dict (a lookup per call; MappingProxyType's costs more): never
        # changed after this point, a swap builds a new one.
        return Snapshot(config, routers, config.revision)

    def _state(self, alias: str, family: str, index: int, route: Route,
               key_files: dict[str, KeyFile],
               kept: dict[tuple[str, tuple[str, ...]], RouteState]) -> RouteState:
        wire = route.wire
        if wire is not None:
            wire.ready(f"aliases.{alias}.routes[{index}]")
        parse = wire.parse_secret if wire is not None else None
        path = str(route.key_file)
        kf = key_files.get(path) or self._key_files.get(path)
        if kf is None:
            parts = tuple((route.key_file.with_name(name), field)
                          for name, field in aws_key_parts(route.key_file.name)
                          ) if wire is not None and wire.api.is_aws else ()
            kf = KeyFile(route.key_file, self._key_check_interval, parse or parse_token,
                         parts=parts)
        key_files[path] = kf
        usable = wire is not None and wire.api.family == family
        old = kept.get((alias, route.identity))
        if old is not None and old.route == route and old.index == index \
                and old.key is kf and old.usable == usable:
            return old  # the very same route: in-flight and new calls share its state
        rs = RouteState(route, index, kf, usable=usable)
        if old is not None:
            rs.cooldown_until = old.cooldown_until
        return rs

    def _apply(self, data: bytes) -> None:
        """Swap in the config in `data`, or raise ConfigError (the old one keeps serving)."""
        old = self._snap
        path = old.config.path
        assert path is not None
        new = config_from_bytes(data, path)
        for name in ("service", "environment"):
            theirs, ours = getattr(new, name), getattr(old.config, name)
            if theirs != ours:
                raise ConfigError(f"{path}: {name}: {theirs!r} is not this client's "
                                  f"{ours!r} (a config for another {name})")
        for alias, family in new.families.items():
            was = old.config.families.get(alias)
            if was is not None and was != family:
                log.warning("%s: alias %r now speaks the %s family (was %s)",
                            self._describe(), alias, family, was)
        previous_keys = self._key_files
        try:
            snap = self._build(new, old)
        except BaseException:
            self._key_files = previous_keys
            raise
        for path_str, kf in self._key_files.items():
            if path_str not in previous_keys and kf.get() is None:
                log.warning("key file %s is missing or empty; its routes fail over until "
                            "it appears", kf.path)
        self._snap = snap  # the swap: calls from now on use the new snapshot
        self._reloads += 1
        self._loaded_at = time.time()
        for router in snap.routers.values():
            router.forget_removed()
        if self._watcher is not None:
            self._watcher.update(self._watched())
        log.info("%s: revision %s -> %s (%d aliases)", self._describe(),
                 describe_revision(old.revision), describe_revision(snap.revision),
                 len(snap.routers))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Self:
        """Load `aigw-client.json` at `path`; keyword arguments go to the constructor."""
        return cls(load_config(path), **kwargs)

    @classmethod
    def from_env_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Self:
        """Load the config a rendered ``aigw.env`` names: its ``AIGW_CLIENT_CONFIG``, a
        relative one resolved against that file's folder (not the working folder)."""
        return cls.from_file(config_path_from_env_file(path), **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Load the config named by ``AIGW_CLIENT_CONFIG`` (as written in aigw.env).

        A relative path is relative to the working folder here; ``from_env_file``
        resolves it against aigw.env's folder, as render means it.
        """
        path = os.environ.get("AIGW_CLIENT_CONFIG")
        if not path:
            raise ConfigError("AIGW_CLIENT_CONFIG is not set")
        return cls.from_file(path, **kwargs)

    @property
    def config(self) -> ClientConfig:
        """The config serving now."""
        return self._snap.config

    @property
    def revision(self) -> str:
        """The revision of the config serving now ("" when its file has none)."""
        return self._snap.revision

    @property
    def config_status(self) -> ConfigStatus:
        """Which revision serves, and what became of the config files seen since."""
        f = self._follower
        return ConfigStatus(self._snap.revision, f.rejection if f else "",
                            f.rejected if f else 0, self._reloads, self._loaded_at,
                            f is not None)

    def reload_config(self) -> ConfigStatus:
        """Look at the config file now (as the poll and the watcher do); the new status."""
        if self._follower is not None:
            self._follower.check()
        return self.config_status

    @property
    def _routers(self) -> Mapping[str, AliasRouter]:
        return self._snap.routers

    @property
    def aliases(self) -> list[str]:
        """The model aliases this service may call."""
        return list(self._snap.routers)

    def family(self, alias: str) -> str:
        """The wire family (``openai`` or ``anthropic``) the alias speaks."""
        return self.router(alias, None).family

    def router(self, alias: str, family: str | None) -> AliasRouter:
        """The alias's router; raises UnknownAlias, or WrongFamily if `family` differs."""
        if _monotonic() >= self._config_next_check:  # the hot path's only addition
            self._follow()
        routers = self._snap.routers
        router = routers.get(alias)
        if router is None:
            raise UnknownAlias(f"model alias {alias!r} is not configured for service "
                               f"{self._snap.config.service!r} "
                               f"(known: {', '.join(routers)})")
        if family is not None and router.family != family:
            raise WrongFamily(alias, router.family, family)
        return router

    def _follow(self) -> None:
        f = self._follower
        if f is None:
            self._config_next_check = math.inf
            return
        f.poll()
        self._config_next_check = f.next_check

    def _stop_watcher(self) -> None:
        if self._acks:  # pending acknowledgements are still written; loaded keys no more
            self._acks.watch(None)
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
        span.revision = revision = router.revision
        for rs in router.order(sid):
            current = rs.key.get() if rs.usable else None
            if current is None:
                skip = "no_key" if rs.usable else (
                    "unsupported_api" if rs.wire is None else "wrong_family")
                self._record(attempts, span, rs, alias, revision, None, skip, 0.0, "")
                continue
            key, fp = current
            reloaded, retries_left = False, rs.route.retries
            while True:  # attempts on this route: retries, and one retry after a new key
                status, value, outcome, latency = yield rs, key
                self._record(attempts, span, rs, alias, revision, status, outcome, latency, fp)
                if status is not None and status < 400:
                    router.served(rs, sid)
                    if self._acks is not False:
                        self._used(rs.route, fp)
                    return new_tuple(Decision, (rs, value, attempts))
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
                    return new_tuple(Decision, (rs, value, attempts))
                del value  # (a failed answer is not kept alive by the plan)
                if retries_left > 0:
                    retries_left -= 1
                    continue
                rs.cool_down(outcome, self.clock())
                break
        raise AllRoutesFailed(alias, attempts)

    def _record(self, attempts: list[Attempt], span: CallSpan, rs: RouteState, alias: str,
                revision: str, status: int | None, outcome: str, latency: float,
                fp: str) -> None:
        r = rs.route
        a = attempt(alias, r.provider, r.slot, rs.index, outcome, latency, fp, status, revision)
        attempts.append(a)
        if span.recording:
            span.attempt(a)
        if outcome != "ok":
            log.debug("%s: %s/%s attempt failed: %s", alias, r.provider, r.slot, outcome)
        if self.on_attempt is not None:
            try:
                self.on_attempt(a)
            except Exception:
                log.exception("on_attempt callback failed")

    def _used(self, route: Route, fp: str) -> None:
        """After a success: note the fingerprint of the key sent, for rotation (never raises)."""
        try:
            self._acks.used(route.provider, route.slot, fp, self._snap.revision)
        except Exception:  # noqa: BLE001 - the request succeeded; an ack never changes that
            log.debug("key acknowledgement not recorded", exc_info=True)
