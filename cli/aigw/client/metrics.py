"""OpenTelemetry GenAI client metrics, recorded off the request path (spec/metrics.md).

The request path only appends one tuple to a bounded deque (dropped, and
counted in `dropped`, when full: never a wait, never a failure); a daemon thread
drains it every `POLL` seconds, parses the usage (the response body, or the
usage-bearing events a stream's `StreamTap` kept) and records:

- ``gen_ai.client.operation.duration`` (histogram, ``s``; ``error.type`` on failure);
- ``gen_ai.client.token.usage`` (histogram, ``{token}``; ``gen_ai.token.type``
  ``input``/``output``, the totals the conventions define);
- ``aigw.client.token.usage`` (counter, ``{token}``; ``aigw.token.type``: the
  disjoint billed classes of client/usage.py);
- ``aigw.client.cost`` (counter, ``{currency}``; ``aigw.currency``) only when
  the route's model has a price for every class the call used (client/cost.py).

Synchronous SDK records cost tens of microseconds per call (each histogram
record with a dozen attributes hashes and locks); here they cost the thread, which
records the two histograms per call and adds the counters once per drained batch
per attribute set.
Only when the ``opentelemetry`` API is importable, and only with a meter
provider (given, or the global one once set).
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from aigw.apis import APIS

from .cost import Price, cost, price_from_json
from .usage import from_body, from_events, input_total, output_total

try:
    from opentelemetry import metrics as otel_metrics
except ImportError:  # pragma: no cover - exercised when opentelemetry is absent
    otel_metrics = None  # type: ignore[assignment]

log = logging.getLogger("aigw.client.metrics")

QUEUE_SIZE = 4096
POLL = 0.05          # the thread drains the queue this often while busy
IDLE_EXIT = 60.0     # and stops when idle this long (the next call restarts it)
SEMCONV = "1.44.0"   # the schema whose GenAI names are followed (spec/metrics.md)
DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                    20.48, 40.96, 81.92]
TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864]
# gen_ai.provider.name: the conventions' well-known values by host (by wire API:
# `otel_provider` in aigw/apis.py).
_BY_HOST = {"api.openai.com": "openai", "api.deepseek.com": "deepseek",
            "api.anthropic.com": "anthropic", "api.mistral.ai": "mistral_ai",
            "api.groq.com": "groq", "api.x.ai": "x_ai", "api.perplexity.ai": "perplexity",
            "api.cohere.com": "cohere", "generativelanguage.googleapis.com": "gcp.gemini"}


def provider_name(api: str, host: str, provider: str) -> str:
    """The `gen_ai.provider.name` of a route: a well-known value where one applies
    (by host, then by wire API), else the catalog's provider name."""
    if host in _BY_HOST:
        return _BY_HOST[host]
    if host.endswith(".openai.azure.com"):
        return "azure.ai.openai"
    row = APIS.get(api)
    return row.otel_provider if row is not None and row.otel_provider else provider


def _histogram(meter: Any, name: str, unit: str, description: str, buckets: list[Any]) -> Any:
    try:
        return meter.create_histogram(name, unit=unit, description=description,
                                      explicit_bucket_boundaries_advisory=buckets)
    except TypeError:  # an API older than the bucket advice
        return meter.create_histogram(name, unit=unit, description=description)


class MetricsRecorder:
    """A bounded queue of finished calls and the thread that records their metrics."""

    def __init__(self, meter: Any, service: str, environment: str,
                 config_path: Path | None = None, *, queue_size: int = QUEUE_SIZE,
                 poll: float = POLL, idle_exit: float = IDLE_EXIT) -> None:
        self.service, self.environment = service, environment
        self.config_path = config_path
        self.poll, self.idle_exit, self.queue_size = poll, idle_exit, queue_size
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._duration = _histogram(meter, "gen_ai.client.operation.duration", "s",
                                    "GenAI operation duration", DURATION_BUCKETS)
        self._tokens = _histogram(meter, "gen_ai.client.token.usage", "{token}",
                                  "Number of input and output tokens used", TOKEN_BUCKETS)
        self._classes = meter.create_counter("aigw.client.token.usage", unit="{token}",
                                             description="Tokens by billed class "
                                                         "(aigw.token.type)")
        self._cost = meter.create_counter("aigw.client.cost", unit="{currency}",
                                          description="Cost of calls at the catalog's prices")
        self._attrs: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._token_attrs: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = {}
        self._class_sums: dict[tuple[Any, ...], list[Any]] = {}  # this batch's counter adds
        self._cost_sums: dict[tuple[Any, ...], list[Any]] = {}
        self._prices: dict[tuple[str, str], Price] = {}
        self._prices_revision: str | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = False  # the thread runs (it clears this, then looks once more)
        self._stop = threading.Event()
        self.dropped = 0   # calls not queued (queue full)
        self.recorded = 0  # calls recorded
        self.busy = False  # the thread is recording a batch

    # -- the request path ------------------------------------------------------
    def record(self, item: tuple[Any, ...]) -> None:
        """Queue one finished call; never blocks, never raises."""
        q = self._queue
        if len(q) >= self.queue_size:
            self.dropped += 1
            return
        q.append(item)
        if not self._running:  # (a flag: Thread.is_alive takes a lock on every call)
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                self._running = True
                return
            self._running = True
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="aigw-metrics",
                                            daemon=True)
            self._thread.start()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued call is recorded (tests, shutdown)."""
        end = time.monotonic() + timeout
        while self._queue or self.busy:
            if time.monotonic() > end:
                return False
            time.sleep(0.005)
        return True

    def stop(self, timeout: float = 2.0) -> None:
        """Record what is queued, then stop the thread."""
        self.flush(timeout)
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            with self._lock:
                self._running = False

    def _loop(self) -> None:
        idle_since = time.monotonic()
        q = self._queue
        while not self._stop.is_set():
            if not q:
                now = time.monotonic()
                if now - idle_since > self.idle_exit:
                    with self._lock:
                        self._running = False
                    if not q:  # (a call that saw the flag still set queued nothing after)
                        return
                    with self._lock:
                        self._running = True
                    continue
                self._stop.wait(self.poll)
                continue
            self.busy = True
            try:
                while q:
                    try:
                        self._record(*q.popleft())
                    except Exception:  # noqa: BLE001 - a bug here must not stop the thread
                        log.debug("a call's metrics were not recorded", exc_info=True)
                self._add_sums()
            finally:
                self.busy = False
            idle_since = time.monotonic()

    def _record(self, alias: str, operation: str, rs: Any, outcome: str, seconds: float,
                body: bytes | None, events: list[bytes] | None, revision: str) -> None:
        route = rs.route if rs is not None else None
        key = (alias, operation) if route is None else (
            alias, operation, route.api, route.provider, rs.host, route.model, route.slot,
            rs.index)
        base = self._attrs.get(key)
        if base is None:
            if len(self._attrs) > 4096:  # (old revisions' routes)
                self._attrs.clear()
            base = self._attrs[key] = self._base(key)
        ok = outcome in ("ok", "closed")
        if ok:
            self._duration.record(seconds, base)
        else:
            self._duration.record(seconds, {**base, "error.type": outcome})
        self.recorded += 1
        if route is None or (not ok and outcome != "interrupted"):
            return
        family = rs.wire.api.family if rs.wire is not None else "openai"
        tokens, model = from_events(events, family) if events else from_body(body, family)
        if tokens is None:
            return
        cached = self._token_attrs.get((key, model))
        if cached is None:
            if len(self._token_attrs) > 4096:
                self._token_attrs.clear()
            attrs = {**base, "gen_ai.response.model": model} if model else base
            cached = self._token_attrs[(key, model)] = (
                attrs, {**attrs, "gen_ai.token.type": "input"},
                {**attrs, "gen_ai.token.type": "output"})
        attrs, attrs_in, attrs_out = cached
        self._tokens.record(input_total(tokens), attrs_in)
        self._tokens.record(output_total(tokens), attrs_out)
        # The counters are summed over the batch and added once per attribute set.
        for token_class, count in tokens.items():
            if count or token_class in ("input", "output"):
                k = (key, model, token_class)
                if k not in self._class_sums:
                    self._class_sums[k] = [0, {**attrs, "aigw.token.type": token_class}]
                self._class_sums[k][0] += count
        price = self._price(route.provider, route.model, revision)
        amount = cost(tokens, price)
        if amount is not None and price is not None:
            k = (key, model, price.currency)
            if k not in self._cost_sums:
                self._cost_sums[k] = [Decimal(0), {**attrs, "aigw.currency": price.currency}]
            self._cost_sums[k][0] += amount

    def _add_sums(self) -> None:
        classes, self._class_sums = self._class_sums, {}
        for count, attrs in classes.values():
            self._classes.add(count, attrs)
        costs, self._cost_sums = self._cost_sums, {}
        for amount, attrs in costs.values():
            self._cost.add(float(amount), attrs)

    def _base(self, key: tuple[Any, ...]) -> dict[str, Any]:
        attrs: dict[str, Any] = {"gen_ai.operation.name": key[1], "aigw.service": self.service,
                                 "aigw.environment": self.environment, "aigw.alias": key[0]}
        if len(key) > 2:
            _, _, api, provider, host, model, slot, index = key
            attrs.update({"gen_ai.provider.name": provider_name(api, host, provider),
                          "aigw.provider": provider, "gen_ai.request.model": model,
                          "aigw.slot": slot, "aigw.route": index})
            if host:
                attrs["server.address"] = host
        return attrs

    def _price(self, provider: str, model: str, revision: str) -> Price | None:
        if revision != self._prices_revision:
            self._prices_revision = revision
            self._prices = self._read_prices()
        return self._prices.get((provider, model))

    def _read_prices(self) -> dict[tuple[str, str], Price]:
        """Each route's ``price`` in the config file (read on this thread, on a new revision)."""
        if self.config_path is None:
            return {}
        try:
            doc = json.loads(Path(self.config_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        out: dict[tuple[str, str], Price] = {}
        for alias in (doc.get("aliases") or {}).values():
            for route in (alias or {}).get("routes") or []:
                price = price_from_json(route.get("price")) if isinstance(route, dict) else None
                if price is not None:
                    out[(str(route.get("provider")), str(route.get("model")))] = price
        return out


def recorder_for(service: str, environment: str, config_path: Path | None,
                 meter_provider: Any = None) -> MetricsRecorder | None:
    """A recorder on `meter_provider` (else the global one), or None without the API."""
    if otel_metrics is None:
        return None
    meter = otel_metrics.get_meter("aigw.client", meter_provider=meter_provider,
                                   schema_url=f"https://opentelemetry.io/schemas/{SEMCONV}")
    return MetricsRecorder(meter, service, environment, config_path)
