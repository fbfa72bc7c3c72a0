"""Rate limits as code: `services.<s>.limits`, enforced by the provider (docs/limits.md).

A service declares requests and tokens per minute (and per day where the
provider has it) per alias it calls, or per `<provider>/<model>`::

    services:
      support-bot:
        workspace: wrkspc_01AbC...        # Anthropic: the workspace its key belongs to
        limits:
          chat-default: {rpm: 500, tpm: 200000}     # every route of the alias
          openai/gpt-4o-mini: {rpm: 60, rpd: 10000} # one model at one provider

A per-model entry wins over an alias entry for the same route. Limits are
overridable per environment (`environments.<e>.overrides.services.<s>.limits`:
maps merge, `null` removes). `aigw plan`/`apply` converge them at the provider
(aigw.stack.limits). This module holds the one table of what each provider's
limit API offers (`LIMIT_APIS`) and the checks `aigw validate` runs.

Which providers have a limit API: OpenAI (project rate limits per model, through
the `openai-admin` driver's admin key and project) and Anthropic (workspace
rate-limit overrides, api `anthropic`). Every other provider (DeepSeek,
Volcengine Ark, Bailian, Bedrock...) has none: a `<provider>/<model>` limit there
is an error (it could not be enforced), an alias limit skips such routes and
`aigw plan` says "no provider limit API" for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aigw.envvars import ANTHROPIC_ADMIN_KEY, OPENAI_ADMIN_KEY
from aigw.names import access_name

OPENAI_DRIVER = "openai-admin"
PER_SERVICE = "per-service"  # rotation.params.projects of openai-admin
PROJECTS_VALUES = ("single", PER_SERVICE)
DEFAULT_OPENAI_ADMIN = "https://api.openai.com/v1"
DEFAULT_ANTHROPIC_ADMIN = "https://api.anthropic.com"


class Limit(BaseModel):
    """One limit entry: whole numbers >= 1, each optional."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    rpm: int | None = Field(default=None, ge=1, strict=True)  # requests per minute
    tpm: int | None = Field(default=None, ge=1, strict=True)  # tokens per minute
    rpd: int | None = Field(default=None, ge=1, strict=True)  # requests per day
    input_tpm: int | None = Field(default=None, ge=1, strict=True)  # input tokens per minute
    output_tpm: int | None = Field(default=None, ge=1, strict=True)  # output tokens per minute

    def given(self) -> dict[str, int]:
        """The fields set (aigw's names -> value)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


@dataclass(frozen=True)
class LimitApi:
    """What one provider's limit API offers: aigw's field -> the API's own field."""

    name: str  # "openai" or "anthropic"
    fields: Mapping[str, str]
    what: str  # for messages and docs


LIMIT_APIS: dict[str, LimitApi] = {a.name: a for a in (
    # POST /v1/organization/projects/{id}/rate_limits/{rate_limit_id}
    LimitApi("openai", {"rpm": "max_requests_per_1_minute", "tpm": "max_tokens_per_1_minute",
                        "rpd": "max_requests_per_1_day"}, "OpenAI project rate limits"),
    # POST /v1/organizations/workspaces/{id}/rate_limits/{rate_limit_id}; the cache-aware
    # input limiter is the one organizations usually have (cache reads do not count).
    LimitApi("anthropic", {"rpm": "requests_per_minute",
                           "input_tpm": "input_tokens_per_minute_cache_aware",
                           "output_tpm": "output_tokens_per_minute"},
             "Anthropic workspace rate limits"),
)}


def limit_api(prov: Any) -> LimitApi | None:
    """The limit API of catalog provider PROV, or None (no provider limit API)."""
    if prov.rotation.driver == OPENAI_DRIVER:
        return LIMIT_APIS["openai"]
    if prov.api == "anthropic":
        return LIMIT_APIS["anthropic"]
    return None


def admin_settings(prov: Any) -> tuple[str, str]:
    """(admin API base URL, the NAME of the variable holding the admin key) of PROV."""
    params = prov.rotation.params or {}
    if prov.rotation.driver == OPENAI_DRIVER:
        return (str(params.get("admin_base_url") or DEFAULT_OPENAI_ADMIN).rstrip("/"),
                str(params.get("admin_key_env") or OPENAI_ADMIN_KEY))
    return (str(params.get("admin_base_url") or prov.base_url or DEFAULT_ANTHROPIC_ADMIN)
            .rstrip("/"), str(params.get("admin_key_env") or ANTHROPIC_ADMIN_KEY))


def per_service_projects(prov: Any) -> bool:
    """Whether the openai-admin driver makes one project per service (`projects: per-service`)."""
    return (prov.rotation.driver == OPENAI_DRIVER
            and (prov.rotation.params or {}).get("projects") == PER_SERVICE)


def service_project_name(env_name: str, service: str) -> str:
    """The name of a service's own OpenAI project (`projects: per-service`)."""
    return access_name(env_name, service)


def openai_project(prov: Any, env_name: str, service: str, svc: Any) -> tuple[str, str]:
    """Where a service's keys of PROV live: ("name", project name) for a per-service
    project aigw creates, else ("id", the driver's `project_id`)."""
    if per_service_projects(prov) and svc.keys == "per-service":
        return "name", service_project_name(env_name, service)
    return "id", str((prov.rotation.params or {}).get("project_id") or "")


def find_project(call: Callable[..., Any], name: str, *, create: bool) -> str | None:
    """The id of the unarchived OpenAI project NAME, created when missing and CREATE.

    CALL(method, path, params=/json=) is the caller's admin API call (the openai-admin
    driver's, or the limit resource's): one lookup rule for both.
    """
    after: str | None = None
    while True:
        page = call("GET", "/organization/projects",
                    params={"limit": 100, **({"after": after} if after else {})})
        data = page.get("data") or []
        hit = next((p for p in data if p.get("name") == name and not p.get("archived_at")),
                   None)
        if hit is not None:
            return str(hit["id"])
        if not page.get("has_more") or not data:
            break
        after = page.get("last_id") or data[-1].get("id")
    if not create:
        return None
    return str(call("POST", "/organization/projects", json={"name": name})["id"])


@dataclass(frozen=True)
class Target:
    """One model at one provider that a service's limit entry reaches."""

    key: str  # the entry's key under `limits:` (alias or provider/model)
    provider: str
    model: str
    limit: Limit


def targets(cat: Any, service: str) -> Iterator[Target]:
    """Each (provider, model) the service's limits reach: alias entries first, then
    `<provider>/<model>` entries (which win for the same route)."""
    svc = cat.services[service]
    for key, limit in (svc.limits or {}).items():
        if "/" in key or key not in cat.models or limit is None:
            continue
        seen = set()
        for route in cat.models[key].routes:
            if route is not None and (route.provider, route.model) not in seen:
                seen.add((route.provider, route.model))
                yield Target(key, route.provider, route.model, limit)
    for key, limit in (svc.limits or {}).items():
        if "/" in key and limit is not None:
            provider, _, model = key.partition("/")
            yield Target(key, provider, model, limit)


def limit_problems(cat: Any, bad: Callable[..., None]) -> None:
    """The checks of `limits:` and `workspace:` (BAD(path, message, hint) reports one)."""
    for pname, prov in cat.providers.items():
        projects = (prov.rotation.params or {}).get("projects")
        if prov.rotation.driver == OPENAI_DRIVER and projects not in (None, *PROJECTS_VALUES):
            bad(("providers", pname, "rotation", "params", "projects"),
                f"projects must be one of {', '.join(PROJECTS_VALUES)}, got {projects!r}",
                "per-service: one OpenAI project per service (docs/rotation.md)")
    for sname in sorted(cat.services):
        _service_problems(cat, sname, bad)


def _service_problems(cat: Any, sname: str, bad: Callable[..., None]) -> None:
    svc = cat.services[sname]
    base = ("services", sname, "limits")
    used = [a for a in svc.models if a is not None]
    routes = {(r.provider, r.model) for a in used if a in cat.models
              for r in cat.models[a].routes if r is not None}
    for key, limit in (svc.limits or {}).items():
        if limit is None:
            continue
        if not limit.given():
            bad((*base, key), "a limit entry sets nothing",
                "set rpm, tpm, rpd, input_tpm or output_tpm, or remove the entry")
        if "/" not in key:
            if key not in used:
                bad((*base, key), f"'{key}' is not an alias the service calls",
                    f"limit one of its aliases ({', '.join(used) or 'none'}) or a "
                    "<provider>/<model> it calls")
            continue
        provider, _, model = key.partition("/")
        prov = cat.providers.get(provider)
        if prov is None:
            bad((*base, key), f"unknown provider '{provider}'",
                "write <provider>/<model> with a provider of the catalog")
        elif (provider, model) not in routes:
            bad((*base, key), f"the service does not call model '{model}' at '{provider}'",
                "limit a model one of its aliases routes to")
        elif limit_api(prov) is None:
            bad((*base, key), f"provider '{provider}' has no rate-limit API aigw can set",
                "aigw enforces limits at OpenAI (openai-admin driver) and Anthropic; see "
                "docs/limits.md for the others")
    for t in targets(cat, sname):
        prov = cat.providers.get(t.provider)
        api = limit_api(prov) if prov is not None else None
        if api is None:
            continue
        extra = sorted(set(t.limit.given()) - set(api.fields))
        if extra:
            bad((*base, t.key, extra[0]),
                f"{api.what} have no `{extra[0]}` (route {t.provider}/{t.model})",
                f"{t.provider} limits: {', '.join(api.fields)}")
        if api.name == "anthropic" and not svc.workspace:
            bad((*base, t.key), f"limits at '{t.provider}' need the service's `workspace`",
                "add `workspace: wrkspc_...`: the Anthropic workspace the service's key "
                "belongs to")


def shared_scope_conflicts(cat: Any, env_name: str, bad: Callable[..., None]) -> None:
    """Two services of ENV_NAME setting one provider limit (a shared OpenAI project, or
    one Anthropic workspace) to different values: reported at the later service."""
    first: dict[tuple[str, str, str], tuple[str, dict[str, int]]] = {}
    for sname in sorted(cat.services):
        svc = cat.services[sname]
        if env_name not in svc.environments:
            continue
        for scope, t, values in resolved(cat, env_name, sname):
            if scope[0] == "name":
                continue  # a per-service project: its own
            at = (t.provider, scope[1], t.model)
            if at in first and first[at][1] != values:
                bad(("services", sname, "limits", t.key),
                    f"service '{first[at][0]}' sets other limits for {t.provider}/{t.model} "
                    f"in the same {'workspace' if scope[0] == 'workspace' else 'project'} "
                    f"'{scope[1]}' ({env_name})",
                    "provider limits apply per project/workspace: give both the same "
                    "values, or use `projects: per-service` (docs/limits.md)")
            first.setdefault(at, (sname, values))


def resolved(cat: Any, env_name: str, sname: str
             ) -> Iterator[tuple[tuple[str, str], Target, dict[str, int]]]:
    """((scope kind, scope), target, values) of every enforceable target of a service,
    model entries winning over alias entries; values use aigw's field names."""
    svc = cat.services[sname]
    merged: dict[tuple[str, str], Target] = {}
    for t in targets(cat, sname):
        merged[(t.provider, t.model)] = t  # a later (per-model) entry wins
    for (provider, _model), t in sorted(merged.items()):
        prov = cat.providers.get(provider)
        api = limit_api(prov) if prov is not None else None
        if api is None:
            continue
        values = {k: v for k, v in t.limit.given().items() if k in api.fields}
        if not values:
            continue
        if api.name == "openai":
            yield openai_project(prov, env_name, sname, svc), t, values
        else:
            yield ("workspace", str(svc.workspace or "")), t, values


def unenforced(cat: Any, sname: str) -> list[Target]:
    """The routes an alias limit reaches at providers with no limit API."""
    out = []
    for t in targets(cat, sname):
        prov = cat.providers.get(t.provider)
        if prov is not None and limit_api(prov) is None and "/" not in t.key:
            out.append(t)
    return out


__all__ = ["LIMIT_APIS", "Limit", "LimitApi", "admin_settings", "limit_api", "limit_problems",
           "find_project", "openai_project", "resolved", "service_project_name", "shared_scope_conflicts",
           "targets", "unenforced"]
