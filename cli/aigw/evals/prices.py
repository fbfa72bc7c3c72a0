"""Tokens and cost of one eval answer: the runtime's usage reading and price arithmetic.

The classes come from `aigw.client.usage` (cached input apart from input, reasoning
apart from output, for OpenAI and Anthropic alike) and the money from
`aigw.client.cost` over the catalog's price of the route that answered
(`providers.<p>.prices.<model>`), so `aigw eval` prices a call exactly as a
service's metrics do. No price (or a billed class without one) means no cost:
None, never 0 and never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aigw.catalog.models import Catalog
from aigw.catalog.prices import price_of
from aigw.client.cost import cost
from aigw.client.usage import input_total, output_total
from aigw.client.wires import usage_reader


@dataclass(frozen=True)
class Spend:
    """What one answer used: input and output tokens, and its cost in `currency`."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    currency: str | None = None


def answer_spend(cat: Catalog, provider: str | None, model: str | None, usage: Any,
                 family: str) -> Spend:
    """The tokens of USAGE (the provider's usage object, as a dict) and their cost."""
    tokens = usage_reader(family)(usage)
    if tokens is None:
        return Spend()
    spend = Spend(input_total(tokens), output_total(tokens))
    price = price_of(cat, provider, model) if provider and model else None
    if price is None:
        return spend
    amount = cost(tokens, price.to_price())
    if amount is None:
        return spend
    return Spend(spend.input_tokens, spend.output_tokens, float(amount), price.currency)
