"""The JSON document rules are evaluated over (`input` in Rego).

Shape (documented in docs/governance.md; rules may rely on every field)::

    {
      "catalog": {...},                # the whole catalog, defaults filled in, durations in seconds
      "views": {"prod": {...}},        # per environment with overrides: its merged view
                                       # (providers, models, services; lib.view(env) in Rego)
      "prod_environments": ["prod"],   # environments that count as production
      "deployments": [                 # one per service x environment, sorted
        {"service": "bot", "environment": "prod", "prod": true, "keys": "per-service",
         "regions": ["cn"] | null,     # the service's allowed regions (null: any)
         "aliases": {"chat": [         # resolved routes, in fallback order
            {"index": 0, "provider": "deepseek", "model": "deepseek-chat", "region": "cn",
             "api": "openai", "slot": "svc-bot",
             "priced": true,               # the catalog has a price for this model
             "limit_api": null}]}}],       # "openai"/"anthropic": the provider's limit API
      "limit_apis": {"openai": {"what": "OpenAI project rate limits",
                                "fields": ["rpm", "tpm", "rpd"]}, "anthropic": {...}},
      "providers": {"deepseek": {"region": "cn", "driver": "manual",
                                 "max_age_seconds": 2592000, "max_age": "30d",
                                 "services": ["bot"], "environments": ["prod"], "prod": true,
                                 "prod_services": ["bot"]}},
      "services": {"bot": {"environments": ["prod"], "prod": true,
                           "providers": ["deepseek"], "regions_used": ["cn"]}},
      "evals": null | {...}            # `aigw eval`'s results: added by governance/__init__.py
    }
"""

from __future__ import annotations

from typing import Any

from aigw.catalog.limits import LIMIT_APIS, limit_api
from aigw.catalog.models import Catalog, format_duration
from aigw.catalog.overrides import environment_view
from aigw.catalog.view import deployments

PROD_NAMES = frozenset({"prod", "production"})


def is_prod(environment: str) -> bool:
    """Whether an environment counts as production: `prod`, `production` or `prod-*`."""
    return environment in PROD_NAMES or environment.startswith("prod-")


def _as_prod_sees_them(cat: Catalog,
                       prod_envs: dict[str, set[str]]) -> dict[str, tuple[Any, str | None]]:
    """Each provider as its first production environment sees it (its overrides applied),
    and that environment: the summary's driver and max_age are what production gets."""
    return {name: (environment_view(cat, min(prod_envs[name])).providers[name],
                   min(prod_envs[name])) if prod_envs[name] else (prov, None)
            for name, prov in cat.providers.items()}


def _api_name(prov: Any) -> str | None:
    api = limit_api(prov)
    return None if api is None else api.name


def policy_input(cat: Catalog) -> dict[str, Any]:
    """The `input` document of every rule for catalog CAT."""
    deps: list[dict[str, Any]] = []
    prov_services: dict[str, set[str]] = {name: set() for name in cat.providers}
    prov_envs: dict[str, set[str]] = {name: set() for name in cat.providers}
    prov_prod: dict[str, set[str]] = {name: set() for name in cat.providers}
    prov_prod_envs: dict[str, set[str]] = {name: set() for name in cat.providers}
    svc_info: dict[str, dict[str, Any]] = {}
    for dep in deployments(cat):
        view = environment_view(cat, dep.environment)
        svc = view.services[dep.service]
        aliases: dict[str, list[dict[str, Any]]] = {}
        for alias, routes in dep.aliases.items():
            aliases[alias] = [
                {"index": i, "provider": r.provider, "model": r.model, "api": r.api,
                 "region": cat.providers[r.provider].region, "slot": r.slot,
                 "priced": r.price is not None,
                 "limit_api": _api_name(view.providers[r.provider])}
                for i, r in enumerate(routes)
            ]
            for r in routes:
                prov_services[r.provider].add(dep.service)
                prov_envs[r.provider].add(dep.environment)
                if is_prod(dep.environment):
                    prov_prod[r.provider].add(dep.service)
                    prov_prod_envs[r.provider].add(dep.environment)
        deps.append({"service": dep.service, "environment": dep.environment,
                     "prod": is_prod(dep.environment), "keys": svc.keys,
                     "regions": svc.regions, "aliases": aliases})
        info = svc_info.setdefault(dep.service, {"environments": [], "providers": set()})
        info["environments"].append(dep.environment)
        info["providers"].update(r.provider for rs in dep.aliases.values() for r in rs)
    services = {
        name: {
            "environments": sorted(info["environments"]),
            "prod": any(is_prod(e) for e in info["environments"]),
            "providers": sorted(info["providers"]),
            "regions_used": sorted({cat.providers[p].region for p in info["providers"]}),
        }
        for name, info in sorted(svc_info.items())
    }
    providers = {
        name: {
            "region": prov.region, "api": prov.api, "driver": prov.rotation.driver,
            "view_env": view_env,  # whose merged view driver and max_age are (null: the catalog)
            "max_age_seconds": prov.rotation.max_age,
            "max_age": format_duration(prov.rotation.max_age),
            "services": sorted(prov_services[name]),
            "environments": sorted(prov_envs[name]),
            "prod": bool(prov_prod[name]),
            "prod_services": sorted(prov_prod[name]),
        }
        for name, (prov, view_env) in sorted(_as_prod_sees_them(cat, prov_prod_envs).items())
    }
    return {
        "catalog": cat.model_dump(mode="json"),
        "prod_environments": sorted(e for e in cat.environments if is_prod(e)),
        "views": {env: environment_view(cat, env).model_dump(
                      mode="json", include={"providers", "models", "services"})
                  for env in sorted(cat.environments) if environment_view(cat, env) is not cat},
        "deployments": deps,
        "limit_apis": {name: {"what": api.what, "fields": list(api.fields)}
                       for name, api in sorted(LIMIT_APIS.items())},
        "providers": providers,
        "services": services,
    }
