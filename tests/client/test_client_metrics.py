"""OpenTelemetry GenAI client metrics (spec/metrics.md), read with the SDK's in-memory reader.

testing.fake_provider stands in for OpenAI-compatible providers and
testing.fake_anthropic for the Anthropic Messages API (real HTTP on 127.0.0.1);
where a test needs usage the stand-ins do not produce (cache and reasoning
tokens), an ``httpx.MockTransport`` plays the provider with the documented
usage shapes.
"""

from __future__ import annotations

import secrets
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from aigw.client import AllRoutesFailed, AsyncClient, Client
from aigw.client.metrics import MetricsRecorder

USER = [{"role": "user", "content": "hello"}]
STANDARD = {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
            "gen_ai.response.model", "server.address", "aigw.service", "aigw.environment",
            "aigw.alias", "aigw.slot", "aigw.route", "aigw.provider"}


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(reader):
    provider = MeterProvider(metric_readers=[reader])
    yield provider
    provider.shutdown()


def points(reader: InMemoryMetricReader) -> dict[str, list[tuple[dict[str, Any], Any, str]]]:
    """metric name -> [(attributes, value (sum of a histogram), unit)]."""
    out: dict[str, list[tuple[dict[str, Any], Any, str]]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    value = getattr(p, "sum", None)
                    if value is None:
                        value = p.value
                    out.setdefault(m.name, []).append((dict(p.attributes), value, m.unit))
    return out


def tokens(pts, name="gen_ai.client.token.usage", key="gen_ai.token.type") -> dict[str, Any]:
    return {a[key]: v for a, v, _ in pts.get(name, [])}


def test_names_units_attributes(providers, make_route, write_config, reader, meter_provider):
    """The fake stands in for an OpenAI-compatible provider."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        client.chat.completions.create(model="chat", messages=USER)
    pts = points(reader)
    ((attrs, timed, unit),) = pts["gen_ai.client.operation.duration"]
    assert unit == "s" and isinstance(timed, float)
    assert set(attrs) == STANDARD - {"gen_ai.response.model"}
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["aigw.provider"] == "p1"
    assert attrs["gen_ai.provider.name"] == "p1"  # no well-known value for a 127.0.0.1 host
    assert attrs["server.address"] == "127.0.0.1"
    assert (attrs["aigw.service"], attrs["aigw.environment"], attrs["aigw.alias"]) == (
        "support-bot", "test", "chat")
    usage = pts["gen_ai.client.token.usage"]
    assert {u for _, _, u in usage} == {"{token}"}
    assert {a["gen_ai.token.type"] for a, _, _ in usage} == {"input", "output"}
    for a, _, _ in usage:
        assert set(a) == STANDARD | {"gen_ai.token.type"}
        assert a["gen_ai.response.model"] == "p1-model"
    assert tokens(pts) == {"input": 1, "output": 2}  # "hello" -> "echo: hello" (the fake's count)
    assert "aigw.client.cost" not in pts  # the route has no price


def test_well_known_provider_names(anthropics, anthropic_route, write_config, reader,
                                   meter_provider):
    """The Anthropic stand-in answers: an anthropic route is `anthropic` whatever its host."""
    a1 = anthropics("claude-direct")
    cfg = write_config({"claude": [anthropic_route(a1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        client.anthropic().messages.create(model="claude", max_tokens=64, messages=USER)
    pts = points(reader)
    (attrs, _, _), = pts["gen_ai.client.operation.duration"]
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["aigw.provider"] == "claude-direct"
    assert tokens(pts) == {"input": 1, "output": 3}


def test_failure_has_error_type(providers, make_route, write_config, reader, meter_provider):
    """The fake answers 503 only: the duration carries error.type, no tokens are counted."""
    p1 = providers("p1")
    p1.set_mode("503")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        with pytest.raises(AllRoutesFailed):
            client.chat.completions.create(model="chat", messages=USER)
    pts = points(reader)
    ((attrs, _, _),) = pts["gen_ai.client.operation.duration"]
    assert attrs["error.type"] == "all_routes_failed"
    assert "gen_ai.client.token.usage" not in pts


def test_openai_sdk_plain_and_stream(providers, make_route, write_config, reader,
                                     meter_provider):
    """The fake stands in for OpenAI; a stream is counted from its final usage chunk,
    which OpenAI sends only when the caller asked (stream_options.include_usage)."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        sdk = client.openai()
        sdk.chat.completions.create(model="chat", messages=USER)
        client._telemetry.metrics.flush()
        assert tokens(points(reader)) == {"input": 1, "output": 2}
        chunks = list(sdk.chat.completions.create(model="chat", messages=USER, stream=True,
                                                  stream_options={"include_usage": True}))
        assert chunks[-1].usage.completion_tokens == 2
        client._telemetry.metrics.flush()
        assert tokens(points(reader)) == {"input": 2, "output": 4}
        list(sdk.chat.completions.create(model="chat", messages=USER, stream=True))
    pts = points(reader)
    assert tokens(pts) == {"input": 2, "output": 4}  # no usage asked: none counted
    assert [v for _, v, _ in pts["gen_ai.client.operation.duration"]][0] > 0
    # (three calls timed: one histogram point, count 3)
    assert p1.last_request.get("stream_options") is None  # aigw adds nothing to a request


def test_anthropic_sdk_stream(anthropics, anthropic_route, write_config, reader,
                              meter_provider):
    """The Anthropic stand-in streams message_start (input) and message_delta (output)."""
    a1 = anthropics("anthropic")
    cfg = write_config({"claude": [anthropic_route(a1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        with client.anthropic().messages.stream(model="claude", max_tokens=64,
                                                messages=USER) as stream:
            text = stream.get_final_text()
    assert text == "[anthropic] echo: hello"
    assert tokens(points(reader)) == {"input": 1, "output": 3}


def test_dict_api_stream_and_async(providers, make_route, write_config, reader,
                                   meter_provider):
    """The fake stands in for an OpenAI-compatible provider: dict API, sync and async."""
    import asyncio

    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        list(client.chat.completions.create(model="chat", messages=USER, stream=True,
                                            stream_options={"include_usage": True}))

    async def run() -> None:
        async with AsyncClient.from_file(cfg, meter_provider=meter_provider) as client:
            await client.chat.completions.create(model="chat", messages=USER)

    asyncio.run(run())
    assert tokens(points(reader)) == {"input": 2, "output": 4}


def mock_client(cfg, body: dict[str, Any], meter_provider) -> Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)
    return Client.from_file(cfg, meter_provider=meter_provider,
                            transport=httpx.MockTransport(answer), watch_keys=False)


PRICE = {"currency": "USD", "as_of": "2026-11-01",
         "per_million": {"input": "3", "cache_read": "0.30", "cache_write": "3.75",
                         "output": "15"}}


def test_anthropic_cache_classes_and_cost(write_config, reader, meter_provider):
    """An httpx.MockTransport plays the Anthropic API with prompt-cache usage."""
    route = {"provider": "anthropic", "api": "anthropic", "base_url": "https://api.anthropic.com",
             "model": "claude-sonnet-4-5", "slot": "svc-support-bot",
             "key_file": "anthropic.key", "timeout": 2.0, "retries": 0, "cooldown": 30.0,
             "extra": {}, "price": PRICE}
    cfg = write_config({"claude": [route]})
    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 100, "cache_read_input_tokens": 2000,
                      "cache_creation_input_tokens": 500, "output_tokens": 300}}
    with mock_client(cfg, body, meter_provider) as client:
        client.request("claude", "POST", "/v1/messages",
                       json={"model": "claude", "max_tokens": 10, "messages": USER})
    pts = points(reader)
    assert tokens(pts) == {"input": 2600, "output": 300}
    assert tokens(pts, "aigw.client.token.usage", "aigw.token.type") == {
        "input": 100, "cache_read": 2000, "cache_write": 500, "output": 300}
    ((attrs, value, unit),) = pts["aigw.client.cost"]
    # 100*3 + 2000*0.30 + 500*3.75 + 300*15 = 300 + 600 + 1875 + 4500 = 7275 per million
    assert Decimal(str(value)) == Decimal("0.007275")
    assert (attrs["aigw.currency"], unit) == ("USD", "{currency}")
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["server.address"] == "api.anthropic.com"


def test_reasoning_and_missing_class_price(write_config, reader, meter_provider):
    """An httpx.MockTransport plays OpenAI: reasoning is billed as output; a cached read
    on a model without a cache_read price gives no cost at all."""
    price = {"currency": "EUR", "as_of": "2026-11-01",
             "per_million": {"input": "1.25", "output": "10"}}
    route = {"provider": "openai", "api": "openai", "base_url": "https://api.openai.com/v1",
             "model": "gpt-5", "slot": "default", "key_file": "openai.key", "timeout": 2.0,
             "retries": 0, "cooldown": 30.0, "extra": {}, "price": price}
    cfg = write_config({"chat": [route]})
    usage = {"prompt_tokens": 1000, "completion_tokens": 800,
             "completion_tokens_details": {"reasoning_tokens": 600}}
    body = {"id": "c", "object": "chat.completion", "model": "gpt-5-2025-08-07",
            "choices": [], "usage": usage}
    with mock_client(cfg, body, meter_provider) as client:
        client.chat.completions.create(model="chat", messages=USER)
        client._telemetry.metrics.flush()
        ((attrs, value, _),) = points(reader)["aigw.client.cost"]
        assert Decimal(str(value)) == Decimal("0.00925")  # 1000*1.25 + 800*10
        assert attrs["aigw.currency"] == "EUR"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.response.model"] == "gpt-5-2025-08-07"
        usage["prompt_tokens_details"] = {"cached_tokens": 400}
        client.chat.completions.create(model="chat", messages=USER)
    pts = points(reader)
    ((_, value, _),) = pts["aigw.client.cost"]
    assert Decimal(str(value)) == Decimal("0.00925")  # unchanged: the second call unpriced
    classes = tokens(pts, "aigw.client.token.usage", "aigw.token.type")
    assert classes == {"input": 1600, "cache_read": 400, "output": 400, "reasoning": 1200}


def test_full_queue_drops_and_never_blocks(meter_provider):
    """No provider: the recorder's queue is filled while its thread is held."""
    rec = MetricsRecorder(meter_provider.get_meter("t"), "s", "e", queue_size=2)

    class Held:
        def is_alive(self) -> bool:
            return True

    rec._thread = Held()  # type: ignore[assignment]
    rec._running = True
    for _ in range(5):
        rec.record(("chat", "chat", None, "ok", 0.1, None, None, ""))
    assert (len(rec._queue), rec.dropped) == (2, 3)


def test_no_meter_provider_no_queue(providers, make_route, write_config):
    """The fake answers; with no meter provider set nothing is queued or started."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg) as client:
        client.chat.completions.create(model="chat", messages=USER)
        rec = client._telemetry.metrics
        assert rec is not None and rec._thread is None and not rec._queue



def test_names_are_the_conventions(providers, make_route, write_config, reader,
                                   meter_provider):
    """The fake answers; every gen_ai.* name emitted is one the conventions define
    (opentelemetry-semantic-conventions), and the well-known provider values are theirs."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga
    from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as gm

    from aigw.apis import APIS
    from aigw.client.semconv import _BY_HOST

    known_attrs = {v for k, v in vars(ga).items() if k.startswith("GEN_AI_")}
    known_metrics = {v for k, v in vars(gm).items() if k.startswith("GEN_AI_")}
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        client.chat.completions.create(model="chat", messages=USER)
    pts = points(reader)
    assert {n for n in pts if n.startswith("gen_ai.")} <= known_metrics
    for name in pts:
        for attrs, _, _ in pts[name]:
            assert {a for a in attrs if a.startswith("gen_ai.")} <= known_attrs
    well_known = {v.value for v in ga.GenAiProviderNameValues}
    by_api = {a.otel_provider for a in APIS.values() if a.otel_provider}
    assert by_api == {"anthropic", "aws.bedrock"}
    assert set(_BY_HOST.values()) | by_api | {"azure.ai.openai"} <= well_known
    token_types = {v.value for v in ga.GenAiTokenTypeValues}
    assert {a["gen_ai.token.type"] for a, _, _ in pts["gen_ai.client.token.usage"]} <= token_types


def test_no_key_value_reaches_metrics_or_logs(providers, make_route, write_config, reader,
                                              meter_provider, caplog):
    """The fake answers with the canary key; no metric attribute or log line holds it."""
    import logging

    canary = "canary-metrics-" + secrets.token_hex(6)
    p1 = providers("p1", keys=[canary])
    cfg = write_config({"chat": [make_route(p1)]}, keys={"p1": canary})
    with caplog.at_level(logging.DEBUG, logger="aigw"):
        with Client.from_file(cfg, meter_provider=meter_provider) as client:
            client.chat.completions.create(model="chat", messages=USER)
            list(client.chat.completions.create(model="chat", messages=USER, stream=True,
                                                stream_options={"include_usage": True}))
    pts = points(reader)
    assert tokens(pts) == {"input": 2, "output": 4}
    assert canary not in repr(pts) and canary not in caplog.text


def test_thread_stops_when_idle_and_comes_back(meter_provider, reader):
    """No provider: the recording thread exits when idle; the next call starts it again."""
    rec = MetricsRecorder(meter_provider.get_meter("t"), "s", "e", interval=0.01, idle_exit=0.05)
    rec.record(("chat", "chat", None, "ok", 0.1, None, None, ""))
    assert rec.flush()
    first = rec._thread
    assert first is not None
    first.join(10)
    assert not first.is_alive()
    rec.record(("chat", "chat", None, "ok", 0.2, None, None, ""))
    assert rec.flush()
    assert rec.recorded == 2 and rec._thread is not first
    rec.stop()


def counts(reader: InMemoryMetricReader, name: str = "gen_ai.client.operation.duration") -> int:
    """How many calls the histogram `name` has seen (summed over its points)."""
    data = reader.get_metrics_data()
    return sum(p.count for rm in (data.resource_metrics if data else [])
               for sm in rm.scope_metrics for m in sm.metrics if m.name == name
               for p in m.data.data_points)


def test_a_collect_sees_every_call_before_it(providers, make_route, write_config, reader,
                                             meter_provider, monkeypatch):
    """The fake answers. The recording thread would wait an hour: a reader's collect
    alone must record the queued calls (no flush, no close) and see each of them."""
    import aigw.client.metrics as metrics

    monkeypatch.setattr(metrics, "INTERVAL", 3600.0)
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg, meter_provider=meter_provider) as client:
        for _ in range(3):
            client.chat.completions.create(model="chat", messages=USER)
        assert counts(reader) == 3
        assert counts(reader, "gen_ai.client.token.usage") == 6  # input and output, each call
        client.chat.completions.create(model="chat", messages=USER)
        assert counts(reader) == 4
        assert tokens(points(reader), "aigw.client.token.usage", "aigw.token.type") == {
            "input": 4, "output": 8}


def test_provider_shutdown_exports_the_queued_calls(providers, make_route, write_config,
                                                    monkeypatch):
    """The fake answers. A periodic exporter's last export (at the meter provider's
    shutdown, the client still open) carries every call made before it."""
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricExportResult,
        PeriodicExportingMetricReader,
    )

    import aigw.client.metrics as metrics

    class Exporter(MetricExporter):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def export(self, metrics_data, timeout_millis=10_000, **kwargs):
            self.calls += sum(p.count for rm in metrics_data.resource_metrics
                              for sm in rm.scope_metrics for m in sm.metrics
                              if m.name == "gen_ai.client.operation.duration"
                              for p in m.data.data_points)
            return MetricExportResult.SUCCESS

        def force_flush(self, timeout_millis=10_000) -> bool:
            return True

        def shutdown(self, timeout_millis=30_000, **kwargs) -> None:
            pass

    monkeypatch.setattr(metrics, "INTERVAL", 3600.0)
    exporter = Exporter()
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(
        exporter, export_interval_millis=3_600_000)])
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    client = Client.from_file(cfg, meter_provider=provider)
    try:
        for _ in range(5):
            client.chat.completions.create(model="chat", messages=USER)
        provider.shutdown()
        assert exporter.calls == 5
    finally:
        client.close()


def test_dropped_calls_are_counted_as_a_metric(meter_provider, reader):
    """No provider: the thread is held and the queue (2) takes 2 of 5 calls; a collect
    records those 2 and reports 3 dropped on aigw.client.metrics.dropped."""
    rec = MetricsRecorder(meter_provider.get_meter("t"), "s", "e", queue_size=2)
    rec._running = True  # (the thread counts as started: nothing drains but the collect)
    for _ in range(5):
        rec.record(("chat", "chat", None, "ok", 0.1, None, None, ""))
    assert rec.dropped == 3
    pts = points(reader)
    ((attrs, value, unit),) = pts["aigw.client.metrics.dropped"]
    assert (attrs, value, unit) == ({"aigw.service": "s", "aigw.environment": "e"}, 3, "{call}")
    assert counts(reader) == 2
    rec.record(("chat", "chat", None, "ok", 0.1, None, None, ""))
    assert points(reader)["aigw.client.metrics.dropped"][0][1] == 3  # cumulative, no new drop
    rec.stop()


def _recorded_soon(rec, n):
    """(calls recorded, calls still queued) once N are recorded, or after 10 s."""
    deadline = time.monotonic() + 10
    while rec.recorded < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return rec.recorded, len(rec._queue)


def test_the_thread_records_in_batches(meter_provider):
    """No provider: calls wait for the interval (an hour here), unless the queue is
    half full, then the thread records them all at once."""
    rec = MetricsRecorder(meter_provider.get_meter("t"), "s", "e", queue_size=8,
                          interval=3600.0)
    try:
        for _ in range(4):
            rec.record(("chat", "chat", None, "ok", 0.1, None, None, ""))
        time.sleep(0.2)
        assert (rec.recorded, len(rec._queue)) == (0, 4)
        rec.record(("chat", "chat", None, "ok", 0.1, None, None, ""))  # the fifth: half full
        assert _recorded_soon(rec, 5) == (5, 0)
    finally:
        rec.stop()


def test_cost_of_a_batch_is_the_sum_of_its_calls(write_config, reader, meter_provider,
                                                 monkeypatch):
    """An httpx.MockTransport plays DeepSeek (CNY prices) with a different usage per call;
    the three calls are recorded in one batch (at the collect) and priced together."""
    import aigw.client.metrics as metrics

    monkeypatch.setattr(metrics, "INTERVAL", 3600.0)
    price = {"currency": "CNY", "as_of": "2026-11-01",
             "per_million": {"input": "2", "cache_read": "0.5", "output": "8"}}
    route = {"provider": "deepseek", "api": "openai", "base_url": "https://api.deepseek.com",
             "model": "deepseek-chat", "slot": "default", "key_file": "deepseek.key",
             "timeout": 2.0, "retries": 0, "cooldown": 30.0, "extra": {}, "price": price}
    cfg = write_config({"chat": [route]})
    usages = iter([{"prompt_tokens": 1000, "completion_tokens": 100},
                   {"prompt_tokens": 3000, "completion_tokens": 7,
                    "prompt_cache_hit_tokens": 2000},
                   {"prompt_tokens": 11, "completion_tokens": 13}])

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": "c", "object": "chat.completion",
                                         "model": "deepseek-chat", "choices": [],
                                         "usage": next(usages)})

    with Client.from_file(cfg, meter_provider=meter_provider,
                          transport=httpx.MockTransport(answer), watch_keys=False) as client:
        for _ in range(3):
            client.chat.completions.create(model="chat", messages=USER)
        assert client._telemetry.metrics.recorded == 0  # still queued
        ((attrs, value, _),) = points(reader)["aigw.client.cost"]
    # input 1000 + 1000 + 11 = 2011 at 2; cache_read 2000 at 0.5; output 120 at 8
    # = 4022 + 1000 + 960 = 5982 per million
    assert Decimal(str(value)) == Decimal("0.005982")
    assert attrs["aigw.currency"] == "CNY"


def test_large_bodies_are_recorded_without_waiting(meter_provider, monkeypatch):
    """No provider: queued answers of 16 MB in all (here 3 of 100 KB, the limit lowered)
    wake the thread before the interval (an hour), so the queue never holds gigabytes."""
    import aigw.client.metrics as metrics

    monkeypatch.setattr(metrics, "WAKE_BYTES", 250_000)
    rec = MetricsRecorder(meter_provider.get_meter("t"), "s", "e", interval=3600.0)
    body = b"x" * 100_000
    try:
        for _ in range(2):
            rec.record(("chat", "chat", None, "ok", 0.1, body, None, ""))
        time.sleep(0.2)
        assert rec.recorded == 0
        rec.record(("chat", "chat", None, "ok", 0.1, body, None, ""))
        assert _recorded_soon(rec, 3) == (3, 0)
    finally:
        rec.stop()


def test_global_meter_provider_set_after_the_clients(tmp_path):
    """No provider (MockTransport answers), in a fresh process since the global meter
    provider is set once per process: clients made before it was set record through
    it, and its reader's collect sees every call (the collect hook reaches them too)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent('''
        import json, sys
        from pathlib import Path
        import httpx
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        import aigw.client.metrics as m
        from aigw.client import Client
        m.INTERVAL = 3600.0
        folder = Path(sys.argv[1])
        (folder / "k.key").write_text("sk-test\\n")
        route = {"provider": "p", "api": "openai", "base_url": "http://up/v1", "model": "m",
                 "slot": "default", "key_file": "k.key", "timeout": 5.0, "retries": 0,
                 "cooldown": 30.0, "extra": {}}
        cfg = folder / "aigw-client.json"
        cfg.write_text(json.dumps({"version": 1, "service": "s", "environment": "e",
                                   "key_dir": str(folder),
                                   "aliases": {"chat": {"routes": [route]}}}))
        body = {"model": "m", "choices": [], "usage": {"prompt_tokens": 1,
                                                       "completion_tokens": 2}}
        def make():
            return Client.from_file(cfg, watch_keys=False, transport=httpx.MockTransport(
                lambda _: httpx.Response(200, json=body)))
        a, b = make(), make()
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        for c in (a, b, a):
            c.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}])
        data = reader.get_metrics_data()
        print(sum(p.count for rm in data.resource_metrics for sm in rm.scope_metrics
                  for x in sm.metrics if x.name == "gen_ai.client.operation.duration"
                  for p in x.data.data_points))
    ''')
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                         text=True, timeout=120, check=True)
    assert out.stdout.split() == ["3"]
