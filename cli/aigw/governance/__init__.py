"""Governance as code: Rego rules evaluated by OPA over the compiled catalog.

`check_policies(loaded)` is what `aigw policy check` (and `aigw validate`) call:
it loads aigw's default rules plus the `policies/` folder beside the catalog,
evaluates them over `policy_input(catalog)`, locates each finding at the
catalog's file:line, and applies `policies/waivers.yaml`. See docs/governance.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from aigw.catalog import LoadedCatalog
from aigw.evals.results import policy_evals
from aigw.governance.engine import evaluate, rego_files, run_tests
from aigw.governance.findings import Finding, PolicyError, counts, sort_findings
from aigw.governance.inputs import is_prod, policy_input
from aigw.governance.waivers import WAIVERS_FILE, Waiver, apply_waivers, load_waivers
from aigw.package_data import policies_dir

__all__ = [
    "Finding",
    "PolicyError",
    "PolicyReport",
    "Waiver",
    "catalog_root",
    "check_policies",
    "counts",
    "evaluate_policies",
    "is_prod",
    "policy_dirs",
    "policy_input",
    "test_policies",
]


@dataclass
class PolicyReport:
    """Every finding (waived ones included), and which rules ran."""

    findings: list[Finding] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        """Unwaived denies."""
        return [f for f in self.findings if f.blocking]

    @property
    def active(self) -> list[Finding]:
        """Findings not silenced by a waiver."""
        return [f for f in self.findings if f.waived is None]


def catalog_root(loaded: LoadedCatalog) -> Path:
    """The folder a catalog lives in (where its `policies/` folder is looked for)."""
    first = Path(loaded.files[0])
    if first.name not in ("aigw.yaml", "aigw.yml") and first.parent.name == "catalog":
        return first.parent.parent  # a folder with catalog/*.yaml and no aigw.yaml
    return first.parent


def policy_dirs(root: Path | None) -> list[Path]:
    """aigw's default rules, then the catalog's own `policies/` folder (when present)."""
    dirs = [policies_dir()]
    if root is not None and (root / "policies").is_dir():
        dirs.append(root / "policies")
    return dirs


def evaluate_policies(loaded: LoadedCatalog, *, root: Path | None = None,
                      today: dt.date | None = None) -> PolicyReport:
    """Evaluate every rule over LOADED; locate findings; apply the waivers beside it."""
    root = catalog_root(loaded) if root is None else root
    files = rego_files(policy_dirs(root))
    document = policy_input(loaded.catalog)
    document["evals"] = policy_evals(root, loaded.catalog)  # `aigw eval`'s results, or null
    result = evaluate(document, files)
    findings = [
        Finding(r.rule, r.severity, r.message, r.path, r.service, r.provider,
                loaded.locate(r.path))
        for r in result.findings
    ]
    waivers: list[Waiver] = load_waivers(root / WAIVERS_FILE, _shown(root / WAIVERS_FILE))
    findings = apply_waivers(findings, waivers, result.rules, today)
    return PolicyReport(sort_findings(findings), result.rules, files)


def check_policies(loaded: LoadedCatalog, *, root: Path | None = None,
                   include_waived: bool = False) -> list[Finding]:
    """The governance findings of LOADED (without waived ones unless INCLUDE_WAIVED).

    A finding with `.blocking` (an unwaived deny) should fail the check. Raises
    ToolMissing when OPA is not installed, PolicyError when a rule or the
    waivers file is broken.
    """
    report = evaluate_policies(loaded, root=root)
    return report.findings if include_waived else report.active


def test_policies(root: Path | None, *, verbose: bool = False) -> tuple[int, str]:
    """Run the rules' own Rego unit tests (`opa test`): (exit code, output)."""
    return run_tests(rego_files(policy_dirs(root), tests=True), verbose=verbose)


test_policies.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
