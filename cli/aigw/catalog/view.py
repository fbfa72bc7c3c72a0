"""The compiled view of a catalog: who calls what, with which key slot, where.

Render, the Vault stack and rotation all consume these plain records; the
names and paths they carry are built by `aigw.names`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aigw.catalog.models import Catalog, Environment
from aigw.catalog.overrides import environment_view
from aigw.errors import UsageError
from aigw.fastpath import ENABLED as FASTPATH
from aigw.names import access_name, key_file, per_service_slot


@dataclass(frozen=True, order=True)
class SlotRef:
    """One rotatable provider credential in one environment."""

    provider: str
    slot: str

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.slot}"

    @property
    def file_name(self) -> str:
        return key_file(self.provider, self.slot)


@dataclass(frozen=True)
class ResolvedRoute:
    """A route with the service's defaults and the provider's settings applied."""

    provider: str
    api: str
    base_url: str | None
    model: str
    slot: str
    key_file: str
    timeout: float
    retries: int
    cooldown: float
    extra: dict[str, Any]
    weight: int | None = None  # share of first attempts (0-100); None: fallback only
    price: dict[str, Any] | None = None  # aigw-client.json form (catalog/prices.py)


@dataclass(frozen=True)
class Deployment:
    """One service in one environment."""

    service: str
    environment: str
    env: Environment
    key_dir: str
    aliases: dict[str, list[ResolvedRoute]]
    slots: list[SlotRef] = field(default_factory=list)

    @property
    def policy_name(self) -> str:
        return access_name(self.environment, self.service)

    @property
    def role_name(self) -> str:
        """Its auth roles (AppRole, Kubernetes): named like its policy."""
        return access_name(self.environment, self.service)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """The hint for an unknown name: the closest known one, else every known one."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean '{close[0]}'?" if close else f"known: {', '.join(names) or 'none'}"


def check_scope(cat: Catalog, env: str | None = None, service: str | None = None) -> None:
    """The one check of a command's `--env` / `--service`: one line and exit 2 when unknown."""
    if env is not None and env not in cat.environments:
        raise UsageError(f"unknown environment '{env}'", did_you_mean(env, cat.environments))
    if service is not None and service not in cat.services:
        raise UsageError(f"unknown service '{service}'", did_you_mean(service, cat.services))


def route_slot(cat: Catalog, service: str, provider: str, slot: str | None) -> str:
    """Which slot a service's route uses (`svc-<service>` under `keys: per-service`).

    CAT is the environment's merged view (`environment_view`)."""
    if cat.services[service].keys == "per-service":
        return per_service_slot(service)
    return slot or cat.providers[provider].slots[0]


# Resolved routes of an alias for one set of service settings, shared by every deployment
# with those settings (every environment of a service, and all services with shared keys
# and the same defaults): large catalogs resolve each distinct route once. The cache is
# one plain dict per catalog (`deployments`, render), keyed by values only:
#   "(catalog)"                      -> the catalog it belongs to (a reference it holds)
#   ("(entries)", env, alias)        -> a token for what the alias's entries are in that
#                                       environment's view (its model and providers as
#                                       canonical JSON; equal entries, equal token)
#   (alias, token, service|None, timeout, retries, cooldown) -> (token, routes)
#   ("(slots)", route tokens...)     -> the sorted slots of those route lists
# AIGW_NO_FASTPATH=1 (aigw.fastpath) resolves every deployment on its own instead.
RouteCache = dict[Any, Any]
_CATALOG, _TEXTS = "(catalog)", "(texts)"


def _bind(cache: RouteCache, cat: Catalog) -> None:
    """Empty CACHE and make it CAT's (a cache filled from another catalog says nothing)."""
    cache.clear()
    cache[_CATALOG] = cat


def _token(cache: RouteCache, value: Any) -> int:
    """A small int standing for VALUE (hashable) in this cache: equal values, equal token."""
    tokens = cache.get(_TEXTS)
    if tokens is None:
        tokens = cache[_TEXTS] = {}
    return int(tokens.setdefault(value, len(tokens)))


def _entries_token(cat: Catalog, env_name: str, alias: str, cache: RouteCache) -> int:
    """What ALIAS's entries (its model, its routes' providers) are in CAT, as a token:
    worked out once per environment and alias; environments whose overrides leave the
    alias alone get the same token, so they share its resolved routes."""
    key = ("(entries)", env_name, alias)
    token = cache.get(key)
    if token is None:
        model = cat.models[alias]
        providers = {r.provider: cat.providers[r.provider].model_dump(mode="json")
                     for r in model.routes}
        text = json.dumps([model.model_dump(mode="json"), providers], sort_keys=True,
                          separators=(",", ":"), default=str)
        token = cache[key] = _token(cache, text)
    return int(token)


def _resolve(cat: Catalog, service: str, alias: str) -> list[ResolvedRoute]:
    """ALIAS's routes for SERVICE in CAT (an environment's merged view)."""
    d = cat.services[service].defaults
    routes = []
    for route in cat.models[alias].routes:
        prov = cat.providers[route.provider]
        ref = SlotRef(route.provider, route_slot(cat, service, route.provider, route.slot))
        routes.append(ResolvedRoute(
            provider=route.provider,
            api=prov.api,
            base_url=prov.base_url,
            model=route.model,
            slot=ref.slot,
            key_file=ref.file_name,
            timeout=float(route.timeout if route.timeout is not None else d.timeout),
            retries=route.retries if route.retries is not None else d.retries,
            cooldown=float(route.cooldown if route.cooldown is not None else d.cooldown),
            extra={**prov.extra, **route.extra},
            weight=route.weight,
            price=prov.prices[route.model].to_json() if route.model in prov.prices else None,
        ))
    return routes


def _alias_routes(cat: Catalog, env_name: str, service: str, alias: str,
                  cache: RouteCache) -> tuple[int, list[ResolvedRoute]]:
    """(token, routes) of ALIAS for SERVICE: resolved once per distinct setting."""
    svc = cat.services[service]
    d = svc.defaults
    entries = cache.get(("(entries)", env_name, alias))  # (_entries_token, inlined)
    if entries is None:
        entries = _entries_token(cat, env_name, alias, cache)
    key = (alias, entries, service if svc.keys == "per-service" else None,
           d.timeout, d.retries, d.cooldown)
    found = cache.get(key)
    if found is None:
        found = cache[key] = (_token(cache, key), _resolve(cat, service, alias))
    return found  # type: ignore[no-any-return]


def _slots(aliases: dict[str, list[ResolvedRoute]]) -> list[SlotRef]:
    return sorted({SlotRef(r.provider, r.slot) for routes in aliases.values() for r in routes})


def deployment(cat: Catalog, service: str, env_name: str,
               _cache: RouteCache | None = None) -> Deployment:
    """Resolve one service in one environment (its merged view: the environment's overrides).

    Deployments resolved with one `_cache` (any dict, one per catalog) share the route
    lists and slots they resolve alike."""
    view = environment_view(cat, env_name)
    svc = view.services[service]
    env = view.environments[env_name]
    if not FASTPATH:
        aliases = {alias: _resolve(view, service, alias) for alias in sorted(svc.models)}
        slots = _slots(aliases)
    else:
        cache = {} if _cache is None else _cache
        if cache.get(_CATALOG) is not cat:
            _bind(cache, cat)
        tokens: list[int] = []
        aliases = {}
        for alias in sorted(svc.models):
            token, aliases[alias] = _alias_routes(view, env_name, service, alias, cache)
            tokens.append(token)
        # The same route lists have the same slots: sorted once (SlotRef compares in Python).
        slots_key = ("(slots)", *tokens)
        cached = cache.get(slots_key)
        if cached is None:
            cached = cache[slots_key] = _slots(aliases)
        slots = cached
    return Deployment(service, env_name, env, svc.key_dir or env.key_dir, aliases,
                      list(slots))


def deployment_pairs(cat: Catalog, env: str | None = None,
                     service: str | None = None) -> list[tuple[str, str]]:
    """(service, environment) of every deployment, sorted, optionally filtered (no resolving)."""
    return [(name, env_name) for name in sorted(cat.services) if service in (None, name)
            for env_name in sorted(cat.services[name].environments) if env in (None, env_name)]


def deployments(cat: Catalog, env: str | None = None, service: str | None = None) -> list[Deployment]:
    """Every (service, environment) pair, sorted, optionally filtered."""
    cache: RouteCache = {}
    return [deployment(cat, name, env_name, cache)
            for name, env_name in deployment_pairs(cat, env, service)]


def environment_slots(cat: Catalog, env_name: str) -> list[SlotRef]:
    """Every slot `aigw keys` can address in an environment: each provider's declared
    slots plus per-service ones (used or not; see `used_slots`)."""
    cat_env = environment_view(cat, env_name)
    refs = {SlotRef(p, s) for p, prov in cat_env.providers.items() for s in prov.slots}
    refs.update(used_slots(cat, env_name))
    return sorted(refs)


def used_slots(cat: Catalog, env_name: str) -> list[SlotRef]:
    """The slots some deployment of the environment reads: what the stack declares.

    A provider's `default` slot that no route of the environment uses is left
    out, so OpenBao holds no slot entry that nobody reads.
    """
    return sorted({ref for dep in deployments(cat, env=env_name) for ref in dep.slots})
