"""`aigw eval`: each changed alias's eval set, the base's routes against the head's.

Which aliases: those given with `--alias`, else every alias with an `eval:`
binding whose routes differ between the catalog at the base revision and the
working tree (added aliases included). The eval set is always the head's, so
both sides answer the same cases and are graded the same way.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from aigw.catalog import LoadedCatalog, Problem, load_catalog
from aigw.catalog.models import Catalog
from aigw.catalog.view import check_scope, did_you_mean
from aigw.errors import CatalogError, UsageError
from aigw.evals.cache import CACHE_DIR, AnswerCache
from aigw.evals.keyfolder import key_folder
from aigw.evals.loader import EvalFileError, EvalSet, eval_set_path, load_eval_set
from aigw.evals.report import SIDES, case_rows, side_summary, verdict
from aigw.evals.results import SCHEMA, route_labels
from aigw.evals.runner import Caller, Job, Progress, client_for, eval_routes, run_jobs
from aigw.fsutil import atomic_write
from aigw.git import Base, export_catalog, repo_root, resolve_base

DEFAULT_CONCURRENCY = 4  # promptfoo's default maxConcurrency


@dataclass(frozen=True)
class EvalOptions:
    """What `aigw eval` was asked to do."""

    base_ref: str | None = None
    aliases: tuple[str, ...] = ()
    env: str | None = None
    keys_dir: Path | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    cache: bool = True


def _base_catalog(path: Path, ref: str | None, tmp: Path) -> tuple[Base, Catalog | None]:
    try:
        root = repo_root(path)
    except UsageError:
        if ref is not None:
            raise
        return Base("(no git repository)", None), None  # only --alias runs: head alone
    base = resolve_base(root, ref)
    rel = PurePosixPath(path.resolve().relative_to(root).as_posix())
    exported = export_catalog(root, base, rel, tmp)
    if exported is None:
        return base, None
    try:
        return base, load_catalog(exported).catalog
    except CatalogError:
        return base, None  # an invalid base compares as no base: every alias is new


def changed_aliases(base: Catalog | None, head: Catalog) -> list[str]:
    """Aliases with an eval binding whose routes differ from the base's (or are new)."""
    return [a for a, model in sorted(head.models.items()) if model.eval is not None
            and (base is None or route_labels(base, a) != route_labels(head, a)
                 or _routes_detail(base, a) != _routes_detail(head, a))]


def _routes_detail(cat: Catalog, alias: str) -> list[Any]:
    return [(r.provider, r.api, r.model, r.base_url, json.dumps(r.extra, sort_keys=True))
            for r in eval_routes(cat, alias)] if alias in cat.models else []


def _pick(head: Catalog, base: Catalog | None, wanted: tuple[str, ...]) -> list[str]:
    if not wanted:
        return changed_aliases(base, head)
    for alias in wanted:
        if alias not in head.models:
            raise UsageError(f"unknown alias '{alias}'", did_you_mean(alias, head.models))
        if head.models[alias].eval is None:
            raise UsageError(f"alias '{alias}' has no eval set",
                             hint=f"bind one: models.{alias}.eval: {{set: NAME}} "
                             "(evals/NAME.yaml)")
    return sorted(set(wanted))


def _load_sets(loaded: LoadedCatalog, folder: Path,
               aliases: list[str]) -> dict[str, EvalSet]:
    """Each alias's eval set, its llm-rubric judges resolved; every problem at once."""
    head = loaded.catalog
    problems: list[Problem] = []
    sets: dict[str, EvalSet] = {}
    for alias in aliases:
        binding = head.models[alias].eval
        assert binding is not None
        try:
            found = load_eval_set(eval_set_path(folder, binding.set), binding.set)
        except EvalFileError as exc:
            problems += exc.problems
            continue
        cases = []
        for case in found.cases:
            asserts = []
            for a in case.asserts:
                if a.type == "llm-rubric":
                    judge = a.provider or binding.judge
                    if judge is None or judge not in head.models:
                        what = (f"llm-rubric judge '{judge}' is not an alias of the catalog"
                                if judge else "llm-rubric has no judge alias")
                        problems.append(Problem(case.mark, f"{case.id}.assert", what,
                                                f"set `provider: <alias>` or models.{alias}."
                                                "eval.judge"))
                        continue
                    a = dataclasses.replace(a, provider=judge)
                asserts.append(a)
            cases.append(dataclasses.replace(case, asserts=tuple(asserts)))
        sets[alias] = dataclasses.replace(found, cases=cases)
    if problems:
        raise EvalFileError(problems)
    return sets


def _judges(sets: dict[str, EvalSet]) -> set[str]:
    return {a.provider for s in sets.values() for c in s.cases for a in c.asserts
            if a.type == "llm-rubric" and a.provider}


def run_evals(path: Path, options: EvalOptions, *, progress: Progress | None = None
              ) -> dict[str, Any]:
    """Evaluate the changed aliases; the results document (see report.py)."""
    loaded = load_catalog(path)
    head = loaded.catalog
    check_scope(head, options.env)
    folder = path if path.is_dir() else path.parent
    with tempfile.TemporaryDirectory(prefix="aigw-eval-") as tmp:
        base_info, base = _base_catalog(path, options.base_ref, Path(tmp))
    aliases = _pick(head, base, options.aliases)
    sets = _load_sets(loaded, folder, aliases)
    judges = _judges(sets)
    head_routes = {a: eval_routes(head, a) for a in sorted(set(aliases) | judges)}
    base_routes = {a: eval_routes(base, a) for a in aliases
                   if base is not None and a in base.models}
    providers = {r.provider for routes in [*head_routes.values(), *base_routes.values()]
                 for r in routes}
    cache = AnswerCache(folder / CACHE_DIR if options.cache else None)
    results: list[Any] = []
    calls = 0
    if aliases:
        with key_folder(head, providers, folder=options.keys_dir, env=options.env) as keys:
            clients = {"head": client_for(head_routes, keys)}
            if base_routes:
                clients["base"] = client_for(base_routes, keys)
            try:
                callers = {side: Caller(c, head_routes if side == "head" else base_routes,
                                        cache, head if side == "head" else base or head)
                           for side, c in clients.items()}
                # Sides interleaved case by case: warm-up and load fall on both alike.
                jobs = [Job(alias, side, case, callers[side])
                        for alias in aliases for case in sets[alias].cases for side in SIDES
                        if side in callers and alias in callers[side].routes]
                results = run_jobs(jobs, callers["head"], concurrency=options.concurrency,
                                   progress=progress)
                calls = sum(c.calls for c in callers.values())
            finally:
                for c in clients.values():
                    c.close()
    return _document(path, base_info, options, head, base, aliases, sets, results, calls,
                     cache.hits)


def _document(path: Path, base_info: Base, options: EvalOptions, head: Catalog,
              base: Catalog | None, aliases: list[str], sets: dict[str, EvalSet],
              results: list[Any], calls: int, hits: int) -> dict[str, Any]:
    out = []
    for alias in aliases:
        binding = head.models[alias].eval
        assert binding is not None
        mine = [r for r in results if r.alias == alias]
        by_side = {side: [r for r in mine if r.side == side] for side in SIDES}
        entry: dict[str, Any] = {
            "alias": alias, "set": binding.set, "judge": binding.judge,
            "floor": binding.floor, "max_drop": binding.max_drop,
            "files": sets[alias].files,
            "routes": {"base": route_labels(base, alias) if base is not None else [],
                       "head": route_labels(head, alias)},
            "base": side_summary(by_side["base"]) if by_side["base"] else None,
            "head": side_summary(by_side["head"]),
            "cases": case_rows(mine),
        }
        v = verdict(entry)
        entry["verdict"] = {"status": v.status, "text": v.text}
        out.append(entry)
    return {"schema": SCHEMA, "catalog": str(path),
            "base": {"ref": base_info.ref, "commit": base_info.commit},
            "environment": options.env, "concurrency": options.concurrency,
            "aliases": out, "calls": {"provider": calls, "cached": hits}}


def write_results(doc: dict[str, Any], path: Path) -> None:
    """The results file (the `--json` document, envelope included), written atomically."""
    body = {**doc, "ok": True, "exit_code": 0, "errors": []}
    atomic_write(path, (json.dumps(body, indent=2, sort_keys=True) + "\n").encode())
