"""Prices in git: per million tokens of each billed class, in one currency, as of a date.

Where: ``providers.<p>.prices.<model>`` in the catalog (docs/spend.md)::

    providers:
      openai:
        prices:
          gpt-4o: {currency: USD, as_of: 2026-11-01, input: "2.50", cache_read: "1.25",
                   output: "10.00"}

The classes are those of aigw.client.usage (input, cache_read, cache_write,
output, reasoning). `aigw validate` checks them (schema errors carry file and
line); `aigw render` copies a route's price into aigw-client.json, where the
runtime prices calls (aigw.client.cost). Nothing is ever fetched from a network.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

if TYPE_CHECKING:
    from aigw.client.cost import Price

# The billed classes are aigw.client.usage.CLASSES (a test holds the two equal); not
# imported from there: importing aigw.client loads httpx, which `aigw validate` never needs.
CLASSES = ("input", "cache_read", "cache_write", "output", "reasoning")
# ISO 4217 codes of currencies providers bill in (extend when a provider bills in another).
CURRENCIES = frozenset({
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "IDR", "ILS",
    "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PLN", "SAR", "SEK", "SGD", "THB", "TRY",
    "TWD", "USD", "ZAR"})
# A non-zero price below this per million tokens is a per-token (or per-1K) figure.
SMALLEST = Decimal("0.001")


def parse_amount(value: Any, what: str = "an amount, such as \"500\"") -> Decimal:
    """A decimal amount >= 0 from a number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"expected {what}")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number ({what})") from None
    if not price.is_finite() or price < 0:
        raise ValueError("an amount cannot be negative")
    return price


def parse_price(value: Any) -> Decimal:
    """A price per million tokens: a number or a decimal string, >= 0."""
    price = parse_amount(value, "a price per million tokens, such as \"2.50\"")
    if 0 < price < SMALLEST:
        raise ValueError(f"{value} per million tokens looks like a per-token price: prices "
                         f"are per million tokens (0.0000025 per token is 2.5)")
    return price


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"'{value}' is not a currency code aigw knows (ISO 4217, upper "
                         f"case: USD, EUR, CNY...)")
    return value


def _as_of(value: dt.date) -> dt.date:
    if value > dt.date.today():
        raise ValueError(f"as_of {value.isoformat()} is in the future: the date the price "
                         f"was read from the provider's price list")
    return value


def _date(value: Any) -> Any:
    if isinstance(value, str) and len(value.strip()) != 10:
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


PerMillion = Annotated[Decimal, BeforeValidator(parse_price)]


class ModelPrice(BaseModel):
    """One model's prices per million tokens, by billed class."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              defer_build=True)

    currency: Annotated[str, AfterValidator(_currency)]
    as_of: Annotated[dt.date, BeforeValidator(_date), AfterValidator(_as_of)]
    input: PerMillion
    output: PerMillion | None = None
    cache_read: PerMillion | None = None
    cache_write: PerMillion | None = None
    reasoning: PerMillion | None = None
    note: str | None = Field(default=None, max_length=200)

    def per_million(self) -> dict[str, Decimal]:
        """The priced classes (class -> price per million tokens)."""
        return {c: v for c in CLASSES if (v := getattr(self, c)) is not None}

    def to_price(self) -> Price:
        """The runtime's `Price` (aigw.client.cost)."""
        from aigw.client.cost import Price

        return Price(self.currency, self.per_million(), self.as_of.isoformat())

    def to_json(self) -> dict[str, Any]:
        """The route's ``price`` in aigw-client.json: decimal strings, no float rounding."""
        return {"currency": self.currency, "as_of": self.as_of.isoformat(),
                "per_million": {c: _plain(v) for c, v in self.per_million().items()}}


def _plain(value: Decimal) -> str:
    """A decimal as plain text (`2.50` stays `2.50`, `1E+1` becomes `10`)."""
    return format(value, "f")


class Budget(BaseModel):
    """A service's monthly budget, applying to each of its environments.

    A mapping (not a bare number) so that a per-environment override
    (``environments.<e>.overrides.services.<s>.budget``, "maps merge, lists replace,
    null removes") can change one field (``monthly``) and keep the other, or remove
    the budget with ``budget: null``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              defer_build=True)

    monthly: Annotated[Decimal, BeforeValidator(parse_amount), Field(gt=0)]
    currency: Annotated[str, AfterValidator(_currency)]


def price_of(cat: Any, provider: str, model: str) -> ModelPrice | None:
    """The catalog's price of `model` at `provider`, or None."""
    prov = cat.providers.get(provider)
    return None if prov is None else prov.prices.get(model)

