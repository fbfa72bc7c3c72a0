"""What the runtime's metrics say, from Prometheus: spend of providers without a report.

DeepSeek, Volcengine Ark, Bailian (and any provider without a usage API) report
nothing aigw can read. Every aigw client counts what it used itself
(`aigw.client.token.usage`, by `aigw.token.type`: spec/metrics.md); where those
metrics land in a Prometheus ($AIGW_PROMETHEUS_URL), `aigw usage` asks it, over
the HTTP API (`GET /api/v1/query_range`), for each day's tokens per service,
alias, slot, model and class of one provider in one environment:

    sum by (aigw_service, aigw_alias, aigw_slot, gen_ai_request_model, aigw_token_type)
      (increase(aigw_client_token_usage_total{aigw_provider="P", aigw_environment="E"}[1d]))

evaluated at each day's end (`step` one day). Prometheus names OTel metrics and
attributes this way (its OTLP receiver and the OTel Prometheus exporter alike):
dots become `_`, a counter gains `_total`, a unit in braces (`{token}`) adds no
suffix. The tokens are priced with the catalog (report.py), as
`aigw.client.cost` is. The runtime names its service, so a shared slot's spend
is still per service here. `increase()` is Prometheus's estimate (extrapolated to
the day's edges, counter resets handled): it is what the fleet *reported*, not a bill.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import httpx

from aigw.envvars import PROMETHEUS_URL
from aigw.usage.sources import ReportError, UsageRow

METRIC = "aigw_client_token_usage_total"  # aigw.client.token.usage, as Prometheus names it
BY = ("aigw_service", "aigw_alias", "aigw_slot", "gen_ai_request_model", "aigw_token_type")
DAY = 86400


def public_url(url: str) -> str:
    """URL without a user or password, for output and errors."""
    parts = httpx.URL(url)
    return str(parts.copy_with(userinfo=b"")) if parts.userinfo else url


def promql(provider: str, env: str) -> str:
    """The query: each day's tokens of PROVIDER in ENV by service, alias, slot, model, class."""
    return (f"sum by ({', '.join(BY)}) (increase({METRIC}{{aigw_provider=\"{provider}\", "
            f"aigw_environment=\"{env}\"}}[1d]))")


def runtime_usage(url: str, provider: str, env: str, start: dt.datetime, end: dt.datetime,
                  http: httpx.Client | None = None) -> list[UsageRow]:
    """Rows of tokens per day, service, alias, slot and model, from Prometheus at URL."""
    http = http or httpx.Client(timeout=30.0)
    api = f"{url.rstrip('/')}/api/v1/query_range"
    params = {"query": promql(provider, env), "start": str(int(start.timestamp()) + DAY),
              "end": str(int(end.timestamp())), "step": str(DAY)}
    where = f"{provider}: Prometheus at {public_url(url)}"
    try:
        resp = http.get(api, params=params)
    except httpx.HTTPError as exc:
        raise ReportError(f"{where}: cannot reach it ({type(exc).__name__})") from None
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or resp.status_code != 200 or doc.get("status") != "success":
        why = doc.get("error") if isinstance(doc, dict) else None
        raise ReportError(f"{where}: /api/v1/query_range answered HTTP {resp.status_code}"
                          + (f": {str(why)[:200]}" if why else ""),
                          hint=f"check ${PROMETHEUS_URL} is Prometheus's root URL")
    tokens: dict[tuple[str, ...], dict[str, int]] = defaultdict(dict)
    for series in (doc.get("data") or {}).get("result") or []:
        labels = series.get("metric") or {}
        kind = str(labels.get("aigw_token_type") or "")
        for stamp, value in series.get("values") or []:
            try:
                n = float(value)
            except (TypeError, ValueError):
                continue
            if not kind or not math.isfinite(n) or n <= 0:
                continue
            day = dt.datetime.fromtimestamp(float(stamp) - DAY, dt.UTC).date().isoformat()
            key = (day, *(str(labels.get(b) or "") for b in BY[:4]))
            tokens[key][kind] = tokens[key].get(kind, 0) + round(n)
    return [UsageRow(day, provider, None, None, model or "?", classes, service=svc or None,
                     alias=alias or None, slot=slot or None)
            for (day, svc, alias, slot, model), classes in sorted(tokens.items())]

