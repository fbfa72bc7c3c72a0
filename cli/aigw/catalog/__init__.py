"""Load, validate and view the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aigw.catalog.checks import Locator, schema_problems, semantic_problems
from aigw.catalog.loader import Mark, PathKey, Problem, find_catalog_files, parse_file
from aigw.catalog.merge import merge_docs
from aigw.catalog.models import Catalog, CiSettings, Environment, ModelAlias, Provider, Service
from aigw.catalog.overrides import check_environment_views, environment_view
from aigw.catalog.salvage import salvage
from aigw.errors import CatalogError

__all__ = ["Catalog", "LoadedCatalog", "Problem", "environment_view", "load_catalog"]


@dataclass
class LoadedCatalog:
    """A valid catalog plus where it came from (for locating later findings)."""

    catalog: Catalog
    files: list[Path]
    marks: Mapping[PathKey, Mark]

    def locate(self, path: PathKey) -> Mark:
        """The file:line of a dotted path in the catalog."""
        return Locator(self.marks, Mark(str(self.files[0]), 1, 1))(path)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "environments": Environment,
    "providers": Provider,
    "models": ModelAlias,
    "services": Service,
}


def _validate_entries(merged: dict[str, Any], locate: Locator) -> tuple[Catalog, list[Problem]]:
    """Validate entry by entry so one bad entry does not hide the problems of the others."""
    problems: list[Problem] = []
    sections: dict[str, dict[str, Any]] = {}
    for section, model in _SECTION_MODELS.items():
        good = {}
        for name, raw in merged.get(section, {}).items():
            try:
                good[name] = model.model_validate(raw)
            except ValidationError as exc:
                problems += schema_problems(exc, locate, prefix=(section, name))
                kept = salvage(model, raw)  # so its references are checked in this run too
                if kept is not None:
                    good[name] = kept
        sections[section] = good
    try:
        Catalog.model_validate({"version": merged.get("version", 1)})
    except ValidationError as exc:
        problems += schema_problems(exc, locate)
    ci, found = _validate_ci(merged, sections.get("environments", {}), locate)
    return Catalog.model_construct(None, version=1, ci=ci, **sections), problems + found


# Environments named like this would share OpenBao names with the CI's own policies
# and roles (`aigw-ci-...`), so they are refused when `ci:` is set.
_CI_RESERVED = ("ci", "ci-")


def _validate_ci(merged: dict[str, Any], environments: Mapping[str, Any],
                 locate: Locator) -> tuple[CiSettings | None, list[Problem]]:
    """The `ci:` settings (docs/ci.md), and environment names they reserve."""
    raw = merged.get("ci")
    if raw is None:
        return None, []
    try:
        ci = CiSettings.model_validate(raw)
    except ValidationError as exc:
        return None, schema_problems(exc, locate, prefix=("ci",))
    problems = [locate.problem(("environments", name),
                               f"environment '{name}' clashes with the CI's OpenBao names "
                               "(aigw-ci-...)", "rename the environment")
                for name in sorted(environments)
                if name == _CI_RESERVED[0] or name.startswith(_CI_RESERVED[1])]
    return ci, problems


def _not_under(problems: list[Problem], schema_keys: set[str]) -> list[Problem]:
    """Drop semantic problems of a part whose schema problem is already reported.

    (A salvaged `routes: 3` is an empty list: "alias has no routes" would say it twice.)
    """
    def under(key: str) -> bool:
        return any(key == k or key.startswith((f"{k}.", f"{k}[")) for k in schema_keys)

    return [p for p in problems if not under(p.key)]


def _raw_names(merged: dict[str, Any]) -> dict[str, set[str]]:
    return {section: set(merged.get(section, {})) for section in _SECTION_MODELS}


def load_catalog(path: Path | str) -> LoadedCatalog:
    """Parse, merge, schema-check and cross-check the catalog at PATH.

    Raises CatalogError carrying every problem found (not only the first).
    """
    path = Path(path)
    files = find_catalog_files(path)
    if not files:
        where = Mark(_shown(path), 1, 1)
        what = "no such file or folder" if not path.exists() else "no catalog files found"
        raise CatalogError([Problem(where, "(file)", what,
                                    "pass aigw.yaml, or a folder holding aigw.yaml or catalog/*.yaml")])
    docs = []
    problems: list[Problem] = []
    for f in files:
        doc, found = parse_file(f, _shown(f))
        problems += found
        if doc is not None:
            docs.append(doc)
    merged, marks, found, broken = merge_docs(docs)
    problems += found
    locate = Locator(marks, Mark(_shown(files[0]), 1, 1))
    if problems and not docs:
        raise CatalogError(problems)
    catalog, found = _validate_entries(merged, locate)
    problems += found
    problems += _not_under(semantic_problems(catalog, locate, _raw_names(merged), broken),
                           {p.key for p in found})
    views, found = check_environment_views(catalog, merged, locate, _raw_names(merged), broken,
                                           problems)
    problems += found
    if problems:
        raise CatalogError(order_problems(problems))
    catalog.view_cache().update(views)
    return LoadedCatalog(catalog, files, marks)


def _parent(key: str) -> str:
    """`providers.deepseek.base-url` -> `providers.deepseek`; `a.routes[0]` -> `a`."""
    cut = max(key.rfind("."), key.rfind("["))
    return key[:cut] if cut > 0 else key


def order_problems(problems: list[Problem]) -> list[Problem]:
    """By file, line and column, except that a did-you-mean problem comes before the
    problems of the same entry that follow from it: the `base-url` typo (4:27) is
    printed before `base_url` missing (4:3), which fixing the typo also fixes."""
    ordered = sorted(problems, key=lambda p: (p.mark.file, p.mark.line, p.mark.column))
    placed: list[Problem] = []  # typos already moved stay in their order, first
    for typo in [p for p in ordered if (p.hint or "").startswith("did you mean")]:
        parent = _parent(typo.key)
        ordered.remove(typo)
        first = next((i for i, p in enumerate(ordered)
                      if not any(p is q for q in placed) and p.mark.file == typo.mark.file
                      and (p.key == parent or p.key.startswith((f"{parent}.", f"{parent}[")))
                      and (p.mark.line, p.mark.column) < (typo.mark.line, typo.mark.column)),
                     None)
        if first is None:  # nothing of its entry before it: it keeps its place
            first = next((i for i, p in enumerate(ordered)
                          if (p.mark.file, p.mark.line, p.mark.column)
                          > (typo.mark.file, typo.mark.line, typo.mark.column)), len(ordered))
        ordered.insert(first, typo)
        placed.append(typo)
    return ordered
