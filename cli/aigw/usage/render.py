"""`aigw usage` output: one JSON document, and the text and markdown views of it.

Text and markdown are printed from `as_json`'s document only, so the three
forms cannot disagree. The markdown has a Mermaid ``xychart-beta`` per service
with a budget: daily spend (bars) against the budget's daily share (a line),
which GitHub renders in a job summary or a PR comment.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

from aigw.envvars import PROMETHEUS_URL
from aigw.usage import UsageReport
from aigw.usage.report import SHARED, daily


def as_json(r: UsageReport) -> dict[str, Any]:
    """The report as plain data (decimals as strings)."""
    def money(v: Decimal | None) -> str | None:
        return None if v is None else str(v)

    days = [(r.start + dt.timedelta(days=i)).isoformat()
            for i in range((r.end - r.start).days + 1)]
    charts = []
    for b in r.budgets:
        per_day = daily(r.lines, b.service, b.currency)
        month_days = calendar.monthrange(r.end.year, r.end.month)[1]
        charts.append({"service": b.service, "currency": b.currency,
                       "budget_per_day": str((b.monthly / month_days).quantize(Decimal("0.01"))),
                       "days": days,
                       "spend": [str(per_day.get(d, Decimal(0)).quantize(Decimal("0.01")))
                                 for d in days]})
    return {
        "environment": r.environment, "since": r.start.isoformat(), "until": r.end.isoformat(),
        "by": r.by,
        "rows": [{**g, "amount": money(g["amount"])} for g in r.groups],
        "budgets": [{"service": b.service, "monthly": str(b.monthly), "currency": b.currency,
                     "spent": str(b.spent), "forecast": str(b.forecast),
                     "exceeds_on": b.exceeds_on, "alert": b.alert,
                     "other_currencies": {k: str(v) for k, v in b.other_currencies.items()}}
                    for b in r.budgets],
        "drift": [{**d, "reported": money(d["reported"]), "computed": money(d["computed"])}
                  for d in r.drift],
        "shared_slots": r.shared_slots,
        "ambiguous_keys": r.ambiguous,
        "no_provider_report": r.no_report,
        "runtime_metrics": {"prometheus": r.prometheus or None, "providers": r.runtime_metrics},
        "charts": charts,
        "budget_alert": r.budget_alert,
    }


def _row_text(doc: dict[str, Any], g: dict[str, Any]) -> tuple[str, str, str, str]:
    by = doc["by"]
    name = g[by]
    if g["shared_with"]:
        shared = f"(shared: {', '.join(g['shared_with'])}; not attributable)"
        name = shared if name == SHARED else f"{name} {shared}"
    money = "unpriced" if g["currency"] is None else f"{g['amount']} {g['currency']}"
    unpriced = f"{g['unpriced_tokens']} unpriced" if g["unpriced_tokens"] else ""
    # Money without tokens: a provider's bill that counts none (Bedrock's Cost Explorer).
    tokens = "-" if not g["tokens"] and g["amount"] not in (None, "0.00") else str(g["tokens"])
    return name, money, tokens, unpriced


def _shared_text(doc: dict[str, Any], s: dict[str, Any], q: str = "") -> str:
    head = f"{q}{s['provider']}/{s['slot']}{q}: {', '.join(s['services'])}"
    if s["provider"] in doc["runtime_metrics"]["providers"]:
        return f"{head} (the runtime's metrics name each service)"
    return f"{head} (its spend is not attributed to one service)"


def _budget_text(b: dict[str, Any]) -> str:
    head = (f"{b['service']}: {b['spent']} of {b['monthly']} {b['currency']} this month, "
            f"forecast {b['forecast']}")
    if b["exceeds_on"]:
        head += f": on track to exceed on {b['exceeds_on']}"
    elif Decimal(b["spent"]) > Decimal(b["monthly"]):
        head += ": OVER budget"
    else:
        head += ": on track"
    for cur, amount in b["other_currencies"].items():
        head += f" (+ {amount} {cur} not counted: another currency)"
    return head


def _ambiguous_text(a: dict[str, Any]) -> str:
    return (f"{a['provider']} key {a['key_id']}: ambiguous key, its hint matches slots "
            f"{', '.join(a['slots'])} (not attributed; `aigw keys put --key-id` records its id)")


def _no_report_text(doc: dict[str, Any], provider: str, q: str = "") -> str:
    seen = doc["runtime_metrics"]
    if provider in seen["providers"]:
        return (f"{q}{provider}{q}: no provider report; its rows are what the runtime's "
                f"metrics say (Prometheus at {seen['prometheus']})")
    return (f"{q}{provider}{q}: no provider report (see the runtime's aigw.client.cost "
            f"metric, or set ${PROMETHEUS_URL})")


def text(doc: dict[str, Any]) -> str:
    """The report for a terminal."""
    out = [f"usage in {doc['environment']}, {doc['since']} .. {doc['until']}, by {doc['by']}"]
    rows = [_row_text(doc, g) for g in doc["rows"]]
    width = max([40, *(len(r[0]) for r in rows)])
    for name, money, tokens, unpriced in rows:
        out.append(f"  {name:{width}} {money:>18} {tokens:>12} tokens  {unpriced}".rstrip())
    if doc["budgets"]:
        out.append("budgets:")
        out += [f"  {_budget_text(b)}" for b in doc["budgets"]]
    if doc["drift"]:
        out.append("provider cost report vs usage x catalog price:")
        for d in doc["drift"]:
            pct = "n/a" if d["drift_pct"] is None else f"{d['drift_pct']:+.1f}%"
            out.append(f"  {d['provider']}: reported {d['reported']} {d['currency']}, "
                       f"computed {d['computed']} ({pct})")
    out += [f"shared slot {_shared_text(doc, s)}" for s in doc["shared_slots"]]
    out += [f"{_ambiguous_text(a)}" for a in doc["ambiguous_keys"]]
    out += [f"{_no_report_text(doc, p)}" for p in doc["no_provider_report"]]
    return "\n".join(out) + "\n"


def markdown(doc: dict[str, Any]) -> str:
    """The report for a job summary or a PR comment (with Mermaid charts)."""
    by = doc["by"]
    out = [f"### aigw usage: {doc['environment']}, {doc['since']} .. {doc['until']}", "",
           f"| {by} | spend | tokens | unpriced tokens |", "|---|---:|---:|---:|"]
    for g in doc["rows"]:
        name, money, tokens, _ = _row_text(doc, g)
        out.append(f"| {name} | {money} | {tokens} | {g['unpriced_tokens']} |")
    if doc["budgets"]:
        out += ["", "#### Budgets", ""]
        out += [f"- {'❌' if b['alert'] else '✅'} {_budget_text(b)}" for b in doc["budgets"]]
    for c in doc["charts"]:
        labels = ", ".join(f'"{d[5:]}"' for d in c["days"])
        top = max([Decimal(v) for v in c["spend"]] + [Decimal(c["budget_per_day"])])
        out += ["", "```mermaid", "xychart-beta",
                f'    title "{c["service"]}: daily spend vs budget ({c["currency"]})"',
                f"    x-axis [{labels}]",
                f'    y-axis "{c["currency"]}" 0 --> {top * Decimal("1.2"):.2f}',
                f"    bar [{', '.join(c['spend'])}]",
                f"    line [{', '.join([c['budget_per_day']] * len(c['days']))}]", "```"]
    if doc["drift"]:
        out += ["", "#### Provider cost report vs usage x price", "",
                "| provider | reported | computed | drift |", "|---|---:|---:|---:|"]
        for d in doc["drift"]:
            pct = "n/a" if d["drift_pct"] is None else f"{d['drift_pct']:+.1f}%"
            out.append(f"| {d['provider']} | {d['reported']} {d['currency']} | "
                       f"{d['computed']} {d['currency']} | {pct} |")
    notes = [f"- shared slot {_shared_text(doc, s, '`')}" for s in doc["shared_slots"]]
    notes += [f"- {_ambiguous_text(a)}" for a in doc["ambiguous_keys"]]
    notes += [f"- {_no_report_text(doc, p, '`')}" for p in doc["no_provider_report"]]
    if notes:
        out += ["", *notes]
    return "\n".join(out) + "\n"
