"""Prices in git: each bad price is one line naming file:line and the field, exit 2;
a good one reaches aigw-client.json as decimal strings."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.catalog.prices import CLASSES, ModelPrice
from aigw.client.usage import CLASSES as CLIENT_CLASSES
from tests.helpers import run_cli

BASE = """\
environments:
  prod: {}
providers:
  deepseek:
    api: openai
    base_url: https://api.deepseek.com
    region: cn
    prices:
      deepseek-chat: {currency: USD, as_of: 2026-11-01, input: "0.28", cache_read: "0.028", output: 0.42}
models:
  chat:
    routes:
      - {provider: deepseek, model: deepseek-chat}
services:
  bot:
    environments: [prod]
    models: [chat]
"""
FIELD = "providers.deepseek.prices.deepseek-chat"

CASES = [
    ("per-token price", BASE.replace('input: "0.28"', "input: 0.00000028"),
     f"{FIELD}.input", "looks like a per-token price"),
    ("negative", BASE.replace('input: "0.28"', 'input: "-1"'),
     f"{FIELD}.input", "cannot be negative"),
    ("not a number", BASE.replace('input: "0.28"', 'input: "cheap"'),
     f"{FIELD}.input", "is not a number"),
    ("unknown currency", BASE.replace("currency: USD", "currency: RMB"),
     f"{FIELD}.currency", "'RMB' is not a currency code"),
    ("lower-case currency", BASE.replace("currency: USD", "currency: usd"),
     f"{FIELD}.currency", "'usd' is not a currency code"),
    ("future date", BASE.replace("as_of: 2026-11-01", "as_of: 2999-01-01"),
     f"{FIELD}.as_of", "is in the future"),
    ("not a date", BASE.replace("as_of: 2026-11-01", "as_of: 2026-13-01"),
     f"{FIELD}.as_of", "month value is outside"),
    ("unknown class", BASE.replace('output: 0.42', 'output: 0.42, thinking: "1"'),
     f"{FIELD}.thinking", "unknown field"),
    ("no input price", BASE.replace('input: "0.28", ', ""),
     f"{FIELD}.input", "required field is missing"),
]


@pytest.mark.parametrize(("text", "key", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_price_is_one_located_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       text: str, key: str, message: str) -> None:
    (tmp_path / "aigw.yaml").write_text(text)
    result = run_cli(capsys, "validate", str(tmp_path), "--no-policy")
    assert result.code == 2
    (line,) = [x for x in result.err.splitlines() if key in x]
    assert line.startswith(f"{tmp_path / 'aigw.yaml'}:9:")
    assert message in line
    assert "Traceback" not in result.err


def test_price_reaches_the_client_config(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "aigw.yaml").write_text(BASE)
    price = load_catalog(tmp_path).catalog.providers["deepseek"].prices["deepseek-chat"]
    assert price.output == Decimal("0.42")  # a YAML float read as its decimal text
    out = tmp_path / "out"
    assert run_cli(capsys, "render", str(tmp_path), "--out", str(out)).code == 0
    doc = json.loads((out / "prod" / "bot" / "aigw-client.json").read_text())
    assert doc["aliases"]["chat"]["routes"][0]["price"] == {
        "currency": "USD", "as_of": "2026-11-01",
        "per_million": {"input": "0.28", "cache_read": "0.028", "output": "0.42"}}


def test_price_classes_are_the_clients() -> None:
    """One list of billed classes: the catalog's price fields are the runtime's classes."""
    assert CLASSES == CLIENT_CLASSES
    assert set(ModelPrice.model_fields) - {"currency", "as_of", "note"} == set(CLASSES)
