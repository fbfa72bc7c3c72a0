"""`aigw usage`: spend per service from the providers' own reports, budgets, formats.

testing.openai_admin stands in for OpenAI's organization usage and costs API and
testing.anthropic_admin for Anthropic's Admin usage and cost reports (real HTTP
on 127.0.0.1, paged); the rotation inventory (each slot's journal, with the key
ids recorded when keys were minted) is in a real OpenBao dev server.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.test_json_contract import check
from tests.usage.conftest import ANTHROPIC_ADMIN, DAY, OPENAI_ADMIN, TODAY, seed


def test_spend_per_service_in_three_agreeing_forms(world, capsys: pytest.CaptureFixture[str]):
    oa, an, write = world
    seed(oa, an)
    folder = write()
    got = run_cli(capsys, "usage", str(folder), "--since", "3d", "--json")
    doc = check("usage", got, 0)  # the JSON contract (docs/json.md)
    rows = {r["service"]: r for r in doc["rows"]}
    # per service: bot = 3 x (3.25 + 1.3875) = 13.9125, helper = 3 x 1.20
    assert rows["bot"]["amount"] == "13.91" and rows["bot"]["currency"] == "USD"
    assert rows["helper"]["amount"] == "3.60"
    assert doc["no_provider_report"] == ["deepseek"]
    assert rows["(shared)"]["amount"] == "1.05"  # never charged to batch-a or batch-b
    assert rows["(shared)"]["shared_with"] == ["batch-a", "batch-b"]
    assert "batch-a" not in rows and "batch-b" not in rows
    assert doc["shared_slots"] == [
        {"provider": "deepseek", "slot": "default", "services": ["batch-a", "batch-b"]},
        {"provider": "openai", "slot": "default", "services": ["batch-a", "batch-b"]}]
    drift = {d["provider"]: d for d in doc["drift"]}
    assert drift["openai"]["reported"] == "13.80" and drift["openai"]["computed"] == "14.40"
    assert drift["openai"]["drift_pct"] == 4.3
    assert drift["anthropic"]["drift_pct"] == 0.0
    # Pagination: 3+ daily buckets at 2 (OpenAI) and 3 (Anthropic) per page were all read.
    assert sum(1 for p in an.requests if "page=" in p) >= 1
    text = run_cli(capsys, "usage", str(folder), "--since", "3d").out
    md = run_cli(capsys, "usage", str(folder), "--since", "3d", "--format", "markdown").out
    for r in doc["rows"]:
        assert f"{r['amount']} USD" in text and f"{r['amount']} USD" in md
    for b in doc["budgets"]:
        assert f"{b['spent']} of {b['monthly']} USD" in text and b["spent"] in md
    assert "deepseek: no provider report" in text and "`deepseek`: no provider report" in md
    assert "+4.3%" in text and "+4.3%" in md
    assert "(shared: batch-a, batch-b; not attributable)" in text
    assert "(shared: batch-a, batch-b; not attributable)" in md
    for out in (got.out, text, md, got.err):
        assert OPENAI_ADMIN not in out and ANTHROPIC_ADMIN not in out


def test_by_model_and_slot(world, capsys: pytest.CaptureFixture[str]):
    oa, an, write = world
    seed(oa, an, days=1)
    doc = json.loads(run_cli(capsys, "usage", str(write()), "--since", "1d", "--by", "slot",
                             "--json").out)
    assert {r["slot"]: r["amount"] for r in doc["rows"]} == {"svc-bot": "4.64",
                                                             "svc-helper": "1.20",
                                                             "default": "0.35"}
    doc = json.loads(run_cli(capsys, "usage", str(write()), "--since", "1d", "--by", "alias",
                             "--json").out)
    assert {r["alias"] for r in doc["rows"]} == {"gpt", "claude", "-"}  # "-": shared slot


def test_usage_of_a_key_rotated_away_is_still_attributed(world, capsys):
    """The oldest key of bot's slot is only in an older version of the slot's journal."""
    oa, an, write = world
    oa.record_usage(DAY, "key_bot_old", "proj_1", "gpt-4o", input_tokens=1_000_000,
                    output_tokens=0)
    doc = json.loads(run_cli(capsys, "usage", str(write()), "--since", "1d", "--json").out)
    assert {r["service"]: r["amount"] for r in doc["rows"]} == {"bot": "2.50"}


def test_budget_forecast_exit_1(world, capsys: pytest.CaptureFixture[str]):
    oa, an, write = world
    seed(oa, an)
    ok = run_cli(capsys, "usage", str(write("100000")), "--check-budgets")
    assert ok.code == 0 and "on track" in ok.out
    over = run_cli(capsys, "usage", str(write("5")), "--check-budgets", "--json")
    (b,) = check("usage", over, 1)["budgets"]
    assert b["alert"] is True
    if TODAY.day == 1 or b["exceeds_on"] is None:
        return  # (month to date already over on the first day: no crossing date to check)
    assert dt.date.fromisoformat(b["exceeds_on"]) <= TODAY


def test_a_provider_error_is_one_line(world, capsys: pytest.CaptureFixture[str]):
    oa, an, write = world
    oa.report_status = 503
    got = run_cli(capsys, "usage", str(write()))
    assert got.code == 3
    lines = [x for x in got.err.splitlines() if x.strip()]
    assert len(lines) == 1 and "HTTP 503" in lines[0] and "Traceback" not in got.err
    assert OPENAI_ADMIN not in got.err


def test_missing_admin_key_names_the_variable(world, capsys, monkeypatch):
    _, _, write = world
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY")
    got = run_cli(capsys, "usage", str(write()))
    assert got.code == 2 and "$ANTHROPIC_ADMIN_KEY" in got.err


@pytest.fixture(scope="session")
def mermaid_parse() -> Path:
    """npm `mermaid` (from the npm registry, once, into aigw's cache) and a script that
    runs `mermaid.parse` on every ```mermaid block of its stdin (Node, no browser)."""
    import os
    import shutil
    import subprocess

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed to check the Mermaid charts")
    cache = Path(os.environ.get("AIGW_CACHE") or Path.home() / ".cache" / "aigw")
    folder = cache / "npm-mermaid-11"
    if not (folder / "node_modules" / "mermaid").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent",
                        "--prefix", str(folder), "mermaid@11"], check=True, timeout=600)
    script = folder / "parse.mjs"
    shutil.copy(Path(__file__).resolve().parents[2] / "testing" / "mermaid_parse.mjs", script)
    return script


def test_markdown_chart_parses_with_mermaid(world, capsys, mermaid_parse: Path):
    import subprocess

    oa, an, write = world
    seed(oa, an)
    md = run_cli(capsys, "usage", str(write()), "--since", "3d", "--format", "markdown").out
    assert "xychart-beta" in md
    out = subprocess.run(["node", str(mermaid_parse)], input=md, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == ["blocks 1", "ok xychart"]


def test_forecast_over_budget_before_spend_is(world, capsys: pytest.CaptureFixture[str]):
    """Under budget so far, but the linear forecast crosses it: exit 1, and the day."""
    import calendar

    oa, an, write = world
    seed(oa, an)
    month_days = calendar.monthrange(TODAY.year, TODAY.month)[1]
    if TODAY.day == month_days:
        pytest.skip("on a month's last day the forecast is the month to date")
    spent = Decimal("4.6375") * min(3, TODAY.day)  # bot's three seeded days in this month
    forecast = spent / TODAY.day * month_days
    budget = ((spent + forecast) / 2).quantize(Decimal("0.01"))
    got = run_cli(capsys, "usage", str(write(str(budget))), "--check-budgets")
    assert got.code == 1
    doc = check("usage", run_cli(capsys, "usage", str(write(str(budget))), "--json"), 0)
    (b,) = doc["budgets"]
    assert Decimal(b["spent"]) < budget < Decimal(b["forecast"])
    assert b["exceeds_on"] > DAY
    assert f"on track to exceed on {b['exceeds_on']}" in got.out
