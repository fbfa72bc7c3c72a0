"""Provider rate limits in the stack: the pure half (what each environment's stack declares).

`limit_specs(cat, env)` turns the services' `limits:` (aigw.catalog.limits) into one
`LimitSpec` per model and project/workspace, which the program declares as a
`ProviderLimit` resource (aigw.stack.limit_providers does the HTTP):

- OpenAI: a project's rate limit for a model, listed and updated through the admin
  API; the resource records the value before aigw changed it and deleting it
  restores that value (OpenAI limits cannot be deleted).
- Anthropic: a workspace's override for the rate-limit group holding a model, set
  and cleared through the Admin API; changes take effect within about an hour.

`limit_notes` lists the routes an alias limit reaches at providers with no limit
API ("no provider limit API"), which `aigw plan` prints. No admin key is ever a
spec field or a resource input: only the NAME of the variable that holds it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from aigw.catalog import Catalog, environment_view
from aigw.catalog.limits import LIMIT_APIS, admin_settings, resolved, unenforced
from aigw.errors import UsageError

# What plan says of Anthropic limits (docs/limits.md).
ANTHROPIC_DELAY = "Anthropic applies workspace limit changes within about an hour"


@dataclass(frozen=True)
class LimitSpec:
    """One provider-side limit: a model's limits in one project or workspace."""

    api: str  # "openai" or "anthropic" (aigw.catalog.limits.LIMIT_APIS)
    provider: str  # the catalog's provider name
    scope_kind: str  # "id" (OpenAI project id), "name" (a project aigw creates), "workspace"
    scope: str
    model: str
    values: Mapping[str, int]  # the API's own field names -> value
    services: tuple[str, ...]
    admin_base_url: str
    admin_key_env: str  # the NAME of the variable holding the admin key

    @property
    def resource_name(self) -> str:
        """The logical name (URN part): `limit.<provider>.<scope>.<model>`."""
        return f"limit.{self.provider}.{self.scope}.{self.model}"

    def props(self) -> dict[str, object]:
        """The resource's inputs (no credential among them)."""
        return {"api": self.api, "provider": self.provider, "scope_kind": self.scope_kind,
                "scope": self.scope, "model": self.model, "values": dict(self.values),
                "services": list(self.services), "admin_base_url": self.admin_base_url,
                "admin_key_env": self.admin_key_env}


def limit_specs(cat: Catalog, env_name: str) -> tuple[LimitSpec, ...]:
    """Every provider limit environment ENV_NAME declares, sorted by resource name.

    Services sharing one project or workspace with equal values share one spec
    (`aigw validate` refuses different values there).
    """
    view = environment_view(cat, env_name)
    found: dict[str, LimitSpec] = {}
    for sname in sorted(view.services):
        if env_name not in view.services[sname].environments:
            continue
        for (kind, scope), target, values in resolved(view, env_name, sname):
            prov = view.providers[target.provider]
            api = LIMIT_APIS["openai" if kind in ("id", "name") else "anthropic"]
            base, key_env = admin_settings(prov)
            spec = LimitSpec(api=api.name, provider=target.provider, scope_kind=kind,
                             scope=scope, model=target.model,
                             values={api.fields[k]: v for k, v in sorted(values.items())},
                             services=(sname,), admin_base_url=base, admin_key_env=key_env)
            prior = found.get(spec.resource_name)
            if prior is not None:
                spec = replace(prior, services=(*prior.services, sname))
            found[spec.resource_name] = spec
    return tuple(found[k] for k in sorted(found))


def limit_notes(cat: Catalog, env_name: str) -> tuple[str, ...]:
    """One line per alias limit route at a provider with no limit API."""
    view = environment_view(cat, env_name)
    lines = []
    for sname in sorted(view.services):
        if env_name not in view.services[sname].environments:
            continue
        for t in unenforced(view, sname):
            lines.append(f"limits of {sname} ({t.key}) at {t.provider}/{t.model}: no provider "
                         "limit API (not enforced there; docs/limits.md)")
    return tuple(lines)


def check_admin_keys(limits: tuple[LimitSpec, ...], env: Mapping[str, str] | None = None) -> None:
    """Refuse (exit 2) before the engine starts when an admin key a limit needs is unset."""
    env = os.environ if env is None else env
    for spec in limits:
        if not env.get(spec.admin_key_env):
            raise UsageError(f"limits at {spec.provider} need ${spec.admin_key_env} (an admin "
                             f"key of {spec.provider}) in the environment",
                             hint="set it (never on the command line), or remove the limits")


def plan_lines(notes: tuple[str, ...], changes: Sequence[object]) -> list[str]:
    """What plan and apply add about limits: routes no limit API covers, and, when an
    Anthropic limit changes, that Anthropic takes about an hour to apply it."""
    lines = list(notes)
    for change in changes:
        props = getattr(change, "new", None) or getattr(change, "old", None) or {}
        if getattr(change, "kind", "") == "limit" and props.get("api") == "anthropic":
            lines.append(ANTHROPIC_DELAY)
            break
    return lines
