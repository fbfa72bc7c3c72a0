"""Cost = tokens x price, over golden cases written as literal decimals (worked by hand,
not computed by the code under test), from the usage JSON each provider documents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aigw.client.cost import Price, cost, price_from_json
from aigw.client.wires import usage_reader


def usd(**p: str) -> Price:
    return Price("USD", {k: Decimal(v) for k, v in p.items()}, "2026-11-01")


GPT4O = usd(input="2.50", cache_read="1.25", output="10.00")
CLAUDE = usd(input="3", cache_read="0.30", cache_write="3.75", output="15")
O3 = usd(input="2", cache_read="0.50", output="8")
APART = usd(input="1", output="4", reasoning="2")
DEEPSEEK_CNY = Price("CNY", {"input": Decimal("2"), "cache_read": Decimal("0.5"),
                             "output": Decimal("8")})
QWEN_CNY = Price("CNY", {"input": Decimal("0.8"), "output": Decimal("2")})
MISTRAL_EUR = Price("EUR", {"input": Decimal("0.25"), "output": Decimal("1.00")})
INPUT_ONLY = usd(input="1")


def chat(prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> dict:
    u: dict = {"prompt_tokens": prompt, "completion_tokens": completion,
               "total_tokens": prompt + completion}
    if cached:
        u["prompt_tokens_details"] = {"cached_tokens": cached}
    if reasoning:
        u["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return u


def claude(i: int, o: int, read: int = 0, write: int = 0) -> dict:
    return {"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write}


CASES = [
    # (id, usage, family, price, expected cost or None, currency)
    ("chat-plain", chat(1000, 500), "openai", GPT4O, "0.0075", "USD"),
    ("chat-cached", chat(1000, 500, cached=400), "openai", GPT4O, "0.007", "USD"),
    ("chat-one-each", chat(1, 1), "openai", GPT4O, "0.0000125", "USD"),
    ("chat-zero", chat(0, 0), "openai", GPT4O, "0", "USD"),
    ("chat-large", chat(128000, 16384), "openai", GPT4O, "0.48384", "USD"),
    ("chat-all-cached", chat(7, 3, cached=7), "openai", GPT4O, "0.00003875", "USD"),
    ("claude-all-classes", claude(100, 300, read=2000, write=500), "anthropic", CLAUDE,
     "0.007275", "USD"),
    ("claude-plain", claude(10, 20), "anthropic", CLAUDE, "0.00033", "USD"),
    ("claude-cache-write", claude(0, 1, write=10000), "anthropic", CLAUDE, "0.037515", "USD"),
    ("claude-cache-read", claude(5, 50, read=100000), "anthropic", CLAUDE, "0.030765", "USD"),
    ("claude-input-only", claude(1000, 0), "anthropic", CLAUDE, "0.003", "USD"),
    ("o3-reasoning-as-output", chat(2000, 3000, reasoning=2500), "openai", O3, "0.028",
     "USD"),
    ("o3-reasoning-cached", chat(2000, 3000, cached=1000, reasoning=2500), "openai", O3,
     "0.0265", "USD"),
    ("responses-api", {"input_tokens": 1500, "output_tokens": 700,
                       "input_tokens_details": {"cached_tokens": 500},
                       "output_tokens_details": {"reasoning_tokens": 200}}, "openai", GPT4O,
     "0.010125", "USD"),
    ("reasoning-billed-apart", chat(100, 300, reasoning=200), "openai", APART, "0.0009",
     "USD"),
    ("deepseek-cny-cache-hit", {"prompt_tokens": 1000, "completion_tokens": 200,
                                "prompt_cache_hit_tokens": 600,
                                "prompt_cache_miss_tokens": 400}, "openai", DEEPSEEK_CNY,
     "0.0027", "CNY"),
    ("deepseek-cny-small", chat(3, 7), "openai", DEEPSEEK_CNY, "0.000062", "CNY"),
    ("bailian-cny-million", chat(1000000, 1000000), "openai", QWEN_CNY, "2.8", "CNY"),
    ("mistral-eur", chat(400, 100), "openai", MISTRAL_EUR, "0.0002", "EUR"),
    ("mistral-eur-odd", chat(1234567, 7654321), "openai", MISTRAL_EUR, "7.96296275", "EUR"),
    # No price for a class the call used: no cost, never a partial one.
    ("cache-read-unpriced", chat(1000, 10, cached=100), "openai", MISTRAL_EUR, None, "EUR"),
    ("cache-write-unpriced", claude(1, 1, write=5), "anthropic", GPT4O, None, "USD"),
    ("output-unpriced", chat(10, 5), "openai", INPUT_ONLY, None, "USD"),
    ("reasoning-unpriced", chat(10, 5, reasoning=5), "openai", INPUT_ONLY, None, "USD"),
    ("no-price", chat(10, 5), "openai", None, None, ""),
]


@pytest.mark.parametrize(("usage", "family", "price", "expected", "currency"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_golden_cost(usage, family, price, expected, currency):
    tokens = usage_reader(family)(usage)
    assert tokens is not None
    got = cost(tokens, price)
    if expected is None:
        assert got is None
    else:
        assert got == Decimal(expected)
        assert price.currency == currency


def test_price_from_client_json():
    """The aigw-client.json form: decimal strings, so no float rounding on the way."""
    price = price_from_json({"currency": "USD", "as_of": "2026-11-01",
                             "per_million": {"input": "0.15", "output": "0.60"}})
    assert price is not None
    assert cost({"input": 3, "output": 7}, price) == Decimal("0.00000465")
    assert price_from_json({"currency": "USD", "per_million": {"input": "x"}}) is None
    assert price_from_json(None) is None
