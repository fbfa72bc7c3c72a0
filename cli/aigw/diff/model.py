"""The diff report: what `aigw diff` found, independent of how it is printed."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from aigw.diff.effects import Effect, ServiceChange
from aigw.git import Base
from aigw.governance.findings import Finding, counts


@dataclass(frozen=True)
class FileChange:
    """One rendered file that differs: `added`, `removed` or `modified`, with a unified diff."""

    path: str
    status: str
    diff: str

    @property
    def service(self) -> str:
        """The service a rendered file belongs to (`<env>/<service>/...`)."""
        parts = self.path.split("/")
        return parts[1] if len(parts) > 1 else ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"path": self.path, "status": self.status, "diff": self.diff}


def file_changes(base: dict[str, bytes], head: dict[str, bytes]) -> list[FileChange]:
    """The rendered files that differ between two renders, sorted by path."""
    out = []
    for rel in sorted(set(base) | set(head)):
        old, new = base.get(rel), head.get(rel)
        if old == new:
            continue
        a = old.decode(errors="replace").splitlines(keepends=True) if old is not None else []
        b = new.decode(errors="replace").splitlines(keepends=True) if new is not None else []
        text = "".join(difflib.unified_diff(
            a, b, fromfile=f"a/{rel}" if old is not None else "/dev/null",
            tofile=f"b/{rel}" if new is not None else "/dev/null"))
        status = "added" if old is None else "removed" if new is None else "modified"
        out.append(FileChange(rel, status, text))
    return out


@dataclass
class PolicySection:
    """Governance verdicts on the new catalog; `new` marks those the change introduces."""

    available: bool
    reason: str | None = None
    findings: list[Finding] = field(default_factory=list)
    new: set[tuple[str, str, str, str | None, str | None]] = field(default_factory=set)
    resolved: list[Finding] = field(default_factory=list)

    def is_new(self, finding: Finding) -> bool:
        """True when FINDING is not reported for the base catalog."""
        return finding.identity in self.new

    @property
    def active(self) -> list[Finding]:
        """Findings not silenced by a waiver."""
        return [f for f in self.findings if f.waived is None]

    def for_service(self, service: str) -> list[Finding]:
        """The active findings naming SERVICE."""
        return [f for f in self.active if f.service == service]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"available": self.available, "reason": self.reason,
                "counts": counts(self.findings) if self.available else None,
                "findings": [{**f.as_dict(), "new": self.is_new(f)} for f in self.findings],
                "resolved": [f.as_dict() for f in self.resolved]}


@dataclass
class PlanSection:
    """The Vault/OpenBao plan from the stack preview, or why there is none."""

    available: bool
    reason: str | None = None
    stacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when some stack has pending changes."""
        return any(s["changed"] for s in self.stacks)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"available": self.available, "reason": self.reason, "stacks": self.stacks}


@dataclass
class ServiceReport:
    """One service: its catalog effects and its rendered-file changes."""

    change: ServiceChange
    files: list[FileChange] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The service's name."""
        return self.change.service

    @property
    def status(self) -> str:
        """added, removed, changed (catalog or rendered files) or unchanged."""
        if self.change.status == "unchanged" and self.files:
            return "changed"
        return self.change.status


@dataclass
class DiffReport:
    """Everything `aigw diff` says about one change."""

    base: Base
    catalog_path: str
    env: str | None
    services: list[ServiceReport]
    catalog: list[Effect]
    policy: PolicySection
    plan: PlanSection
    notes: list[str] = field(default_factory=list)
    # `aigw eval`'s results for this catalog (its aliases whose routes are still these), or None.
    evals: dict[str, Any] | None = None

    @property
    def changed_services(self) -> list[ServiceReport]:
        """Services the change touches."""
        return [s for s in self.services if s.status != "unchanged"]

    @property
    def files(self) -> list[FileChange]:
        """Every rendered file that differs."""
        return [f for s in self.services for f in s.files]

    def as_dict(self) -> dict[str, Any]:
        """The JSON document of `aigw diff --format json`."""
        return {
            "base": {"ref": self.base.ref, "commit": self.base.commit},
            "head": "working tree",
            "catalog": self.catalog_path,
            "env": self.env,
            "notes": self.notes,
            "summary": {
                "services_changed": len(self.changed_services),
                "files_changed": len(self.files),
                "policy": counts(self.policy.findings) if self.policy.available else None,
                "vault_changes": self.plan.changed if self.plan.available else None,
            },
            "catalog_changes": [e.as_dict() for e in self.catalog],
            "services": {
                s.name: {"status": s.status, "environments": s.change.environments,
                         "effects": [e.as_dict() for e in s.change.effects],
                         "files": [f.as_dict() for f in s.files],
                         "policy": [f.as_dict() for f in self.policy.for_service(s.name)]}
                for s in self.services
            },
            "policy": self.policy.as_dict(),
            "vault_plan": self.plan.as_dict(),
            "evals": self.evals,
        }
