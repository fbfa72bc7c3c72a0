"""Eval results: per alias, base against head, as a document, a text table and markdown.

The document (`results_doc`) is what `aigw eval --json` prints and what the
results file holds (schema `commands/schemas/eval.v1.json`); `aigw diff
--format markdown` and the governance rules read that file back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigw.evals.runner import CaseResult

SIDES = ("base", "head")


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile Q (0-100) of VALUES; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def side_summary(results: list[CaseResult]) -> dict[str, Any]:
    """Scores per grader, latency percentiles, tokens, cost and failures of one side."""
    answered = [r for r in results if r.answer is not None]
    graders: dict[str, list[float]] = {}
    for r in answered:
        for name, g in r.grades.items():
            if g.score is not None:
                graders.setdefault(name, []).append(g.score)
    latencies = [r.answer.latency_ms for r in answered if r.answer is not None]
    tokens_in = [r.answer.input_tokens for r in answered if r.answer is not None]
    tokens_out = [r.answer.output_tokens for r in answered if r.answer is not None]
    costs = [r.answer.cost for r in answered if r.answer is not None]
    currencies = {r.answer.currency for r in answered if r.answer is not None}
    # A total only when every answer is priced, in one currency: never a partial sum.
    priced = bool(costs) and all(c is not None for c in costs) and len(currencies) == 1
    return {
        "cases": len(results),
        "score": round(sum(r.score for r in results) / len(results), 4) if results else None,
        "passed": sum(1 for r in results if r.passed),
        "failures": sum(1 for r in results if r.answer is None),
        "graders": {k: round(sum(v) / len(v), 4) for k, v in sorted(graders.items())},
        "latency_ms": {"p50": _round(percentile(latencies, 50)),
                       "p95": _round(percentile(latencies, 95))},
        "tokens": {"input": sum(t for t in tokens_in if t is not None),
                   "output": sum(t for t in tokens_out if t is not None)},
        "cost": round(sum(c for c in costs if c is not None), 9) if priced else None,
        "currency": next(iter(currencies)) if priced else None,
        "cached": sum(1 for r in results if r.cached),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def case_rows(results: Iterable[CaseResult]) -> list[dict[str, Any]]:
    """One row per case and side: what a reviewer opens when a score dropped."""
    return [{
        "id": r.case.id, "description": r.case.description, "side": r.side, "score": round(r.score, 4), "passed": r.passed,
        "error": r.error, "cached": r.cached, "route": r.route,
        "latency_ms": _round(r.answer.latency_ms) if r.answer else None,
        "input_tokens": r.answer.input_tokens if r.answer else None,
        "output_tokens": r.answer.output_tokens if r.answer else None,
        "cost": r.answer.cost if r.answer else None,
        "currency": r.answer.currency if r.answer else None,
        "grades": {k: {"score": g.score, "passed": g.passed, "reason": g.reason}
                   for k, g in r.grades.items()},
    } for r in results]


@dataclass(frozen=True)
class Verdict:
    """How the head compares with the base and the floor."""

    status: str  # ok | drop | below-floor | new
    text: str


def verdict(alias: dict[str, Any]) -> Verdict:
    """`drop` when the head's score fell more than max_drop, `below-floor` under the floor."""
    head, base = alias["head"]["score"], (alias["base"] or {}).get("score")
    floor, margin = alias["floor"], alias["max_drop"]
    if floor is not None and head is not None and head < floor:
        return Verdict("below-floor", f"score {head:.2f} is below the floor {floor:.2f}")
    if base is not None and head is not None and base - head > margin + 1e-9:
        return Verdict("drop", f"score fell {base - head:.2f} ({base:.2f} -> {head:.2f}), more "
                       f"than the allowed {margin:.2f}")
    if base is None:
        return Verdict("new", "no base routes to compare with")
    return Verdict("ok", f"score {base:.2f} -> {head:.2f}")


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.2f}{unit}" if unit != " ms" else f"{value:.0f}{unit}"
    return f"{value}{unit}"


def table_rows(alias: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, base, head, change) rows of one alias."""
    base = alias["base"] or {}
    head = alias["head"]
    rows = [("score", _fmt(base.get("score")), _fmt(head["score"]),
             _delta(base.get("score"), head["score"]))]
    for name in sorted(set(head["graders"]) | set(base.get("graders", {}))):
        b, h = base.get("graders", {}).get(name), head["graders"].get(name)
        rows.append((f"  {name}", _fmt(b), _fmt(h), _delta(b, h)))
    for q in ("p50", "p95"):
        rows.append((f"{q} latency", _fmt((base.get("latency_ms") or {}).get(q), " ms"),
                     _fmt(head["latency_ms"][q], " ms"), ""))
    bt, ht = base.get("tokens"), head["tokens"]
    rows.append(("tokens in/out", f"{bt['input']}/{bt['output']}" if bt else "n/a",
                 f"{ht['input']}/{ht['output']}", ""))
    rows.append(("cost", _cost(base) if base else "n/a", _cost(head), ""))
    rows.append(("failures", f"{base['failures']}/{base['cases']}" if base else "n/a",
                 f"{head['failures']}/{head['cases']}", ""))
    return rows


MAX_LISTED = 10  # regressed cases listed per alias (the results file has them all)


def regressions(alias: dict[str, Any]) -> list[tuple[str, str]]:
    """(case id, why) of each case the head fails and the base passed (or has no base)."""
    rows = alias["cases"]
    base_ok = {r["id"] for r in rows if r["side"] == "base" and r["passed"]}
    out = []
    for r in rows:
        if r["side"] != "head" or r["passed"] or (alias["base"] and r["id"] not in base_ok):
            continue
        why = r["error"] or "; ".join(f"{name}: {g['reason'] or 'failed'}"
                                      for name, g in r["grades"].items() if not g["passed"])
        label = f"{r['id']} ({r['description']})" if r.get("description") else r["id"]
        out.append((label, why))
    return out


def _cost(side: dict[str, Any]) -> str:
    if side.get("cost") is None:
        return "no price"
    return f"{side['cost']:.6f} {side.get('currency') or ''}".rstrip()


def _delta(before: Any, after: Any) -> str:
    if not isinstance(before, int | float) or not isinstance(after, int | float):
        return ""
    d = after - before
    return f"{d:+.2f}" if abs(d) >= 0.005 else "="


def _title(alias: dict[str, Any]) -> str:
    floor = f"floor {alias['floor']:.2f} · " if alias["floor"] is not None else ""
    return (f"{alias['alias']} · set {alias['set']} ({alias['head']['cases']} cases) · "
            f"{floor}max drop {alias['max_drop']:.2f}")


def format_text(doc: dict[str, Any]) -> str:
    """One table per alias, then the call counts."""
    out = []
    for alias in doc["aliases"]:
        v = alias["verdict"]
        out.append(f"{_title(alias)}: {v['status']}: {v['text']}")
        rows = [("", "base", "head", "change"), *table_rows(alias)]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        out += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                for r in rows]
        worse = regressions(alias)
        out += [f"  regressed {case}: {why}" for case, why in worse[:MAX_LISTED]]
        if len(worse) > MAX_LISTED:
            out.append(f"  ... {len(worse) - MAX_LISTED} more in the results file")
        out.append("")
    if not doc["aliases"]:
        out.append("no alias with an eval set changed: nothing to evaluate")
    calls = doc["calls"]
    out.append(f"eval: {len(doc['aliases'])} alias(es), {calls['provider']} provider call(s), "
               f"{calls['cached']} answer(s) from the cache")
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")[:300]


_ICON = {"ok": "✅", "new": "🆕", "drop": "❌", "below-floor": "❌"}


def format_markdown(doc: dict[str, Any]) -> str:
    """The eval section of a PR comment: a table per alias."""
    parts = [f"**Evals:** {len(doc['aliases'])} alias(es) · base `{doc['base']['ref']}` · "
             f"{doc['calls']['provider']} provider call(s), {doc['calls']['cached']} cached\n"]
    for alias in doc["aliases"]:
        v = alias["verdict"]
        parts.append(f"\n{_ICON.get(v['status'], '')} `{alias['alias']}` — set "
                     f"`{alias['set']}`, {alias['head']['cases']} cases · {v['text']}\n\n"
                     "| | base | head | change |\n|---|---:|---:|---:|\n")
        parts += [f"| {m.strip() if not m.startswith('  ') else '↳ ' + m.strip()} | {b} | {h} "
                  f"| {d} |\n" for m, b, h, d in table_rows(alias)]
        worse = regressions(alias)
        if worse:
            more = (f"\n_… {len(worse) - MAX_LISTED} more in the results file._\n"
                    if len(worse) > MAX_LISTED else "")
            parts.append(f"\n<details><summary>{len(worse)} case(s) that pass on the base and "
                         "fail with this change</summary>\n\n" + "".join(
                             f"- `{case}`: {_md(why)}\n" for case, why in worse[:MAX_LISTED])
                         + more + "\n</details>\n")
    return "".join(parts)
