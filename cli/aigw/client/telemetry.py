"""OpenTelemetry spans, one per call, and the call's metrics, when `opentelemetry` is importable.

Attributes follow the GenAI semantic conventions (``gen_ai.*``) plus ``aigw.*``:
service, environment, alias, attempt (how many tries), outcome, provider (the
catalog's name; ``gen_ai.provider.name`` holds the conventions' well-known
value), slot, and ``aigw.config.revision`` (the config revision the call ran
on). Metrics (client/metrics.py, spec/metrics.md) are recorded by a thread from
what `finish` queues. Without opentelemetry every call here is a no-op.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .errors import Attempt
from .metrics import MetricsRecorder, recorder_for
from .router import RouteState
from .semconv import provider_name
from .usage import StreamTap, from_body, from_events, input_total, output_total

try:
    from opentelemetry import trace
    from opentelemetry.metrics import _internal as _metrics_state
except ImportError:  # pragma: no cover - exercised when opentelemetry is absent
    trace = None  # type: ignore[assignment]
    _metrics_state = None  # type: ignore[assignment]


_UNSET = object()
_NO_CONTEXT = nullcontext()  # reusable: it holds no state
# The variable `set_tracer_provider` sets, read directly on each call when it exists.
_PROVIDER_VAR = trace is not None and hasattr(trace, "_TRACER_PROVIDER")


def _no_global_provider() -> bool:
    """True while no global tracer provider is set: spans would be no-ops.

    Reads the variable `set_tracer_provider` sets (one attribute read per call;
    `get_tracer_provider()` would also look up an environment variable each time),
    through the public call when an opentelemetry version lacks it.
    """
    current = getattr(trace, "_TRACER_PROVIDER", _UNSET)
    if current is _UNSET:
        return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return current is None


class CallSpan:
    """One client call's span (possibly several attempts) and its metrics."""

    __slots__ = ("_span", "attempts", "revision", "recording", "_metrics", "_t0", "alias",
                 "operation", "tap")

    def __init__(self, span: Any, metrics: MetricsRecorder | None = None, alias: str = "",
                 operation: str = "") -> None:
        self._span = span
        self._metrics = metrics
        # True while the span is open and recorded, or metrics are on (worth reading
        # usage for); while False, `attempt` and `finish` do nothing (callers may skip them).
        self.recording = span is not None or metrics is not None
        self.attempts = 0
        self.revision = ""  # of the config the call started on (set by the plan)
        self.alias, self.operation = alias, operation
        self._t0 = time.perf_counter() if metrics is not None else 0.0
        self.tap: StreamTap | None = None  # a stream's usage events, when metrics are on

    def stream_tap(self) -> StreamTap | None:
        """A tap for the stream this call returns, when its usage is worth keeping."""
        if self._metrics is None and self._span is None:
            return None
        self.tap = StreamTap()
        return self.tap

    def use(self) -> AbstractContextManager[Any]:
        """Make this span current (so HTTP client spans nest under it)."""
        if self._span is None:
            return _NO_CONTEXT
        return trace.use_span(self._span, end_on_exit=False)

    def attempt(self, a: Attempt) -> None:
        """Count an attempt and record it as a span event."""
        if self._span is not None:  # (the shared no-op span counts nothing)
            self.attempts += 1
            self._span.add_event("aigw.attempt", {
                "aigw.provider": a.provider, "aigw.slot": a.slot,
                "aigw.route": a.route, "aigw.outcome": a.outcome,
                "aigw.latency_ms": round(a.latency * 1000, 3)})

    def finish(self, route: RouteState | None, outcome: str, body: bytes | None = None) -> None:
        """Queue the call's metrics, set the span's final attributes and end it (once;
        later calls do nothing). `body`: the JSON answer of a call that succeeded."""
        metrics, self._metrics = self._metrics, None
        if metrics is not None:
            tap = self.tap
            metrics.record((self.alias, self.operation, route, outcome,
                            time.perf_counter() - self._t0, body,
                            tap.blocks if tap is not None else None, self.revision))
        span, self._span = self._span, None
        self.recording = False
        if span is None:
            return
        attrs: dict[str, Any] = {"aigw.attempt": self.attempts, "aigw.outcome": outcome,
                                 "aigw.config.revision": self.revision}
        if route is not None:
            r = route.route
            attrs.update({"gen_ai.provider.name": provider_name(r.api, route.host, r.provider),
                          "aigw.provider": r.provider, "aigw.route": route.index,
                          "gen_ai.request.model": r.model, "aigw.slot": r.slot,
                          "server.address": route.host})
            if self.tap is not None and self.tap.blocks:
                tokens, model = from_events(self.tap.blocks, route.usage)
            else:
                tokens, model = from_body(body, route.usage)
            if model:
                attrs["gen_ai.response.model"] = model
            if tokens is not None:
                attrs["gen_ai.usage.input_tokens"] = input_total(tokens)
                attrs["gen_ai.usage.output_tokens"] = output_total(tokens)
                if tokens["cache_read"]:
                    attrs["gen_ai.usage.cache_read.input_tokens"] = tokens["cache_read"]
                if tokens["cache_write"]:
                    attrs["gen_ai.usage.cache_creation.input_tokens"] = tokens["cache_write"]
                if tokens["reasoning"]:
                    attrs["gen_ai.usage.reasoning.output_tokens"] = tokens["reasoning"]
        span.set_attributes(attrs)
        if outcome not in ("ok", "closed") and trace is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, outcome))
        span.end()


class Telemetry:
    """Starts `CallSpan`s on the given (or the global) tracer and meter providers."""

    def __init__(self, service: str, environment: str, tracer_provider: Any = None,
                 meter_provider: Any = None, config_path: Any = None) -> None:
        self._base = {"aigw.service": service, "aigw.environment": environment,
                      "gen_ai.operation.name": "chat"}
        self._tracer = None
        self._global = tracer_provider is None
        if trace is not None:
            trace.get_tracer_provider()  # loads one named by OTEL_PYTHON_TRACER_PROVIDER
            self._tracer = trace.get_tracer("aigw.client", tracer_provider=tracer_provider)
        # Metrics: on with a given meter provider, or once a global one is set.
        self.metrics = recorder_for(service, environment, config_path, meter_provider)
        self._metrics_global = meter_provider is None

    def _metrics_on(self) -> MetricsRecorder | None:
        m = self.metrics
        if m is not None and self._metrics_global and _metrics_state._METER_PROVIDER is None:
            return None  # no meter provider is set: records would be no-ops
        return m

    def start(self, alias: str, operation: str = "chat") -> CallSpan:
        """Start a span for one call of `alias` (and time it, when metrics are on)."""
        metrics = self._metrics_on() if self.metrics is not None else None
        if self._tracer is None or (self._global and (
                trace._TRACER_PROVIDER is None if _PROVIDER_VAR else _no_global_provider())):
            # no tracer provider is set: spans would be no-ops
            return _NO_SPAN if metrics is None else CallSpan(None, metrics, alias, operation)
        attrs = {**self._base, "aigw.alias": alias, "gen_ai.operation.name": operation}
        span = self._tracer.start_span(f"{operation} {alias}", kind=trace.SpanKind.CLIENT,
                                       attributes=attrs)
        return CallSpan(span if span.is_recording() else None, metrics, alias, operation)

    def close(self) -> None:
        """Record the queued metrics and stop their thread."""
        if self.metrics is not None:
            self.metrics.stop()


_NO_SPAN = CallSpan(None)  # ends at once; shared by every call while tracing is off
