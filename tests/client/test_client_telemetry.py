"""OpenTelemetry: one span per call with gen_ai.* and aigw.* attributes.

In every test the fake provider (testing.fake_provider) stands in for the
provider APIs; spans go to the SDK's in-memory exporter.
"""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aigw.client import AllRoutesFailed, Client

USER = [{"role": "user", "content": "hello"}]


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def test_span_per_call_with_failover(providers, make_route, write_config, exporter,
                                     tracer_provider):
    """The fakes stand in for the provider APIs; p1 refuses, p2 answers."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    p1.set_mode("refuse")
    with Client.from_file(cfg, tracer_provider=tracer_provider) as client:
        client.chat.completions.create(model="chat", messages=USER)
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat chat"
    assert span.kind == SpanKind.CLIENT
    attrs = dict(span.attributes or {})
    assert "gen_ai.system" not in attrs  # deprecated by the conventions
    assert attrs["gen_ai.provider.name"] == "p2"  # (no well-known value for 127.0.0.1)
    assert attrs["aigw.provider"] == "p2"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "p2-model"
    assert attrs["gen_ai.response.model"] == "p2-model"
    assert attrs["gen_ai.usage.input_tokens"] == 1
    assert attrs["aigw.service"] == "support-bot"
    assert attrs["aigw.alias"] == "chat"
    assert attrs["aigw.attempt"] == 2
    assert attrs["aigw.outcome"] == "ok"
    outcomes = [dict(e.attributes or {})["aigw.outcome"] for e in span.events]
    assert outcomes == ["connect_error", "ok"]


def test_span_marks_failure(providers, make_route, write_config, exporter, tracer_provider):
    """The fake stands in for the provider API; it answers 503 only."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    p1.set_mode("503")
    with Client.from_file(cfg, tracer_provider=tracer_provider) as client:
        with pytest.raises(AllRoutesFailed):
            client.chat.completions.create(model="chat", messages=USER)
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert dict(span.attributes or {})["aigw.outcome"] == "all_routes_failed"


def test_stream_span_ends_with_stream(providers, make_route, write_config, exporter,
                                      tracer_provider):
    """The fake stands in for the provider API; the span closes when the stream does."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, tracer_provider=tracer_provider) as client:
        stream = client.chat.completions.create(model="chat", messages=USER, stream=True)
        next(stream)
        assert exporter.get_finished_spans() == ()
        list(stream)
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})["aigw.outcome"] == "ok"


def test_unexpected_error_still_ends_span(providers, make_route, write_config, exporter,
                                         tracer_provider):
    """The fake stands in for the provider API; a body httpx cannot encode is the caller's bug."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, tracer_provider=tracer_provider) as client:
        with pytest.raises(TypeError):
            client.chat.completions.create(model="chat", messages=USER, bad=object())
    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes or {})["aigw.outcome"] == "error"
    assert span.status.status_code == StatusCode.ERROR
