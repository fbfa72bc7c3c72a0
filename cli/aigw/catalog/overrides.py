"""Per-environment overrides: `environments.<e>.overrides.{providers,models,services}`.

One merge rule (docs/catalog.md, "Per-environment overrides"), applied to the raw
YAML mappings before the entry models validate them: **maps merge, lists replace,
`null` removes**. So any field an entry model has becomes overridable by naming it
in `OVERRIDABLE`, with no new code: its value merges, validates and is located
like every other.

An environment's *merged view* is a `Catalog` whose entries are the base entries
with that environment's overrides applied; everything derived per environment
(`catalog.view.deployment`, the stack spec, render, the Rego input) reads it
through `environment_view`. An environment without overrides sees the catalog
itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from aigw.catalog.checks import Locator, schema_problems, semantic_problems
from aigw.catalog.loader import Mark, PathKey, Problem, dotted
from aigw.catalog.models import Catalog, ModelAlias, Provider, Service
from aigw.catalog.salvage import salvage
from aigw.errors import CatalogError

# The one allow-list: which fields of each kind of entry an environment may override.
# A field another part adds (say `services.<s>.budget`) becomes overridable by adding
# its name here; the merge rule, the checks and the locations need nothing more.
OVERRIDABLE: dict[str, tuple[str, ...]] = {
    "providers": ("base_url", "extra", "slots", "rotation"),
    "models": ("routes", "eval"),
    "services": ("keys", "models", "regions", "outputs", "defaults", "key_dir", "kubernetes",
                 "budget", "limits", "workspace"),
}

ENTRY_MODELS: dict[str, type[BaseModel]] = {
    "providers": Provider, "models": ModelAlias, "services": Service,
}

_KIND = {"providers": "provider", "models": "model alias", "services": "service"}


def merge_values(base: Any, over: Any) -> Any:
    """The merge rule: maps merge key by key, lists (and scalars) replace, `None` removes."""
    if isinstance(over, dict):
        out = dict(base) if isinstance(base, dict) else {}
        for key, value in over.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge_values(out.get(key), value)
        return out
    return over


class OverrideLocator(Locator):
    """Locates a merged-view path at the override that decided it, else at the base entry.

    A path is the override's when it reaches a field the override names (a replaced
    list, a scalar, a removal, or a map key it sets): `providers.x.base_url` of prod's
    view is at `environments.prod.overrides.providers.x.base_url`.
    """

    def __init__(self, base: Locator, overrides: Mapping[str, Any], prefix: PathKey) -> None:
        super().__init__(base.marks, base.default)
        self.overrides = overrides
        self.prefix = prefix

    def covers(self, path: PathKey) -> bool:
        node: Any = self.overrides
        for depth, part in enumerate(path):
            if not isinstance(node, dict):
                return depth >= 3  # inside a value the override replaced
            if part not in node:
                return False
            node = node[part]
        return len(path) >= 3

    def __call__(self, path: PathKey) -> Mark:
        if self.covers(path):
            return super().__call__((*self.prefix, *path))
        return super().__call__(path)

    def key(self, path: PathKey) -> str:
        return dotted((*self.prefix, *path) if self.covers(path) else path)


def _entry_problems(env_name: str, cat: Catalog, raw_names: Mapping[str, set[str]],
                    locate: Locator) -> tuple[list[tuple[str, str, dict[str, Any]]], list[Problem]]:
    """The overrides an environment may apply, and a problem for each it may not."""
    prefix: PathKey = ("environments", env_name, "overrides")
    usable: list[tuple[str, str, dict[str, Any]]] = []
    problems: list[Problem] = []
    for section, name, raw in cat.environments[env_name].overrides.entries():
        where = (*prefix, section, name)
        if name not in raw_names.get(section, set()):
            close = difflib.get_close_matches(name, sorted(raw_names.get(section, set())), n=1)
            problems.append(locate.problem(
                where, f"unknown {_KIND[section]} '{name}'",
                (f"did you mean '{close[0]}'? " if close else "")
                + f"(an override changes an entry of `{section}:`, it cannot add one)"))
            continue
        svc = cat.services.get(name) if section == "services" else None
        if svc is not None and env_name not in svc.environments:
            problems.append(locate.problem(
                where, f"service '{name}' does not run in '{env_name}'",
                f"add '{env_name}' to services.{name}.environments, or remove this override"))
            continue
        allowed = OVERRIDABLE[section]
        kept = {}
        for field, value in raw.items():
            if field in allowed:
                kept[field] = value
                continue
            known = field in ENTRY_MODELS[section].model_fields
            problems.append(locate.problem(
                (*where, field),
                f"`{field}` cannot differ between environments" if known else "unknown field",
                f"overridable fields of a {_KIND[section]}: {', '.join(allowed)}"
                + (f"; change {section}.{name}.{field} itself" if known else "")))
        usable.append((section, name, kept))
    return usable, problems


def merged_view(cat: Catalog, env_name: str,
                entries: list[tuple[str, str, dict[str, Any]]],
                base_raw: Callable[[str, str], Any],
                locate: Locator | None = None) -> tuple[Catalog, list[Problem]]:
    """CAT with ENTRIES (section, name, override) merged over BASE_RAW's entries and validated.

    Schema problems are located with LOCATE (an `OverrideLocator`); an entry that
    fails keeps what `salvage` can keep, so the cross-checks still run over it.
    """
    sections: dict[str, dict[str, Any]] = {s: dict(getattr(cat, s)) for s in ENTRY_MODELS}
    problems: list[Problem] = []
    for section, name, over in entries:
        base = base_raw(section, name)
        if not isinstance(base, dict):  # a broken base entry: its own problem says so
            continue
        raw = merge_values(base, over)
        model = ENTRY_MODELS[section]
        try:
            sections[section][name] = model.model_validate(raw)
        except ValidationError as exc:
            if locate is None:
                raise
            problems += schema_problems(exc, locate, prefix=(section, name))
            kept = salvage(model, raw)
            if kept is not None:
                sections[section][name] = kept
    view = Catalog.model_construct(None, version=cat.version, environments=cat.environments,
                                   ci=cat.ci, **sections)
    view.make_view_of(cat)
    return view, problems


def check_environment_views(cat: Catalog, merged: Mapping[str, Any], locate: Locator,
                            raw_names: Mapping[str, set[str]], broken: set[str],
                            reported: list[Problem]) -> tuple[dict[str, Catalog], list[Problem]]:
    """Validate each environment's merged view (what `aigw validate` promises).

    A problem only the merged view has is reported once per environment: at the
    override when the override decided it, else at the base entry, its message
    naming the environment. Problems the base catalog already has are not repeated.
    """
    seen = {(p.mark, p.key, p.message) for p in reported}
    views: dict[str, Catalog] = {}
    problems: list[Problem] = []
    for env_name in sorted(cat.environments):
        overrides = cat.environments[env_name].overrides
        if not any(True for _ in overrides.entries()):
            continue
        entries, found = _entry_problems(env_name, cat, raw_names, locate)
        prefix: PathKey = ("environments", env_name, "overrides")
        view_locate = OverrideLocator(locate, overrides.model_dump(), prefix)
        view, schema = merged_view(cat, env_name, entries,
                                   lambda s, n: merged.get(s, {}).get(n), view_locate)
        found += schema
        keys = {p.key for p in schema}
        found += [p for p in semantic_problems(view, view_locate, dict(raw_names), broken,
                                                 [env_name])
                  if not any(p.key == k or p.key.startswith((f"{k}.", f"{k}[")) for k in keys)]
        for p in found:
            if (p.mark, p.key, p.message) in seen:
                continue
            seen.add((p.mark, p.key, p.message))
            if not p.key.startswith(dotted(prefix)):
                p.message += f" (in environment '{env_name}', with its overrides)"
            problems.append(p)
        views[env_name] = view
    return views, problems


def environment_view(cat: Catalog, env_name: str) -> Catalog:
    """The catalog as environment ENV_NAME sees it: its overrides merged in (cached).

    `load_catalog` fills the cache from the YAML; a catalog built otherwise merges
    its entries' set fields here, by the same rule.
    """
    cat = cat.base_catalog()  # another environment's view: merge over the catalog itself
    cache = cat.view_cache()
    view = cache.get(env_name)
    if view is not None:
        return view
    environment = cat.environments.get(env_name)
    entries = list(environment.overrides.entries()) if environment is not None else []
    if not entries:
        cache[env_name] = cat
        return cat
    try:
        view, _ = merged_view(cat, env_name, entries, lambda s, n: getattr(cat, s)[n].model_dump(
            exclude_unset=True))
    except (ValidationError, KeyError) as exc:
        where = Mark("(catalog)", 1, 1)
        raise CatalogError([Problem(where, f"environments.{env_name}.overrides",
                                    f"the overrides do not apply: {exc}",
                                    "run `aigw validate`")]) from None
    cache[env_name] = view
    return view
