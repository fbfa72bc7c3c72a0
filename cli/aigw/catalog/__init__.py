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
from aigw.catalog.salvage import salvage
from aigw.errors import CatalogError

__all__ = ["Catalog", "LoadedCatalog", "Problem", "load_catalog"]


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
    if problems:
        raise CatalogError(sorted(problems, key=lambda p: (p.mark.file, p.mark.line, p.mark.column)))
    return LoadedCatalog(catalog, files, marks)
