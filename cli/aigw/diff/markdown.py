"""`aigw diff --format markdown`: one PR comment, size-capped.

Layout: a marker line (the workflow finds and updates its own comment by it), a
summary table, catalog-wide changes, governance verdicts, the Vault plan, then a
collapsible <details> section per service with its effects and rendered-file
diffs. GitHub refuses comments over 65,536 characters: sections are added while
they fit (a service section first loses its diffs, then is left out) and a note
says what was cut.
"""

from __future__ import annotations

import html

from aigw.diff.model import DiffReport, FileChange, PlanSection, PolicySection, ServiceReport
from aigw.diff.text import effect_summary
from aigw.evals.report import format_markdown as evals_markdown
from aigw.governance.findings import Finding, counts

MARKER = "<!-- aigw-diff -->"
COMMENT_LIMIT = 65536
MAX_DIFF_LINES = 400  # per rendered file; the rest is summarised
_RESERVE = 600  # room kept for the truncation note
_ICONS = {"deny": "❌", "warn": "⚠️"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fence(body: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in body:
        ticks += "`"
    return f"{ticks}{lang}\n{body.rstrip(chr(10))}\n{ticks}\n"


def _count(severity: str, n: int) -> str:
    """`❌ 2 deny`, but a plain `0 deny`: an icon marks only what is there."""
    return f"{_ICONS[severity]} {n} {severity}" if n else f"{n} {severity}"


def _badge(findings: list[Finding]) -> str:
    c = counts(findings)
    parts = [_count(s, c[s]) for s in ("deny", "warn") if c[s]]
    return " ".join(parts) or "✅"


def _short_diff(change: FileChange) -> str:
    lines = change.diff.splitlines(keepends=True)
    if len(lines) <= MAX_DIFF_LINES:
        return change.diff
    cut = len(lines) - MAX_DIFF_LINES
    return "".join(lines[:MAX_DIFF_LINES]) + f"... {cut} more line(s) of this file's diff\n"


def _policy_part(policy: PolicySection) -> tuple[str, str]:
    if not policy.available:
        return f"**Governance:** unavailable ({_cell(policy.reason or '')})\n", ""
    c = counts(policy.findings)
    new = sum(1 for f in policy.active if policy.is_new(f))
    ok = "✅ " if not (c["deny"] or c["warn"]) else ""
    head = (f"**Governance:** {ok}{_count('deny', c['deny'])} · {_count('warn', c['warn'])} · "
            f"{c['waived']} waived · {new} new with this change"
            + (f" · {len(policy.resolved)} resolved" if policy.resolved else "") + "\n")
    if not policy.findings and not policy.resolved:
        return head, ""
    rows = ["| | rule | where | finding |", "|---|---|---|---|"]
    for f in policy.findings:
        icon = "💤" if f.waived else _ICONS[f.severity]
        tag = " **new**" if policy.is_new(f) else ""
        extra = f" _(waived: {_cell(f.waived)})_" if f.waived else ""
        where = f"`{f.mark.file}:{f.mark.line}`" if f.mark else ""
        rows.append(f"| {icon}{tag} | `{f.rule}` | {where} | {_cell(f.message)}{extra} |")
    for f in policy.resolved:
        rows.append(f"| ✅ resolved | `{f.rule}` | | {_cell(f.message)} |")
    body = ("<details><summary>Governance findings</summary>\n\n" + "\n".join(rows)
            + "\n\n</details>\n")
    return head, body


def _plan_part(plan: PlanSection) -> tuple[str, str]:
    if not plan.available:
        return f"**Vault plan:** unavailable ({_cell(plan.reason or '')})\n", ""
    summary = "; ".join(f"`{s['stack']}`: {s['summary'] if s['changed'] else 'no changes'}"
                        for s in plan.stacks) or "no stacks"
    lines = []
    for s in plan.stacks:
        for c in s["changes"]:
            lines.append(f"{c['op']:<7} {c['kind']:<6} {c['target']}  ({s['stack']})")
            lines += [f"    {d}" for d in c["detail"]]
    if not lines:
        return f"**Vault plan:** {summary}\n", ""
    body = "<details><summary>Vault changes</summary>\n\n" + _fence("\n".join(lines)) + "\n</details>\n"
    return f"**Vault plan:** {summary}\n", body


def _service_part(svc: ServiceReport, report: DiffReport, with_diffs: bool) -> str:
    findings = report.policy.for_service(svc.name)
    title = f"<b>{svc.name}</b> — {svc.status}: {html.escape(_cell(effect_summary(svc, 2)))}"
    out = [f"<details><summary>{title}</summary>\n"]
    out += [f"- {_cell(e.text)}" for e in svc.change.effects]
    for f in findings:
        new = " (new)" if report.policy.is_new(f) else ""
        out.append(f"- {_ICONS[f.severity]} `{f.rule}`{new}: {_cell(f.message)}")
    if svc.files:
        out.append(f"\nRendered files ({len(svc.files)}): " + ", ".join(
            f"`{f.path}` ({f.status})" for f in svc.files) + "\n")
        if with_diffs:
            out.append(_fence("".join(_short_diff(f) for f in svc.files), "diff"))
        else:
            out.append("_Diff left out to stay under GitHub's comment size limit._\n")
    out.append("</details>\n")
    return "\n".join(out) + "\n"


def format_markdown(report: DiffReport, *, limit: int = COMMENT_LIMIT) -> str:
    """The report as a PR comment of at most LIMIT characters."""
    budget = limit - _RESERVE
    parts: list[str] = []
    cut: list[str] = []

    def add(text: str) -> bool:
        if sum(map(len, parts)) + len(text) > budget:
            return False
        parts.append(text)
        return True

    scope = f" · environment `{report.env}`" if report.env else ""
    add(f"{MARKER}\n### aigw diff\n\nComparing `{report.base.ref}`"
        + (f" (`{report.base.commit[:7]}`)" if report.base.commit else "")
        + f" with this change · catalog `{report.catalog_path}`{scope}\n\n")
    for note in report.notes:
        add(f"> {_cell(note)}\n\n")
    changed = report.changed_services
    if not changed:
        add("No service changes.\n\n")
    else:
        add("| service | change | effects | files | policy |\n|---|---|---|---:|---|\n")
        for i, svc in enumerate(changed):
            row = (f"| `{svc.name}` | {svc.status} | {_cell(effect_summary(svc))} | "
                   f"{len(svc.files)} | {_badge(report.policy.for_service(svc.name))} |\n")
            if sum(map(len, parts)) + len(row) > budget // 2 or not add(row):
                add(f"| … | {len(changed) - i} more service(s) | | | |\n")
                cut.append(f"{len(changed) - i} summary row(s)")
                break
        add("\n")
    if report.catalog:
        add("**Catalog:** " + " · ".join(_cell(e.text) for e in report.catalog) + "\n\n")
    if report.evals is not None and report.evals["aliases"]:
        if not add(evals_markdown(report.evals) + "\n"):
            cut.append("the eval tables")
    for head, body in (_policy_part(report.policy), _plan_part(report.plan)):
        add(head + "\n")
        if body and not add(body + "\n"):
            cut.append("details of " + head.split(":", 1)[0].strip("*"))
    omitted = no_diff = 0
    for svc in changed:
        if add(_service_part(svc, report, True)):
            continue
        if add(_service_part(svc, report, False)):
            no_diff += 1
        else:
            omitted += 1
    if no_diff:
        cut.append(f"the rendered diffs of {no_diff} service(s)")
    if omitted:
        cut.append(f"{omitted} service section(s)")
    text = "".join(parts)
    if cut:
        text += (f"\n> **Truncated** to stay under GitHub's {COMMENT_LIMIT:,}-character comment "
                 f"limit: left out {', '.join(cut)}. "
                 "Run `aigw diff --format text` locally, or see the workflow's job summary.\n")
    return text[:limit]
