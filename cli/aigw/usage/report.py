"""Spend per service from the providers' reports: attribution, prices, drift, budgets.

Pure functions over typed rows (sources.py reads them): each provider key id is
mapped to its slot through the rotation inventory (`KeyIndex`), each slot to the
services whose routes use it in the environment; a slot used by more than one
service is *shared* and its spend is not attributed to any one of them. Money is
usage x the catalog's price (aigw.client.cost): no price, no money (the row says
"unpriced"). The provider's own cost report, where there is one, is compared with
that (drift), so a wrong price shows up.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from aigw.client.cost import cost
from aigw.usage.sources import CostRow, UsageRow

SHARED = "(shared)"
UNKNOWN = "(unknown key)"
AMBIGUOUS = "(ambiguous key)"
BY = ("service", "alias", "provider", "model", "slot")


@dataclass
class KeyIndex:
    """Provider key id -> slot, for one environment (from the rotation inventory)."""

    slots: dict[tuple[str, str], str] = field(default_factory=dict)  # (provider, key_id) -> slot
    services: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)  # slot users
    # (provider, the last characters of a key whose id was never journaled) -> its slots
    hints: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # (provider, key_id) -> the slots whose hint it matches, when more than one
    ambiguous: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def slot_of(self, provider: str, key_id: str | None) -> str | None:
        """The slot of a key, None when the inventory does not know it."""
        return self.slots.get((provider, key_id)) if key_id else None


@dataclass
class Line:
    """One attributed usage row."""

    day: str
    provider: str
    slot: str | None
    service: str               # a service, SHARED or UNKNOWN
    sharing: tuple[str, ...]   # the services of a shared slot
    alias: str
    model: str
    tokens: dict[str, int]
    amount: Decimal | None     # None: unpriced
    currency: str | None
    source: str = "report"     # "report": usage x price; "billed": the provider's bill
                               # (Bedrock); "runtime": the runtime's own metrics


@dataclass
class BudgetStatus:
    """A service's month to date against its monthly budget."""

    service: str
    monthly: Decimal
    currency: str
    spent: Decimal
    forecast: Decimal
    exceeds_on: str | None      # the day the forecast crosses the budget (None: it does not)
    other_currencies: dict[str, Decimal]

    @property
    def alert(self) -> bool:
        """Over budget, or on track to be this month."""
        return self.spent > self.monthly or self.forecast > self.monthly


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def aliases_by_route(cat: Any, env: str) -> dict[tuple[str, str, str], list[str]]:
    """(service, provider, model) -> the aliases of that service routing there."""
    from aigw.catalog.view import deployments

    out: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for dep in deployments(cat, env=env):
        for alias, routes in dep.aliases.items():
            for r in routes:
                out[(dep.service, r.provider, r.model)].append(alias)
    return out


def attribute(cat: Any, env: str, rows: list[UsageRow], index: KeyIndex) -> list[Line]:
    """Each usage row with its slot, service (or shared/unknown), alias and money."""
    from aigw.catalog.prices import price_of

    aliases = aliases_by_route(cat, env)
    out = []
    for row in rows:
        slot = index.slot_of(row.provider, row.key_id)
        users = index.services.get((row.provider, slot), ()) if slot else ()
        service = users[0] if len(users) == 1 else (SHARED if users else UNKNOWN)
        if slot is None and (row.provider, row.key_id) in index.ambiguous:
            service = AMBIGUOUS
        names = sorted(set(aliases.get((service, row.provider, row.model), [])))
        sharing = users if len(users) > 1 else ()
        if row.service:  # the runtime said who it was: exact, even on a shared slot
            slot, service, sharing = row.slot, row.service, ()
            names = [row.alias] if row.alias else names
        if row.billed is not None:  # the provider's own bill (Bedrock): taken as it is
            out.append(Line(row.day, row.provider, slot, service, sharing,
                            "|".join(names) or "-", row.model, dict(row.tokens), row.billed,
                            row.currency, source="billed"))
            continue
        price = price_of(cat, row.provider, row.model)
        amount = cost(row.tokens, price.to_price() if price is not None else None)
        out.append(Line(row.day, row.provider, slot, service, sharing,
                        "|".join(names) or "-", row.model, dict(row.tokens), amount,
                        price.currency if price is not None else None,
                        source="runtime" if row.service else "report"))
    return out


def group(lines: list[Line], by: str) -> list[dict[str, Any]]:
    """Totals per value of `by` (and currency): tokens, money, unpriced tokens."""
    acc: dict[tuple[str, str | None], dict[str, Any]] = {}
    for ln in lines:
        key = str(getattr(ln, by) or "-")
        row = acc.setdefault((key, ln.currency), {
            by: key, "currency": ln.currency, "amount": Decimal(0), "tokens": 0,
            "unpriced_tokens": 0, "shared_with": set()})
        n = sum(ln.tokens.values())
        row["tokens"] += n
        if ln.amount is None:
            row["unpriced_tokens"] += n
        else:
            row["amount"] += ln.amount
        row["shared_with"].update(ln.sharing)
    return [{**r, "amount": _money(r["amount"]), "shared_with": sorted(r["shared_with"])}
            for _, r in sorted(acc.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]


def drift(lines: list[Line], costs: list[CostRow]) -> list[dict[str, Any]]:
    """Per provider and currency: the provider's cost report vs usage x catalog price (a
    provider's bill, or the runtime's metrics, have no cost report to compare with)."""
    ours: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for ln in lines:
        if ln.amount is not None and ln.currency and ln.source == "report":
            ours[(ln.provider, ln.currency)] += ln.amount
    theirs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for c in costs:
        theirs[(c.provider, c.currency)] += c.amount
    out = []
    for key in sorted(set(ours) | set(theirs)):
        a, b = ours.get(key, Decimal(0)), theirs.get(key, Decimal(0))
        pct = None if not b else float((a - b) / b * 100)
        out.append({"provider": key[0], "currency": key[1], "reported": _money(b),
                    "computed": _money(a), "drift_pct": None if pct is None else round(pct, 1)})
    return out


def budgets(cat: Any, lines: list[Line], today: dt.date) -> list[BudgetStatus]:
    """Month to date and a linear forecast for each service with a budget."""
    month = today.strftime("%Y-%m")
    days = calendar.monthrange(today.year, today.month)[1]
    out = []
    for name, svc in sorted(cat.services.items()):
        if svc.budget is None:
            continue
        spent = Decimal(0)
        other: dict[str, Decimal] = defaultdict(Decimal)
        for ln in lines:
            if ln.service != name or ln.amount is None or not ln.day.startswith(month):
                continue
            if ln.currency == svc.budget.currency:
                spent += ln.amount
            else:  # never converted: no exchange rate is right for a bill
                other[str(ln.currency)] += ln.amount
        rate = spent / today.day
        forecast = rate * days
        crosses = None
        if rate > 0 and forecast > svc.budget.monthly:
            day = min(days, max(1, int(-(-svc.budget.monthly // rate))))
            crosses = dt.date(today.year, today.month, day).isoformat()
        out.append(BudgetStatus(name, svc.budget.monthly, svc.budget.currency, _money(spent),
                                _money(forecast), crosses,
                                {k: _money(v) for k, v in sorted(other.items())}))
    return out


def daily(lines: list[Line], service: str, currency: str) -> dict[str, Decimal]:
    """A service's priced spend per day in one currency."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for ln in lines:
        if ln.service == service and ln.currency == currency and ln.amount is not None:
            out[ln.day] += ln.amount
    return dict(sorted(out.items()))
