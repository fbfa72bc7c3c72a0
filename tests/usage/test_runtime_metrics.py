"""`aigw usage` for a provider without a usage report: what the runtime's metrics say.

testing.prometheus_api stands in for Prometheus's HTTP query API (real HTTP on
127.0.0.1; it evaluates the one query shape aigw sends over counter samples the test
records, without Prometheus's extrapolation); the admin stand-ins and OpenBao are
those of the other usage tests.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from testing.prometheus_api import PrometheusAPIServer

from tests.helpers import run_cli
from tests.test_json_contract import check
from tests.usage.conftest import TODAY

METRIC = "aigw_client_token_usage_total"
MIDNIGHT = dt.datetime.combine(TODAY, dt.time(), dt.UTC).timestamp()


def _count(prom: PrometheusAPIServer, service: str, slot: str, kind: str, n: int,
           env: str = "prod") -> None:
    """A counter that grew by N tokens today (two samples, 0 then N)."""
    labels = {"aigw_provider": "deepseek", "aigw_environment": env, "aigw_service": service,
              "aigw_alias": "ds", "aigw_slot": slot, "gen_ai_request_model": "deepseek-chat",
              "aigw_token_type": kind, "aigw_revision": "abc"}
    prom.add_sample(METRIC, labels, MIDNIGHT + 60, 0)
    prom.add_sample(METRIC, labels, MIDNIGHT + 120, n)


@pytest.fixture
def prom(monkeypatch: pytest.MonkeyPatch):
    with PrometheusAPIServer() as server:
        monkeypatch.setenv("AIGW_PROMETHEUS_URL", server.url)
        yield server


def test_runtime_metrics_fill_in_a_provider_without_a_report(world, prom, capsys):
    """helper's own slot, and batch-a on the shared slot: the runtime names its service."""
    _, _, write = world
    _count(prom, "helper", "svc-helper", "input", 1_000_000)
    _count(prom, "helper", "svc-helper", "output", 100_000)
    _count(prom, "batch-a", "default", "input", 500_000)
    _count(prom, "helper", "svc-helper", "input", 7_000_000, env="staging")  # not prod's
    folder = write()
    got = run_cli(capsys, "usage", str(folder), "--since", "1d", "--json")
    doc = check("usage", got, 0)
    rows = {r["service"]: r for r in doc["rows"]}
    # helper: 1M x 2 + 0.1M x 8 = 2.80 CNY; batch-a: 0.5M x 2 = 1.00 CNY (not "shared")
    assert rows["helper"]["amount"] == "2.80" and rows["helper"]["currency"] == "CNY"
    assert rows["helper"]["tokens"] == 1_100_000
    assert rows["batch-a"]["amount"] == "1.00" and rows["batch-a"]["shared_with"] == []
    assert doc["no_provider_report"] == ["deepseek"]
    assert doc["runtime_metrics"] == {"prometheus": prom.url, "providers": ["deepseek"]}
    assert "deepseek" not in {d["provider"] for d in doc["drift"]}  # no cost report: no drift
    (q,) = {x["query"] for x in prom.queries}
    assert 'aigw_provider="deepseek"' in q and 'aigw_environment="prod"' in q
    by_alias = json.loads(run_cli(capsys, "usage", str(folder), "--since", "1d", "--by",
                                  "alias", "--json").out)
    assert {r["alias"]: r["amount"] for r in by_alias["rows"]} == {"ds": "3.80"}
    text = run_cli(capsys, "usage", str(folder), "--since", "1d").out
    md = run_cli(capsys, "usage", str(folder), "--since", "1d", "--format", "markdown").out
    note = f"deepseek: no provider report; its rows are what the runtime's metrics say " \
           f"(Prometheus at {prom.url})"
    assert note in text and note.replace("deepseek", "`deepseek`", 1) in md
    assert "shared slot deepseek/default: batch-a, batch-b (the runtime's metrics name each " \
           "service)" in text
    for r in doc["rows"]:
        assert f"{r['amount']} {r['currency']}" in text
        assert f"{r['amount']} {r['currency']}" in md


def test_without_prometheus_it_stays_no_provider_report(world, capsys, monkeypatch):
    _, _, write = world
    monkeypatch.delenv("AIGW_PROMETHEUS_URL", raising=False)
    got = run_cli(capsys, "usage", str(write()), "--since", "1d", "--json")
    doc = check("usage", got, 0)
    assert doc["runtime_metrics"] == {"prometheus": None, "providers": []}
    text = run_cli(capsys, "usage", str(write()), "--since", "1d").out
    assert "deepseek: no provider report (see the runtime's aigw.client.cost metric, or " \
           "set $AIGW_PROMETHEUS_URL)" in text


def test_a_prometheus_error_is_one_line(world, prom, capsys, monkeypatch):
    _, _, write = world
    prom.fail_status = 503
    monkeypatch.setenv("AIGW_PROMETHEUS_URL", prom.url.replace("http://", "http://u:pw-canary@"))
    got = run_cli(capsys, "usage", str(write()), "--since", "1d")
    assert got.code == 3
    lines = [x for x in got.err.splitlines() if x.strip()]
    assert len(lines) == 1 and "deepseek: Prometheus at" in lines[0] and "HTTP 503" in lines[0]
    assert "pw-canary" not in got.err and "Traceback" not in got.err
