"""The results file of `aigw eval`: where it is, reading it back, what Rego sees of it.

`aigw eval` writes `<catalog>/.aigw/eval-results.json` (or `--out FILE`); `aigw
diff --format markdown` shows its tables and `aigw policy check` (and validate,
and diff's verdicts) give its scores to the rules as `input.evals`. Only
results that still describe the catalog count: an alias whose head routes in the
file differ from the catalog's routes now is left out (run `aigw eval` again).
This module imports nothing that runs evals, so governance can read results
without the client, the SDKs or git.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aigw.catalog.models import Catalog

RESULTS_FILE = Path(".aigw") / "eval-results.json"
SCHEMA = "aigw/eval/v1"


def results_path(catalog_dir: Path) -> Path:
    """The default results file of the catalog in CATALOG_DIR."""
    return catalog_dir / RESULTS_FILE


def route_labels(cat: Catalog, alias: str) -> list[str]:
    """`provider/model` of each route of ALIAS, in order (weights appended when set)."""
    model = cat.models.get(alias)
    if model is None:
        return []
    return [f"{r.provider}/{r.model}" + (f"@{r.weight}" if r.weight is not None else "")
            for r in model.routes]


def read_results(path: Path) -> dict[str, Any] | None:
    """The results document at PATH; None when absent or not an eval results file."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return None
    if not isinstance(doc.get("aliases"), list):
        return None
    return doc


def current_aliases(doc: dict[str, Any], cat: Catalog) -> list[dict[str, Any]]:
    """The aliases of DOC whose head routes are still the catalog's routes."""
    return [a for a in doc["aliases"] if isinstance(a, dict)
            and a.get("routes", {}).get("head") == route_labels(cat, str(a.get("alias")))]


def policy_evals(catalog_dir: Path | None, cat: Catalog) -> dict[str, Any] | None:
    """`input.evals` of the rules: per alias, base and head scores, floor and margin."""
    if catalog_dir is None:
        return None
    doc = read_results(results_path(catalog_dir))
    if doc is None:
        return None
    aliases = {}
    for a in current_aliases(doc, cat):
        aliases[a["alias"]] = {
            "set": a["set"], "floor": a["floor"], "max_drop": a["max_drop"],
            "base": {"score": a["base"]["score"]} if a.get("base") else None,
            "head": {"score": a["head"]["score"], "failures": a["head"]["failures"],
                     "cases": a["head"]["cases"]},
        }
    return {"base": doc.get("base"), "aliases": aliases}
