"""OpenTelemetry spans, one per call, when `opentelemetry` is importable.

Attributes follow the GenAI semantic conventions (``gen_ai.*``) plus ``aigw.*``:
service, environment, alias, attempt (how many tries), outcome, slot, and
``aigw.config.revision`` (the config revision the call ran on). Without
opentelemetry every call here is a no-op.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from .errors import Attempt
from .router import RouteState

try:
    from opentelemetry import trace
except ImportError:  # pragma: no cover - exercised when opentelemetry is absent
    trace = None  # type: ignore[assignment]


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
    """One client call's span (possibly several attempts)."""

    __slots__ = ("_span", "attempts", "revision", "recording")

    def __init__(self, span: Any) -> None:
        self._span = span
        # True while the span is open and recorded (worth reading usage for); while
        # False, `attempt` and `finish` do nothing (callers may skip them).
        self.recording = span is not None
        self.attempts = 0
        self.revision = ""  # of the config the call started on (set by the plan)

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
                "gen_ai.provider.name": a.provider, "aigw.slot": a.slot,
                "aigw.route": a.route, "aigw.outcome": a.outcome,
                "aigw.latency_ms": round(a.latency * 1000, 3)})

    def finish(self, route: RouteState | None, outcome: str,
               response: dict[str, Any] | None = None) -> None:
        """Set the final attributes and end the span (once; later calls do nothing)."""
        span, self._span = self._span, None
        if span is None:
            return
        self.recording = False
        attrs: dict[str, Any] = {"aigw.attempt": self.attempts, "aigw.outcome": outcome,
                                 "aigw.config.revision": self.revision}
        if route is not None:
            r = route.route
            attrs.update({"gen_ai.system": r.provider, "gen_ai.provider.name": r.provider,
                          "gen_ai.request.model": r.model, "aigw.slot": r.slot,
                          "server.address": route.host})
        if response:
            if isinstance(response.get("model"), str):
                attrs["gen_ai.response.model"] = response["model"]
            usage = response.get("usage")
            if isinstance(usage, dict):
                for src, dst in (("prompt_tokens", "gen_ai.usage.input_tokens"),
                                 ("completion_tokens", "gen_ai.usage.output_tokens")):
                    if isinstance(usage.get(src), int):
                        attrs[dst] = usage[src]
        span.set_attributes(attrs)
        if outcome not in ("ok", "closed") and trace is not None:
            span.set_status(trace.Status(trace.StatusCode.ERROR, outcome))
        span.end()


class Telemetry:
    """Starts `CallSpan`s on the given (or the global) tracer provider."""

    def __init__(self, service: str, environment: str, tracer_provider: Any = None) -> None:
        self._base = {"aigw.service": service, "aigw.environment": environment,
                      "gen_ai.operation.name": "chat"}
        self._tracer = None
        self._global = tracer_provider is None
        if trace is not None:
            trace.get_tracer_provider()  # loads one named by OTEL_PYTHON_TRACER_PROVIDER
            self._tracer = trace.get_tracer("aigw.client", tracer_provider=tracer_provider)

    def start(self, alias: str, operation: str = "chat") -> CallSpan:
        """Start a span for one call of `alias`."""
        if self._tracer is None or (self._global and (
                trace._TRACER_PROVIDER is None if _PROVIDER_VAR else _no_global_provider())):
            return _NO_SPAN  # no tracer provider is set: spans would be no-ops
        attrs = {**self._base, "aigw.alias": alias, "gen_ai.operation.name": operation}
        span = self._tracer.start_span(f"{operation} {alias}", kind=trace.SpanKind.CLIENT,
                                       attributes=attrs)
        return CallSpan(span if span.is_recording() else None)


_NO_SPAN = CallSpan(None)  # ends at once; shared by every call while tracing is off
