"""The names the runtime's metrics follow (spec/metrics.md): the OpenTelemetry GenAI
conventions' instruments, bucket advice and well-known provider values, and aigw's own.

One place for every metric name, unit and description the Python client emits;
client/metrics.py records them, client/telemetry.py puts the same provider value
on spans.
"""

from __future__ import annotations

from typing import Any

from aigw.apis import APIS

SEMCONV = "1.44.0"   # the schema whose GenAI names are followed (spec/metrics.md)
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV}"
METER = "aigw.client"
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


class Instruments:
    """The runtime's instruments on one meter (a second set on the same meter is
    the first one: the SDK returns an instrument already registered)."""

    def __init__(self, meter: Any, collect_hook: Any) -> None:
        self.duration = _histogram(meter, "gen_ai.client.operation.duration", "s",
                                   "GenAI operation duration", DURATION_BUCKETS)
        self.tokens = _histogram(meter, "gen_ai.client.token.usage", "{token}",
                                 "Number of input and output tokens used", TOKEN_BUCKETS)
        self.classes = meter.create_counter("aigw.client.token.usage", unit="{token}",
                                            description="Tokens by billed class "
                                                        "(aigw.token.type)")
        self.cost = meter.create_counter("aigw.client.cost", unit="{currency}",
                                         description="Cost of calls at the catalog's prices")
        self.dropped = meter.create_counter("aigw.client.metrics.dropped", unit="{call}",
                                            description="Calls whose metrics were dropped "
                                                        "(the recording queue was full)")
        # The collect hook: its callback runs before a reader reads; it reports no
        # points (the first registration on a meter is the one the SDK keeps).
        meter.create_observable_gauge("aigw.client.metrics.queue", callbacks=[collect_hook],
                                      unit="{call}",
                                      description="Records queued calls before a reader "
                                                  "collects (reports no points)")
