"""OpenTelemetry GenAI client metrics, recorded off the request path (spec/metrics.md).

The request path only appends one tuple to a bounded deque (dropped, and
counted, when full: never a wait, never a failure). The queue is recorded in
batches: by a daemon thread every `INTERVAL` seconds (sooner when the queue is
half full or holds `WAKE_BYTES` of bodies; it exits when idle `IDLE_EXIT`
seconds), when a metric reader collects (the callback of an observable
instrument, which the SDK runs before it reads: a reader never misses a
finished call), and on `flush()`/`stop()`. A batch parses each call's usage
(client/usage.py), records the two histograms per call (the SDK has no weighted
record), and adds the counters (tokens by class, cost, drops) once per
attribute set. The names are in client/semconv.py. Only when the
``opentelemetry`` API is importable, and only with a meter provider (given,
or the global one once set).
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from .cost import Price, cost, prices_in_config
from .semconv import METER, SCHEMA_URL, Instruments, provider_name
from .usage import from_body, from_events, input_total, output_total

try:
    from opentelemetry import metrics as otel_metrics
except ImportError:  # pragma: no cover - exercised when opentelemetry is absent
    otel_metrics = None  # type: ignore[assignment]

log = logging.getLogger("aigw.client.metrics")

QUEUE_SIZE = 4096
INTERVAL = 1.0       # the thread records the queued calls this often (or when half full)
IDLE_EXIT = 60.0     # and stops when idle this long (the next call restarts it)
WAKE_BYTES = 16 << 20  # or when the queued response bodies reach this many bytes
CACHE_MAX = 4096     # attribute sets kept (old revisions' routes are forgotten past it)
_OK = frozenset(("ok", "closed"))

# Every recorder of the process: a reader's collect records all of their queues.
_LIVE: weakref.WeakSet[MetricsRecorder] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()


def _drain_live(_options: Any = None) -> list[Any]:
    """The SDK's collect hook (an observable instrument's callback, run before a
    reader reads): record every recorder's queued calls. Reports no points."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for rec in live:
        try:
            rec.drain()
        except Exception:  # noqa: BLE001 - the others' calls still get recorded
            log.debug("queued metrics not recorded at a collect", exc_info=True)
    return []


class MetricsRecorder:
    """A bounded queue of finished calls, recorded in batches (see the module doc)."""

    def __init__(self, meter: Any, service: str, environment: str,
                 config_path: Path | None = None, *, queue_size: int = QUEUE_SIZE,
                 interval: float | None = None, idle_exit: float = IDLE_EXIT) -> None:
        self.service, self.environment = service, environment
        self.config_path = config_path
        self.interval = INTERVAL if interval is None else interval
        self.idle_exit, self.queue_size = idle_exit, queue_size
        self._wake_at = max(1, queue_size // 2)
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        ins = Instruments(meter, _drain_live)
        self._duration, self._tokens, self._classes = ins.duration, ins.tokens, ins.classes
        self._cost, self._dropped = ins.cost, ins.dropped
        self._scope = {"aigw.service": service, "aigw.environment": environment}
        self._attrs: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._token_attrs: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = {}
        self._class_sums: dict[tuple[Any, ...], list[Any]] = {}  # this batch's counter adds
        self._cost_sums: dict[tuple[Any, ...], list[Any]] = {}
        self._prices: dict[tuple[str, str], Price] = {}
        self._prices_revision: str | None = None
        self._lock = threading.Lock()         # starting and stopping the thread
        self._drain_lock = threading.Lock()   # one batch at a time (thread, collect, flush)
        self._thread: threading.Thread | None = None
        self._running = False  # the thread runs (it clears this, then looks once more)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.dropped = 0          # calls not queued (queue full)
        self._bytes = 0           # of the bodies queued (about: a batch resets it)
        self._dropped_added = 0   # of which the counter has seen
        self.recorded = 0         # calls recorded
        self.cpu = 0.0            # CPU seconds spent recording them (benchmarks/metrics.py)
        with _LIVE_LOCK:
            _LIVE.add(self)

    # -- the request path ------------------------------------------------------
    def record(self, item: tuple[Any, ...]) -> None:
        """Queue one finished call; never blocks, never raises."""
        q = self._queue
        n = len(q)
        if n >= self.queue_size:
            self.dropped += 1
            return
        q.append(item)
        body = item[5]
        if body is not None:  # (the queue holds the bodies: many megabytes, record now)
            self._bytes += len(body)
            if self._bytes > WAKE_BYTES and not self._wake.is_set():
                self._wake.set()
        if n == self._wake_at:  # half full: record now rather than at the next tick
            self._wake.set()
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

    # -- batches -----------------------------------------------------------------
    def drain(self, timeout: float = -1) -> bool:
        """Record the calls queued now, on the caller's thread (after a batch the
        thread is recording, if any). False if that batch outlasted `timeout`."""
        if not self._drain_lock.acquire(timeout=timeout):
            return False
        cpu0 = time.thread_time()
        self._bytes = 0
        try:
            q = self._queue
            for _ in range(len(q)):  # (calls queued meanwhile wait for the next batch)
                try:
                    self._record(*q.popleft())
                except Exception:  # noqa: BLE001 - a bug here must not stop recording
                    log.debug("a call's metrics were not recorded", exc_info=True)
            self._add_sums()
        finally:
            self.cpu += time.thread_time() - cpu0
            self._drain_lock.release()
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Record every queued call now (tests, shutdown); False on timeout."""
        return self.drain(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread, then record what is queued."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self.drain(timeout)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    # -- the thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            with self._lock:
                self._running = False

    def _loop(self) -> None:
        idle_since = time.monotonic()
        q, wake, stop = self._queue, self._wake, self._stop
        while not stop.is_set():
            wake.wait(self.interval)
            wake.clear()
            if stop.is_set():
                return  # (stop records what is left)
            if q:
                self.drain()
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_exit:
                with self._lock:
                    self._running = False
                if not q:  # (a call that saw the flag still set queued nothing after)
                    return
                with self._lock:
                    self._running = True

    def _record(self, alias: str, operation: str, rs: Any, outcome: str, seconds: float,
                body: bytes | None, events: list[bytes] | None, revision: str) -> None:
        key = (alias, operation, rs)  # (a RouteState hashes by identity: cheap)
        base = self._attrs.get(key)
        if base is None:
            if len(self._attrs) >= CACHE_MAX:
                self._attrs.clear()
            base = self._attrs[key] = self._base(alias, operation, rs)
        ok = outcome in _OK
        if ok:
            self._duration.record(seconds, base)
        else:
            self._duration.record(seconds, {**base, "error.type": outcome})
        self.recorded += 1
        if rs is None or (not ok and outcome != "interrupted"):
            return
        tokens, model = from_events(events, rs.usage) if events else from_body(body, rs.usage)
        if tokens is None:
            return
        cached = self._token_attrs.get((key, model))
        if cached is None:
            if len(self._token_attrs) >= CACHE_MAX:
                self._token_attrs.clear()
            attrs = {**base, "gen_ai.response.model": model} if model else base
            cached = self._token_attrs[(key, model)] = (
                attrs, {**attrs, "gen_ai.token.type": "input"},
                {**attrs, "gen_ai.token.type": "output"})
        attrs, attrs_in, attrs_out = cached
        self._tokens.record(input_total(tokens), attrs_in)
        self._tokens.record(output_total(tokens), attrs_out)
        # The counters are summed over the batch and added once per attribute set.
        sums = self._class_sums
        for token_class, count in tokens.items():
            if count or token_class in ("input", "output"):
                k = (key, model, token_class)
                entry = sums.get(k)
                if entry is None:
                    entry = sums[k] = [0, {**attrs, "aigw.token.type": token_class}]
                entry[0] += count
        route = rs.route
        price = self._price(route.provider, route.model, revision)
        if price is not None and price.covers(tokens):
            # Cost is linear: the batch's tokens are priced once per attribute set.
            pk = (key, model, id(price))
            entry = self._cost_sums.get(pk)
            if entry is None:
                entry = self._cost_sums[pk] = [
                    dict.fromkeys(tokens, 0), price,
                    {**attrs, "aigw.currency": price.currency}]
            counted = entry[0]
            for token_class, count in tokens.items():
                counted[token_class] = counted.get(token_class, 0) + count

    def _add_sums(self) -> None:
        classes, self._class_sums = self._class_sums, {}
        for count, attrs in classes.values():
            self._classes.add(count, attrs)
        costs, self._cost_sums = self._cost_sums, {}
        for counted, price, attrs in costs.values():
            amount = cost(counted, price)
            if amount is not None:
                self._cost.add(float(amount), attrs)
        dropped = self.dropped
        if dropped != self._dropped_added:
            self._dropped.add(dropped - self._dropped_added, self._scope)
            self._dropped_added = dropped

    def _base(self, alias: str, operation: str, rs: Any) -> dict[str, Any]:
        attrs: dict[str, Any] = {"gen_ai.operation.name": operation, **self._scope,
                                 "aigw.alias": alias}
        if rs is not None:
            route = rs.route
            attrs.update({"gen_ai.provider.name": provider_name(route.api, rs.host,
                                                                route.provider),
                          "aigw.provider": route.provider,
                          "gen_ai.request.model": route.model,
                          "aigw.slot": route.slot, "aigw.route": rs.index})
            if rs.host:
                attrs["server.address"] = rs.host
        return attrs

    def _price(self, provider: str, model: str, revision: str) -> Price | None:
        if revision != self._prices_revision:
            self._prices_revision = revision
            self._prices = self._read_prices()
        return self._prices.get((provider, model))

    def _read_prices(self) -> dict[tuple[str, str], Price]:
        """Each route's ``price`` in the config file (read in a batch, on a new revision)."""
        if self.config_path is None:
            return {}
        try:
            doc = json.loads(Path(self.config_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return prices_in_config(doc)


def recorder_for(service: str, environment: str, config_path: Path | None,
                 meter_provider: Any = None) -> MetricsRecorder | None:
    """A recorder on `meter_provider` (else the global one), or None without the API."""
    if otel_metrics is None:
        return None
    meter = otel_metrics.get_meter(METER, meter_provider=meter_provider, schema_url=SCHEMA_URL)
    return MetricsRecorder(meter, service, environment, config_path)
