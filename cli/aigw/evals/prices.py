"""The cost of one eval answer, from the catalog's prices (governance, issue 30).

Until the catalog carries prices this returns None: every report then shows
tokens per case and "no price" instead of a cost, never a guessed one (a
missing price is no cost, never a wrong one).
"""

from __future__ import annotations

from typing import Any

from aigw.catalog.models import Catalog


def case_cost(cat: Catalog, route: Any, input_tokens: int | None,
              output_tokens: int | None) -> float | None:
    """What ROUTE's answer cost, in the price's currency; None without a price."""
    del cat, route, input_tokens, output_tokens  # prices are not in the catalog yet
    return None
