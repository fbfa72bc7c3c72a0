"""The compiled view of a catalog: who calls what, with which key slot, where.

Render, the Vault stack and rotation all consume these plain records; the
names and paths they carry are built by `aigw.names`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aigw.catalog.models import Catalog, Environment
from aigw.catalog.overrides import environment_view
from aigw.errors import UsageError
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
# and the same defaults): large catalogs resolve each distinct route once.
_RouteCache = dict[tuple[Any, ...], list[Any]]  # routes by settings; slots by route lists


def _alias_routes(cat: Catalog, service: str, alias: str, cache: _RouteCache) -> list[ResolvedRoute]:
    svc = cat.services[service]
    d = svc.defaults
    own_slot = svc.keys == "per-service"
    # Keyed by the entries' identities: an environment's merged view shares every entry
    # its overrides leave alone, so environments resolve an unchanged alias once.
    # (What an alias's entries are in this view is worked out once per view and alias.)
    entries_key = ("(entries)", id(cat), alias)
    entries = cache.get(entries_key)
    if entries is None:
        model = cat.models[alias]
        entries = cache[entries_key] = [id(model), *(id(cat.providers[r.provider])
                                                     for r in model.routes)]
    key = (alias, *entries, service if own_slot else None, d.timeout, d.retries, d.cooldown)
    found = cache.get(key)
    if found is not None:
        return found
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
    cache[key] = routes
    return routes


def deployment(cat: Catalog, service: str, env_name: str,
               _cache: _RouteCache | None = None) -> Deployment:
    """Resolve one service in one environment (its merged view: the environment's overrides)."""
    cat = environment_view(cat, env_name)
    svc = cat.services[service]
    env = cat.environments[env_name]
    cache = {} if _cache is None else _cache
    aliases = {alias: _alias_routes(cat, service, alias, cache) for alias in sorted(svc.models)}
    # The same route lists have the same slots: sorted once (SlotRef compares in Python).
    # Keyed by the lists' ids, which stay unique while the route cache holds the lists.
    slots_key = ("(slots)", *(id(routes) for routes in aliases.values()))
    slots = cache.get(slots_key)
    if slots is None:
        slots = cache[slots_key] = sorted(
            {SlotRef(r.provider, r.slot) for routes in aliases.values() for r in routes})
    return Deployment(service, env_name, env, svc.key_dir or env.key_dir, aliases,
                      list(slots))


def deployment_pairs(cat: Catalog, env: str | None = None,
                     service: str | None = None) -> list[tuple[str, str]]:
    """(service, environment) of every deployment, sorted, optionally filtered (no resolving)."""
    return [(name, env_name) for name in sorted(cat.services) if service in (None, name)
            for env_name in sorted(cat.services[name].environments) if env in (None, env_name)]


def deployments(cat: Catalog, env: str | None = None, service: str | None = None) -> list[Deployment]:
    """Every (service, environment) pair, sorted, optionally filtered."""
    cache: _RouteCache = {}
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
