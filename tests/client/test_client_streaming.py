"""Streaming: chunks as dicts, failover only before the first chunk.

In every test the fake provider (testing.fake_provider) stands in for the
provider APIs and streams OpenAI-style server-sent events.
"""

from __future__ import annotations

import pytest

from aigw.client import AllRoutesFailed, Attempt, Client, StreamInterrupted

USER = [{"role": "user", "content": "hello"}]


def content(chunks):
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)


def test_stream_yields_chunk_dicts(providers, make_route, write_config):
    """The fake stands in for the provider API and streams its answer."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg) as client:
        with client.chat.completions.create(model="chat", messages=USER, stream=True) as stream:
            chunks = list(stream)
    assert chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["model"] == "p1-model"
    assert content(chunks).strip() == "[p1] echo: hello"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert p1.last_request is not None and p1.last_request["stream"] is True


@pytest.mark.parametrize("mode", ["refuse", "503", "429"])
def test_stream_fails_over_before_first_chunk(providers, make_route, write_config, mode):
    """The fakes stand in for the provider APIs; the primary fails before streaming."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    attempts: list[Attempt] = []
    p1.set_mode(mode)
    with Client.from_file(cfg, on_attempt=attempts.append) as client:
        chunks = list(client.chat.completions.create(model="chat", messages=USER, stream=True))
    assert content(chunks).startswith("[p2]")
    assert [a.provider for a in attempts] == ["p1", "p2"]


def test_stream_timeout_before_first_chunk_fails_over(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; the primary is too slow to start."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1, timeout=0.2), make_route(p2)]})
    p1.set_mode("slow", seconds=1.0)
    with Client.from_file(cfg) as client:
        chunks = list(client.chat.completions.create(model="chat", messages=USER, stream=True))
    assert content(chunks).startswith("[p2]")


def test_no_failover_after_first_chunk(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; the primary cuts the stream mid-way."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    p1.set_mode("cut")
    with Client.from_file(cfg) as client:
        stream = client.chat.completions.create(model="chat", messages=USER, stream=True)
        first = next(stream)
        assert first["provider"] == "p1"
        with pytest.raises(StreamInterrupted, match="p1"):
            list(stream)
    assert p2.total_calls == 0


def test_stream_all_routes_failed_raises_at_create(providers, make_route, write_config):
    """The fake stands in for the provider API; errors surface at create(), not later."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    p1.set_mode("500")
    with Client.from_file(cfg) as client, pytest.raises(AllRoutesFailed):
        client.chat.completions.create(model="chat", messages=USER, stream=True)
