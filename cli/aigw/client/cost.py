"""What a call cost: tokens by billed class times the model's price. No price, no cost.

A price is per million tokens of each billed class (client/usage.py names the
classes), in one currency, as of a date; the catalog holds them (``providers.<p>.
prices``) and `aigw render` copies a route's price into aigw-client.json. This
module is plain Python (Decimal arithmetic) and imports nothing from aigw's CLI,
so the runtime, `aigw usage` and `aigw eval` price a call the same way:

    >>> from decimal import Decimal
    >>> price = Price("USD", {"input": Decimal("2.50"), "output": Decimal("10")})
    >>> cost({"input": 1000, "output": 500}, price)
    Decimal('0.0075')

Reasoning tokens are billed as output tokens unless the price names
``reasoning`` (OpenAI and Anthropic bill them as output). Any other class with
tokens but no price makes the cost unknown (None), never a wrong number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

MILLION = Decimal(1_000_000)
# A class billed as another when its own price is absent.
FALLBACK = {"reasoning": "output"}


@dataclass(frozen=True)
class Price:
    """Per-million-token prices of one model, by billed class, in `currency`."""

    currency: str
    per_million: Mapping[str, Decimal]
    as_of: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def of(self, token_class: str) -> Decimal | None:
        """The price of `token_class` per million tokens, or None when it has none."""
        value = self.per_million.get(token_class)
        if value is None and token_class in FALLBACK:
            value = self.per_million.get(FALLBACK[token_class])
        return value

    def covers(self, tokens: Mapping[str, int]) -> bool:
        """True when every class with tokens has a price (`cost` is then a number)."""
        return all(not count or self.of(c) is not None for c, count in tokens.items())


def cost(tokens: Mapping[str, int], price: Price | None) -> Decimal | None:
    """The cost of `tokens` (class -> count) at `price`, or None if any billed class
    with tokens has no price (or there is no price at all)."""
    if price is None:
        return None
    total = Decimal(0)
    for token_class, count in tokens.items():
        if not count:
            continue
        per_million = price.of(token_class)
        if per_million is None:
            return None
        total += per_million * count
    return total / MILLION


def price_from_json(doc: Any) -> Price | None:
    """A `Price` from its aigw-client.json form (``{"currency", "as_of", "per_million":
    {class: "decimal string"}}``), or None when absent or malformed."""
    if not isinstance(doc, dict) or not isinstance(doc.get("currency"), str):
        return None
    raw = doc.get("per_million")
    if not isinstance(raw, dict):
        return None
    try:
        per_million = {str(k): Decimal(str(v)) for k, v in raw.items()}
    except (InvalidOperation, ValueError):
        return None
    return Price(doc["currency"], per_million, str(doc.get("as_of") or ""))


def prices_in_config(doc: Any) -> dict[tuple[str, str], Price]:
    """Each route's ``price`` in a parsed aigw-client.json, by (provider, model)."""
    out: dict[tuple[str, str], Price] = {}
    aliases = doc.get("aliases") if isinstance(doc, dict) else None
    for alias in (aliases or {}).values():
        routes = alias.get("routes") if isinstance(alias, dict) else None
        for route in routes or []:
            price = price_from_json(route.get("price")) if isinstance(route, dict) else None
            if price is not None:
                out[(str(route.get("provider")), str(route.get("model")))] = price
    return out
