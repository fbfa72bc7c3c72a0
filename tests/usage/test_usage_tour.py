"""The README tour's `aigw usage` (testing.usage_tour) runs, and says what the README shows.

It runs the real CLI in a subprocess against the stand-ins it starts itself (the
OpenAI and Anthropic admin stand-ins, the Prometheus query API stand-in, moto for
Cost Explorer) and its own OpenBao dev server; the tour checks that no secret is
printed.
"""

from __future__ import annotations

import json

from testing.usage_tour import run


def test_the_tour_attributes_every_source():
    got = run(["usage", "--env", "prod", "--since", "3d", "--json"])
    assert got.returncode == 0, got.stderr
    doc = json.loads(got.stdout)
    rows = {(r["service"], r["currency"]): r["amount"] for r in doc["rows"]}
    assert rows == {("(shared)", "USD"): "1.05",       # OpenAI, batch's shared key
                    ("batch-a", "CNY"): "3.00",         # DeepSeek, the runtime's metrics
                    ("search", "CNY"): "19.20",         # DeepSeek, the runtime's metrics
                    ("search", "USD"): "18.90",         # Bedrock, Cost Explorer by tag
                    ("support-bot", "USD"): "13.91"}    # OpenAI by id, Anthropic by hint
    assert {b["service"]: b["alert"] for b in doc["budgets"]} == {"search": False,
                                                                 "support-bot": True}
