"""`aigw diff --format text`: the report for a terminal."""

from __future__ import annotations

from aigw.diff.model import DiffReport, PlanSection, PolicySection, ServiceReport
from aigw.evals.report import format_text as evals_text
from aigw.governance.findings import Finding, counts


def headline(report: DiffReport) -> str:
    """`aigw diff: origin/main (1a2b3c4) -> working tree, catalog examples`."""
    scope = f", environment {report.env}" if report.env else ""
    return f"aigw diff: {report.base.label} -> working tree, catalog {report.catalog_path}{scope}"


def policy_badge(findings: list[Finding]) -> str:
    """`2 deny, 1 warn` or `ok` for one service's findings."""
    c = counts(findings)
    parts = [f"{c[s]} {s}" for s in ("deny", "warn") if c[s]]
    return ", ".join(parts) or "ok"


def effect_summary(service: ServiceReport, limit: int = 3) -> str:
    """The first few effects of a service, in one line."""
    texts = [e.text for e in service.change.effects]
    if not texts and service.files:
        texts = ["rendered files only (an environment or template change)"]
    more = f" (+{len(texts) - limit} more)" if len(texts) > limit else ""
    return "; ".join(texts[:limit]) + more


def finding_line(finding: Finding, policy: PolicySection) -> str:
    """One finding: `deny prod-two-providers [new] aigw.yaml:12:5: message`."""
    tag = " [new]" if policy.is_new(finding) else ""
    waived = f" (waived: {finding.waived})" if finding.waived else ""
    where = f"{finding.mark}: " if finding.mark else ""
    return f"{finding.severity} {finding.rule}{tag} {where}{finding.message}{waived}"


def plan_lines(plan: PlanSection) -> list[str]:
    """The Vault plan, one line per change."""
    if not plan.available:
        return [f"Vault plan: unavailable ({plan.reason})"]
    lines = ["Vault plan:"]
    for stack in plan.stacks:
        if not stack["changed"]:
            lines.append(f"  {stack['stack']}: no changes")
            continue
        lines.append(f"  {stack['stack']}: {stack['summary']}")
        for c in stack["changes"]:
            lines.append(f"    {c['op']:<7} {c['kind']:<6} {c['target']}")
            lines += [f"      {d}" for d in c["detail"]]
    return lines


def policy_lines(policy: PolicySection) -> list[str]:
    """The governance verdicts."""
    if not policy.available:
        return [f"Governance: unavailable ({policy.reason})"]
    c = counts(policy.findings)
    new = sum(1 for f in policy.active if policy.is_new(f))
    lines = [f"Governance: {c['deny']} deny, {c['warn']} warn, {c['waived']} waived "
             f"({new} new with this change, {len(policy.resolved)} resolved)"]
    lines += [f"  {finding_line(f, policy)}" for f in policy.findings]
    lines += [f"  resolved: {f.severity} {f.rule}: {f.message}" for f in policy.resolved]
    return lines


def format_text(report: DiffReport, *, diffs: bool = True) -> str:
    """The whole report as plain text (rendered-file diffs at the end unless DIFFS is False)."""
    lines = [headline(report)]
    lines += [f"note: {n}" for n in report.notes]
    changed = report.changed_services
    lines.append(f"{len(changed)} service(s) changed, {len(report.files)} rendered file(s) differ")
    lines.append("")
    if report.catalog:
        lines.append("Catalog:")
        lines += [f"  {e.text}" for e in report.catalog]
        lines.append("")
    for svc in changed:
        envs = ", ".join(svc.change.environments)
        lines.append(f"{svc.name} ({svc.status}; {envs}; policy: "
                     f"{policy_badge(report.policy.for_service(svc.name))})")
        lines += [f"  - {e.text}" for e in svc.change.effects]
        if svc.files:
            lines.append(f"  rendered: {len(svc.files)} file(s): " + ", ".join(
                f"{f.path} ({f.status})" for f in svc.files))
        lines.append("")
    if report.evals is not None and report.evals["aliases"]:
        lines += evals_text(report.evals).rstrip("\n").splitlines()
        lines.append("")
    lines += policy_lines(report.policy)
    lines.append("")
    lines += plan_lines(report.plan)
    text = "\n".join(lines) + "\n"
    if diffs and report.files:
        text += "\nRendered file diffs:\n" + "".join(f.diff for f in report.files)
    return text
