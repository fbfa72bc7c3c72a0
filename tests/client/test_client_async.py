"""AsyncClient: the same routing, keys, streaming and spans from asyncio code.

In every test the fake provider (testing.fake_provider) stands in for the
provider APIs over real HTTP.
"""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aigw.client import (
    AllRoutesFailed,
    AsyncClient,
    Attempt,
    ProviderError,
    StreamInterrupted,
    UnknownAlias,
)

USER = [{"role": "user", "content": "hello"}]


def test_async_failover_and_concurrency(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; p1 refuses, p2 serves 20 concurrent calls."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    attempts: list[Attempt] = []

    async def main() -> list[str]:
        async with AsyncClient.from_file(cfg, on_attempt=attempts.append) as client:
            assert (await client.chat.completions.create(model="chat", messages=USER)
                    )["provider"] == "p1"
            p1.set_mode("refuse")
            replies = await asyncio.gather(*(
                client.chat.completions.create(model="chat", messages=USER) for _ in range(20)))
            resp = await client.request("chat", "GET", "/models")
            assert resp.json()["data"][0]["owned_by"] == "p2"
            with pytest.raises(UnknownAlias):
                await client.chat.completions.create(model="nope", messages=USER)
            return [r["provider"] for r in replies]

    assert asyncio.run(main()) == ["p2"] * 20
    assert "connect_error" in [a.outcome for a in attempts]


def test_async_errors(providers, make_route, write_config):
    """The fake stands in for the provider API; 503 everywhere, then a 400."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})

    async def main() -> None:
        async with AsyncClient.from_file(cfg) as client:
            p1.set_mode("503")
            with pytest.raises(AllRoutesFailed, match="p1/default: http_503"):
                await client.chat.completions.create(model="chat", messages=USER)
            p1.set_mode("400")
            with pytest.raises(ProviderError):
                await client.chat.completions.create(model="chat", messages=USER)

    asyncio.run(main())


def test_async_401_rereads_key(replace_key, providers, make_route, write_config):
    """The fake stands in for the provider API; its key was rotated under the client."""
    p1 = providers("p1", ["sk-old"])
    cfg = write_config({"chat": [make_route(p1)]}, keys={"p1": "sk-old"})

    async def main() -> dict:
        async with AsyncClient.from_file(cfg, key_check_interval=3600,
                                         watch_keys=False) as client:
            p1.set_keys(["sk-new"])
            replace_key(cfg.parent / "keys" / "p1.default.key", "sk-new")
            return await client.chat.completions.create(model="chat", messages=USER)

    assert asyncio.run(main())["provider"] == "p1"
    assert p1.calls_for("sk-new") == 1


def test_async_stream(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; failover before the first chunk only."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1, cooldown=0.0), make_route(p2)]})
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))

    async def main() -> tuple[str, str]:
        async with AsyncClient.from_file(cfg, tracer_provider=tracer_provider) as client:
            p1.set_mode("503")
            stream = await client.chat.completions.create(model="chat", messages=USER,
                                                          stream=True)
            text = "".join([c["choices"][0]["delta"].get("content") or ""
                            async for c in stream])
            p1.set_mode("cut")
            async with await client.chat.completions.create(
                    model="chat", messages=USER, stream=True) as cut:
                first = await anext(cut)
                with pytest.raises(StreamInterrupted):
                    async for _ in cut:
                        pass
            return text, first["provider"]

    text, cut_provider = asyncio.run(main())
    assert text.startswith("[p2]")
    assert cut_provider == "p1"
    outcomes = [dict(s.attributes or {})["aigw.outcome"] for s in exporter.get_finished_spans()]
    assert outcomes == ["ok", "interrupted"]
