"""A local HTTP server standing in for Prometheus's HTTP query API (not Prometheus).

Written from Prometheus's public HTTP API reference ("Range queries"), for the one
query shape `aigw usage` sends (aigw.usage.prometheus.promql):

    GET /api/v1/query_range?query=sum by (L1, L2, ...) (increase(METRIC{k="v", ...}[1d]))
                           &start=<unix s>&end=<unix s>&step=<s>
    -> {"status": "success", "data": {"resultType": "matrix", "result": [
          {"metric": {L1: ..., ...}, "values": [[<unix s>, "<value>"], ...]}, ...]}}

Errors are `{"status": "error", "errorType": "bad_data", "error": "..."}` with HTTP 400
(a query it does not understand, a missing parameter), or `fail_status` when set
(an outage). The test records raw counter samples (`add_sample`); at each step `t` the
stand-in evaluates `increase` over `(t - 1d, t]` as the counter's growth between the
window's first and last samples, counting a drop as a reset (Prometheus does the same,
then also extrapolates to the window's edges: the stand-in does not, so its numbers
are exact), and sums by the labels named in `by`. Series with no sample in a window
have no value at that step.
"""

from __future__ import annotations

import re
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testing.stub_server import StubServer

_QUERY = re.compile(r"^\s*sum by \(([^)]*)\) \(increase\(([a-zA-Z_:][a-zA-Z0-9_:]*)"
                    r"\{([^}]*)\}\[1d\]\)\)\s*$")
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"\s*(?:,|$)')
DAY = 86400


class PrometheusAPIServer(StubServer):
    """Serve the stand-in from a thread on 127.0.0.1; use as a context manager."""

    methods = ("GET",)

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = (
            defaultdict(list))
        self.queries: list[dict[str, str]] = []
        self.fail_status = 0  # non-zero: every query answers this status (an outage)

    def add_sample(self, metric: str, labels: dict[str, str], at: float, value: float) -> None:
        """Record one sample of a counter series at unix time AT."""
        self.series[(metric, tuple(sorted(labels.items())))].append((at, value))

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        self.send_json(handler, *self._answer(urlsplit(handler.path)))

    @property
    def url(self) -> str:
        """The root URL (`http://127.0.0.1:PORT`), as $AIGW_PROMETHEUS_URL."""
        return self.root

    # -- the API -------------------------------------------------------------
    def _answer(self, url: Any) -> tuple[int, dict[str, Any]]:
        def bad(why: str, status: int = 400) -> tuple[int, dict[str, Any]]:
            return status, {"status": "error", "errorType": "bad_data", "error": why}

        if url.path != "/api/v1/query_range":
            return bad(f"no route {url.path}", 404)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.queries.append(q)
        if self.fail_status:
            return bad("query processing would load too many samples", self.fail_status)
        missing = [p for p in ("query", "start", "end", "step") if p not in q]
        if missing:
            return bad(f"missing parameter {missing[0]!r}")
        m = _QUERY.match(q["query"])
        if m is None:
            return bad(f'1:1: parse error: the stand-in does not understand {q["query"]!r}')
        by = [b.strip() for b in m.group(1).split(",") if b.strip()]
        want = dict(_MATCHER.findall(m.group(3)))
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        sums: dict[tuple[str, ...], dict[float, float]] = defaultdict(dict)
        t = start
        while t <= end:
            for (metric, labels), samples in self.series.items():
                tags = dict(labels)
                if metric != m.group(2) or any(tags.get(k) != v for k, v in want.items()):
                    continue
                inside = [v for (at, v) in sorted(samples) if t - DAY < at <= t]
                if not inside:
                    continue
                grown = sum(b - a if b >= a else b for a, b in zip(inside, inside[1:],
                                                                 strict=False))
                key = tuple(tags.get(b, "") for b in by)
                sums[key][t] = sums[key].get(t, 0.0) + grown
            t += step
        result = [{"metric": {b: v for b, v in zip(by, key, strict=True) if v},
                   "values": [[at, repr(float(v))] for at, v in sorted(points.items())]}
                  for key, points in sorted(sums.items())]
        return 200, {"status": "success", "data": {"resultType": "matrix", "result": result}}

