"""`aigw usage`: spend per service from the providers' own usage and cost reports.

`usage_report` reads each provider's report (sources.py), maps keys to slots and
services through the rotation inventory (`key_index`), prices usage with the
catalog (report.py) and checks budgets. Providers without a report source are
listed as "no provider report". docs/spend.md describes the output.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from aigw.catalog.overrides import environment_view
from aigw.envvars import PROMETHEUS_URL
from aigw.usage.bedrock import bedrock_reports
from aigw.usage.keys import LISTERS, resolve
from aigw.usage.prometheus import public_url, runtime_usage
from aigw.usage.report import (
    BY,
    BudgetStatus,
    KeyIndex,
    Line,
    attribute,
    budgets,
    drift,
    group,
)
from aigw.usage.sources import READERS, CostRow, ReportClient, UsageRow, source_for

__all__ = ["BY", "KeyIndex", "UsageReport", "key_index", "usage_report"]


@dataclass
class UsageReport:
    """Everything `aigw usage` prints, in one place (text, markdown and JSON agree)."""

    environment: str
    start: dt.date
    end: dt.date
    by: str
    lines: list[Line]
    groups: list[dict[str, Any]]
    drift: list[dict[str, Any]]
    budgets: list[BudgetStatus]
    no_report: list[str]
    shared_slots: list[dict[str, Any]] = field(default_factory=list)
    ambiguous: list[dict[str, Any]] = field(default_factory=list)
    runtime_metrics: list[str] = field(default_factory=list)  # providers read from Prometheus
    prometheus: str = ""  # its URL

    @property
    def budget_alert(self) -> bool:
        """Some service is over its budget, or forecast to be."""
        return any(b.alert for b in self.budgets)


HISTORY = 50  # journal versions read per slot: the key ids of past rotations too


def key_index(cat: Any, client: Any, env: str) -> KeyIndex:
    """Provider key id -> slot from the rotation inventory: every key id a slot's journal
    recorded (when a key was minted, or put with `--key-id`), over its last `HISTORY`
    versions, so usage of a key rotated away during the window is still attributed; and
    the hint of each key whose id it never learnt (matched in usage.keys).
    `client` is an hvac client (aigw.vault.connect)."""
    from aigw.slots.journal import JournalEntry
    from aigw.slots.kv import KV
    from aigw.slots.targets import HINT_CHARS, select_targets

    index = KeyIndex()
    for t in select_targets(cat, env):
        index.services[(t.ref.provider, t.ref.slot)] = tuple(t.consumers)
        # A slot is also known by its id: the tag value its IAM principal carries (Bedrock).
        index.slots.setdefault((t.ref.provider, t.id), t.ref.slot)
        kv = KV(client, t.mount)
        meta = kv.metadata(t.journal_path) or {}
        current = int(meta.get("current_version") or 0)
        for version in range(current, max(0, current - HISTORY), -1):
            got = kv.read_version(t.journal_path, version)
            if got is None or not got.data:
                continue
            entry = JournalEntry.from_data(got.data, version)
            for ref in (entry.new, entry.old):
                if ref is not None and ref.key_id:
                    index.slots.setdefault((t.ref.provider, ref.key_id), t.ref.slot)
                elif ref is not None and ref.hint:  # only a hint: usage.keys matches it
                    index.hints.setdefault((t.ref.provider, ref.hint[-HINT_CHARS:]),
                                           set()).add(t.ref.slot)
    return index


def _slot_users(cat: Any, env: str) -> dict[tuple[str, str], tuple[str, ...]]:
    from aigw.catalog.view import deployments

    users: dict[tuple[str, str], list[str]] = {}
    for dep in deployments(cat, env=env):
        for ref in dep.slots:
            users.setdefault((ref.provider, ref.slot), []).append(dep.service)
    return {k: tuple(sorted(v)) for k, v in users.items()}


def usage_report(cat: Any, env: str, index: KeyIndex, *, since_days: int = 7, by: str = "service",
                 today: dt.date | None = None, http: Any = None,
                 environ: dict[str, str] | None = None, ce: Any = None) -> UsageReport:
    """Read every provider's report for the window and build the report (HTTP: an httpx
    client for the admin APIs; CE: a boto3 Cost Explorer client, else boto3's own)."""
    today = today or dt.datetime.now(dt.UTC).date()
    # The window covers the month so far too, for the budgets' month to date.
    first = min(today - dt.timedelta(days=since_days - 1), today.replace(day=1))
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    users = _slot_users(cat, env)
    for key, names in users.items():
        index.services.setdefault(key, names)
    used = sorted({p for (p, _) in users})
    rows: list[UsageRow] = []
    costs: list[CostRow] = []
    no_report = []
    metrics_url = (environ if environ is not None else os.environ).get(PROMETHEUS_URL, "")
    from_metrics = []
    for name in used:
        source = source_for(name, environment_view(cat, env).providers[name])
        if source is None:
            no_report.append(name)
            if metrics_url:  # what the runtime's metrics say instead
                rows.extend(runtime_usage(metrics_url, name, env, start, end, http))
                from_metrics.append(name)
            continue
        if source.kind == "bedrock":
            got, charged = bedrock_reports(source, start, end, ce=ce)
            rows.extend(got)
            continue
        client = ReportClient(source, http, environ)
        got, charged = READERS[source.kind](client, start, end)
        unknown = [r for r in got if r.key_id and not index.slot_of(name, r.key_id)]
        if unknown:  # ask the provider who owns them, and their hints
            resolve(index, name, LISTERS[source.kind](
                client, {r.project for r in unknown if r.project}))
        rows.extend(got)
        costs.extend(charged)
    lines = attribute(cat, env, rows, index)
    window = (today - dt.timedelta(days=since_days - 1)).isoformat()
    shown = [ln for ln in lines if ln.day >= window]
    shared = [{"provider": p, "slot": s, "services": list(v)}
              for (p, s), v in sorted(users.items()) if len(v) > 1]
    used_keys = {(r.provider, r.key_id) for r in rows if r.day >= window}
    ambiguous = [{"provider": p, "key_id": k, "slots": list(v)}
                 for (p, k), v in sorted(index.ambiguous.items()) if (p, k) in used_keys]
    return UsageReport(env, today - dt.timedelta(days=since_days - 1), today, by, shown,
                       group(shown, by), drift(shown, [c for c in costs if c.day >= window]),
                       budgets(environment_view(cat, env), lines, today), no_report, shared,
                       ambiguous, from_metrics, public_url(metrics_url) if metrics_url else "")
