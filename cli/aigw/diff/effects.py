"""What a catalog change does, service by service: routes, residency, keys, access.

`compare(base, head)` is a pure function of two catalogs (either may be None:
no catalog at that revision). Aliases and providers are shared, so a change to
`models.chat` shows under every service that uses `chat` - which is exactly
what a reviewer needs to know.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from aigw.catalog.models import Catalog, Provider, Route, format_duration
from aigw.catalog.overrides import environment_view

_PROVIDER_FIELDS = ("api", "base_url", "region")


@dataclass(frozen=True)
class Effect:
    """One consequence of the change for a service (`kind` is stable, `text` is for people)."""

    kind: str
    text: str
    alias: str | None = None
    before: Any = None
    after: Any = None
    environment: str | None = None  # set when the effect is one environment's only

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = {"kind": self.kind, "text": self.text, "alias": self.alias,
               "before": self.before, "after": self.after}
        if self.environment is not None:  # only one environment's (its overrides)
            out["environment"] = self.environment
        return out


@dataclass
class ServiceChange:
    """How one service differs between the two catalogs."""

    service: str
    status: str  # added, removed, changed, unchanged
    environments: list[str] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def _route_label(route: Route) -> str:
    return f"{route.provider}/{route.model}"


def _routes(cat: Catalog, alias: str) -> list[str]:
    model = cat.models.get(alias)
    return [_route_label(r) for r in model.routes] if model else []


def _weights(cat: Catalog, alias: str) -> dict[str, int | None]:
    model = cat.models.get(alias)
    return {_route_label(r): r.weight for r in model.routes} if model else {}


def _share(weight: int | None) -> str:
    return "fallback only" if weight is None else f"{weight}%"


def weight_effects(alias: str, before: dict[str, int | None],
                   after: dict[str, int | None]) -> list[Effect]:
    """Weight changes of routes kept in an alias (`canary 5% -> 50%`), each its own effect.

    A route's weight is its share of the alias's first attempts; a route without
    one is a fallback only. Added and removed routes are route effects instead.
    """
    out = []
    for label, new in after.items():
        if label not in before or before[label] == new:
            continue
        old = before[label]
        out.append(Effect("weight-changed", f"{alias}: weight of {label} {_share(old)} -> "
                          f"{_share(new)}", alias, {"route": label, "weight": old},
                          {"route": label, "weight": new}))
    return out


def _regions_used(cat: Catalog, aliases: list[str]) -> list[str]:
    return sorted({cat.providers[r.provider].region for a in aliases if a in cat.models
                   for r in cat.models[a].routes if r.provider in cat.providers})


def _arrow(items: list[str]) -> str:
    return " > ".join(items) if items else "(none)"


def _listed(items: Any) -> str:
    return ", ".join(items) if items else "any"


def route_effects(alias: str, before: list[str], after: list[str],
                  weights: dict[str, int | None] | None = None) -> list[Effect]:
    """Routes added, removed and reordered in one alias's fallback chain."""
    out = []
    for r in after:
        if r not in before:
            pos = after.index(r) + 1
            share = (weights or {}).get(r)
            shown = f", weight {share}%" if share is not None else ""
            out.append(Effect("route-added", f"{alias}: route added: {r} (position {pos}{shown})",
                              alias, None, r))
    for r in before:
        if r not in after:
            out.append(Effect("route-removed", f"{alias}: route removed: {r}", alias, r, None))
    kept_before = [r for r in before if r in after]
    kept_after = [r for r in after if r in before]
    if kept_before != kept_after:
        out.append(Effect("routes-reordered", f"{alias}: fallback order {_arrow(before)} -> "
                          f"{_arrow(after)}", alias, before, after))
    return out


def _values(limit: Any) -> dict[str, int]:
    return limit.given() if limit is not None else {}


def _shown_values(values: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items()))


def limit_effects(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Effect]:
    """Each `limits` entry (alias or provider/model) set, changed or removed, field by field
    (`limits gpt-4o: rpm 500 -> 50`): what the provider will enforce (docs/limits.md)."""
    old = {k: _values(v) for k, v in (before or {}).items() if v is not None}
    new = {k: _values(v) for k, v in (after or {}).items() if v is not None}
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, {}), new.get(key, {})
        if a == b:
            continue
        if not a:
            text = f"limits {key}: set {_shown_values(b)}"
        elif not b:
            text = f"limits {key}: removed (was {_shown_values(a)})"
        else:
            text = f"limits {key}: " + ", ".join(
                f"{f} {a.get(f, '(none)')} -> {b.get(f, '(none)')}"
                for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f))
        out.append(Effect("limits-changed", text, None, {"limit": key, **a} if a else None,
                          {"limit": key, **b} if b else None))
    return out


def _provider_effects(base: Catalog, head: Catalog, aliases: list[str]) -> list[Effect]:
    used = sorted({r.provider for a in aliases if a in head.models
                   for r in head.models[a].routes})
    out = []
    for name in used:
        old: Provider | None = base.providers.get(name)
        new = head.providers.get(name)
        if old is None or new is None:
            continue
        for attr in _PROVIDER_FIELDS:
            a, b = getattr(old, attr), getattr(new, attr)
            if a != b:
                out.append(Effect("provider-changed", f"provider {name}: {attr} {a} -> {b}",
                                  None, {"provider": name, attr: a}, {"provider": name, attr: b}))
        for attr in ("driver", "max_age", "grace", "params"):
            a, b = getattr(old.rotation, attr), getattr(new.rotation, attr)
            if a != b:
                shown = (format_duration(a), format_duration(b)) if attr in ("max_age", "grace") \
                    else (a, b)
                out.append(Effect("provider-changed", f"provider {name}: rotation.{attr} "
                                  f"{shown[0]} -> {shown[1]}", None,
                                  {"provider": name, f"rotation.{attr}": a},
                                  {"provider": name, f"rotation.{attr}": b}))
    return out


def service_effects(base: Catalog, head: Catalog, name: str) -> list[Effect]:
    """Every effect of the change on service NAME, present in both catalogs."""
    old, new = base.services[name], head.services[name]
    out: list[Effect] = []
    for env in sorted(set(new.environments) - set(old.environments)):
        out.append(Effect("environment-added", f"now deployed to {env}", None, None, env))
    for env in sorted(set(old.environments) - set(new.environments)):
        out.append(Effect("environment-removed", f"no longer deployed to {env}", None, env, None))
    for alias in sorted(set(new.models) - set(old.models)):
        out.append(Effect("alias-added", f"may now use alias {alias}: {_arrow(_routes(head, alias))}",
                          alias, None, _routes(head, alias)))
    for alias in sorted(set(old.models) - set(new.models)):
        out.append(Effect("alias-removed", f"no longer uses alias {alias}", alias,
                          _routes(base, alias), None))
    for alias in sorted(set(old.models) & set(new.models)):
        out += route_effects(alias, _routes(base, alias), _routes(head, alias),
                             _weights(head, alias))
        out += weight_effects(alias, _weights(base, alias), _weights(head, alias))
    if old.regions != new.regions:
        out.append(Effect("regions-changed", f"allowed regions: {_listed(old.regions)} -> "
                          f"{_listed(new.regions)}", None, old.regions, new.regions))
    used_before, used_after = _regions_used(base, old.models), _regions_used(head, new.models)
    if used_before != used_after:
        out.append(Effect("residency-changed", f"data processed in: {_listed(used_before)} -> "
                          f"{_listed(used_after)}", None, used_before, used_after))
    if old.keys != new.keys:
        out.append(Effect("keys-changed", f"key strategy: {old.keys} -> {new.keys}", None,
                          old.keys, new.keys))
    out += limit_effects(old.limits, new.limits)
    if old.workspace != new.workspace:
        out.append(Effect("workspace-changed", f"Anthropic workspace: {old.workspace or '(none)'}"
                          f" -> {new.workspace or '(none)'}", None, old.workspace, new.workspace))
    if old.outputs != new.outputs:
        out.append(Effect("outputs-changed", f"outputs: {', '.join(old.outputs)} -> "
                          f"{', '.join(new.outputs)}", None, list(old.outputs), list(new.outputs)))
    if old.defaults != new.defaults or old.key_dir != new.key_dir:
        out.append(Effect("settings-changed", "timeouts, retries, cooldown or key_dir changed",
                          None, old.defaults.model_dump(), new.defaults.model_dump()))
    return out + _provider_effects(base, head, sorted(set(new.models)))


def _summary(cat: Catalog, name: str, kind: str) -> list[Effect]:
    svc = cat.services[name]
    regions = _regions_used(cat, svc.models)
    out = [Effect(f"service-{kind}", f"{kind} in {', '.join(sorted(svc.environments))}", None,
                  None if kind == "added" else name, name if kind == "added" else None)]
    for alias in sorted(svc.models):
        out.append(Effect("alias-added" if kind == "added" else "alias-removed",
                          f"alias {alias}: {_arrow(_routes(cat, alias))}", alias))
    out.append(Effect("residency", f"allowed regions {_listed(svc.regions)}; data processed in "
                      f"{_listed(regions)}", None, None, regions))
    out.append(Effect("keys", f"key strategy: {svc.keys}", None, None, svc.keys))
    if kind == "added":
        out += limit_effects(None, svc.limits)
    return out


def compare(base: Catalog | None, head: Catalog, env: str | None = None) -> list[ServiceChange]:
    """Every service of either catalog (limited to those deployed in ENV), sorted by name."""
    base = base or Catalog()
    out = []
    for name in sorted(set(base.services) | set(head.services)):
        envs = sorted(set(base.services[name].environments if name in base.services else [])
                      | set(head.services[name].environments if name in head.services else []))
        if env is not None and env not in envs:
            continue
        if name not in base.services:
            out.append(ServiceChange(name, "added", envs, _summary(head, name, "added")))
        elif name not in head.services:
            out.append(ServiceChange(name, "removed", envs, _summary(base, name, "removed")))
        else:
            effects = _effects_by_environment(base, head, name, env)
            out.append(ServiceChange(name, "changed" if effects else "unchanged", envs, effects))
    return out


def _effects_by_environment(base: Catalog, head: Catalog, name: str,
                            only: str | None = None) -> list[Effect]:
    """A service's effects in each environment's merged view (its overrides applied).

    An effect every environment of the service shares is shown once; one that only
    some environments see (a prod-only override) is shown per environment, its text
    starting with `[env]`. With ONLY (`aigw diff --env`), only that environment's.
    """
    envs = sorted(set(base.services[name].environments) & set(head.services[name].environments))
    envs = [e for e in envs if only in (None, e)]
    overall = service_effects(base, head, name)
    moves = [e for e in overall if e.kind in ("environment-added", "environment-removed")]
    per_env = {env: service_effects(environment_view(base, env), environment_view(head, env), name)
               for env in envs}
    per_env = {env: [e for e in found if e not in moves] for env, found in per_env.items()}
    if not per_env:
        return overall
    shared = [e for e in next(iter(per_env.values())) if all(e in f for f in per_env.values())]
    out = moves + shared
    for env, found in per_env.items():
        out += [replace(e, text=f"[{env}] {e.text}", environment=env) for e in found
                if e not in shared]
    return out


def catalog_effects(base: Catalog | None, head: Catalog) -> list[Effect]:
    """Catalog-wide changes: environments, providers and aliases added or removed."""
    base = base or Catalog()
    out = []
    for section in ("environments", "providers", "models"):
        old, new = getattr(base, section), getattr(head, section)
        label = {"models": "alias", "providers": "provider", "environments": "environment"}
        for name in sorted(set(new) - set(old)):
            out.append(Effect(f"{label[section]}-added", f"{label[section]} {name} added",
                              None, None, name))
        for name in sorted(set(old) - set(new)):
            out.append(Effect(f"{label[section]}-removed", f"{label[section]} {name} removed",
                              None, name, None))
        for name in sorted(set(old) & set(new)):
            if old[name] != new[name]:
                out.append(Effect(f"{label[section]}-changed", f"{label[section]} {name} changed",
                                  None, name, name))
    return out
