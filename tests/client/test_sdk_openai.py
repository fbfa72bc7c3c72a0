"""The official openai SDK on aigw's failover transport (``Client.openai()``).

In every test the fake provider (testing.fake_provider) stands in for
OpenAI-compatible provider APIs over real HTTP; the SDK's own parsing of its
answers (typed objects, streams, Responses) is the check that it is faithful.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import openai
import pytest
from pydantic import BaseModel

from aigw.client import AsyncClient, Attempt, Client, attempts_of, fingerprint

USER = [{"role": "user", "content": "hello"}]


def two_routes(providers, make_route, write_config, **over):
    p1, p2 = providers("p1"), providers("p2")
    return write_config({"chat": [make_route(p1, **over), make_route(p2)]}), p1, p2


def test_typed_chat_completion(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; the SDK gets a ChatCompletion."""
    cfg, p1, p2 = two_routes(providers, make_route, write_config)
    with Client.from_file(cfg) as client:
        oai = client.openai()
        reply = oai.chat.completions.create(model="chat", messages=USER)
    assert isinstance(reply, openai.types.chat.ChatCompletion)
    assert reply.choices[0].message.content == "[p1] echo: hello"
    assert reply.model == "p1-model"  # the route's model went upstream
    assert reply.usage is not None and reply.usage.prompt_tokens == 1
    assert (p1.total_calls, p2.total_calls) == (1, 0)
    assert p1.last_request == {"model": "p1-model", "messages": USER}


@pytest.mark.parametrize("mode", ["429", "500", "503", "refuse", "slow"])
def test_failover_through_the_sdk(providers, make_route, write_config, mode):
    """The fakes stand in for the provider APIs; the primary fails with `mode`."""
    cfg, p1, p2 = two_routes(providers, make_route, write_config, timeout=0.3)
    p1.set_mode(mode, seconds=2.0)
    attempts: list[Attempt] = []
    with Client.from_file(cfg, on_attempt=attempts.append) as client:
        reply = client.openai().chat.completions.create(model="chat", messages=USER)
    assert reply.choices[0].message.content.startswith("[p2]")
    expected = {"refuse": "connect_error", "slow": "timeout"}.get(mode, f"http_{mode}")
    assert [(a.provider, a.outcome) for a in attempts] == [("p1", expected), ("p2", "ok")]


def test_sdk_retries_are_off(providers, make_route, write_config):
    """The fake stands in for the provider API; a 429 is tried once, not by the SDK again."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    p1.set_mode("429")
    with Client.from_file(cfg) as client:
        with pytest.raises(openai.RateLimitError) as info:
            client.openai().chat.completions.create(model="chat", messages=USER)
    assert p1.total_calls == 1
    assert [a.outcome for a in attempts_of(info.value)] == ["http_429"]


def test_stream_fails_over_before_first_event(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; p1 answers 503 to the stream request."""
    cfg, p1, p2 = two_routes(providers, make_route, write_config)
    p1.set_mode("503")
    with Client.from_file(cfg) as client:
        stream = client.openai().chat.completions.create(model="chat", messages=USER,
                                                         stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.strip() == "[p2] echo: hello"
    assert p1.total_calls == 1


def test_no_failover_after_first_event(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; p1 cuts the stream after one event."""
    cfg, p1, p2 = two_routes(providers, make_route, write_config)
    p1.set_mode("cut")
    with Client.from_file(cfg) as client:
        stream = client.openai().chat.completions.create(model="chat", messages=USER,
                                                         stream=True)
        first = next(iter(stream))
        assert first.model == "p1-model"
        with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces the broken read
            list(stream)
    assert p2.total_calls == 0


def test_401_rereads_rotated_key_file(replace_key, providers, make_route, write_config):
    """The fakes stand in for the provider APIs; p1's key was rotated under the client."""
    p1, p2 = providers("p1", ["sk-old"]), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]}, keys={"p1": "sk-old"})
    attempts: list[Attempt] = []
    with Client.from_file(cfg, key_check_interval=3600, watch_keys=False,
                          on_attempt=attempts.append) as client:
        oai = client.openai()
        oai.chat.completions.create(model="chat", messages=USER)
        p1.set_keys(["sk-new"])
        replace_key(cfg.parent / "keys" / "p1.default.key", "sk-new")
        reply = oai.chat.completions.create(model="chat", messages=USER)
    assert reply.choices[0].message.content.startswith("[p1]")
    assert [(a.provider, a.outcome) for a in attempts[1:]] == [("p1", "http_401"), ("p1", "ok")]
    assert attempts[-1].key_fingerprint == fingerprint("sk-new")
    assert p2.total_calls == 0


def test_rotation_mid_load_fails_no_request(replace_key, providers, make_route, write_config):
    """The fake stands in for the provider API; rotation as `aigw rotate-keys` does it
    (mint, the agent replaces the file, grace, revoke) while 4 threads call the SDK."""
    p1 = providers("p1", ["sk-old"])
    cfg = write_config({"chat": [make_route(p1)]}, keys={"p1": "sk-old"})
    stop = threading.Event()
    ok, failures = [0], []
    attempts: list[Attempt] = []

    def worker(oai: openai.OpenAI) -> None:
        while not stop.is_set():
            try:
                oai.chat.completions.create(model="chat", messages=USER)
                ok[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure fails the test
                failures.append(repr(exc))

    with Client.from_file(cfg, on_attempt=attempts.append) as client:
        oai = client.openai()
        threads = [threading.Thread(target=worker, args=(oai,)) for _ in range(4)]
        for t in threads:
            t.start()
        new = p1.mint_key()
        while p1.calls_for("sk-old") < 20:  # under load before the rotation
            time.sleep(0.01)
        replace_key(cfg.parent / "keys" / "p1.default.key", new)
        while p1.calls_for(new) < 20:  # every thread has moved on (grace period)
            time.sleep(0.01)
        p1.revoke_key("sk-old")
        after = ok[0]
        while ok[0] < after + 20:
            time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert failures == []
    assert {a.outcome for a in attempts} <= {"ok", "http_401"}  # a 401 only ever re-reads
    assert all(a.provider == "p1" for a in attempts)


class Weather(BaseModel):
    city: str
    celsius: float


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]


def test_tools_and_structured_output_pass_through(providers, make_route, write_config):
    """The fake stands in for the provider API; tools and schemas reach it unchanged."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1, extra={"temperature": 0.1})]})
    with Client.from_file(cfg) as client:
        oai = client.openai()
        choice = {"type": "function", "function": {"name": "get_weather"}}
        reply = oai.chat.completions.create(model="chat", messages=USER, tools=TOOLS,
                                            tool_choice=choice)
        assert p1.last_request == {"model": "p1-model", "messages": USER, "tools": TOOLS,
                                   "tool_choice": choice, "temperature": 0.1}
        call = reply.choices[0].message.tool_calls[0]
        assert call.function.name == "get_weather"
        parsed = oai.chat.completions.parse(model="chat", messages=USER,
                                            response_format=Weather)
    assert isinstance(parsed.choices[0].message.parsed, Weather)
    fmt = p1.last_request["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Weather"
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"city", "celsius"}


def test_responses_api(providers, make_route, write_config):
    """The fakes stand in for the provider APIs (POST /v1/responses, plain and streamed)."""
    cfg, p1, p2 = two_routes(providers, make_route, write_config)
    with Client.from_file(cfg) as client:
        oai = client.openai()
        p1.set_mode("503", count=1)
        resp = oai.responses.create(model="chat", input="hello")
        assert resp.output_text == "[p2] echo: hello"
        assert p2.last_request == {"model": "p2-model", "input": "hello"}
        events = list(oai.responses.create(model="chat", input="again", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    # p1 is cooling down after its 503, so the stream came from p2 as well.
    assert text == "[p2] echo: again"


def test_embeddings(providers, make_route, write_config):
    """The fake stands in for the provider API (POST /v1/embeddings)."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    with Client.from_file(cfg) as client:
        out = client.openai().embeddings.create(model="chat", input=["a", "b"])
    assert len(out.data) == 2 and p1.last_request["model"] == "p1-model"


def test_errors_are_the_sdks_own(providers, make_route, write_config, anthropics,
                                 anthropic_route):
    """The fakes stand in for the provider APIs; errors arrive as openai exceptions."""
    p1, p2 = providers("p1"), providers("p2")
    a1 = anthropics("a1")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)],
                        "claude": [anthropic_route(a1)]})
    with Client.from_file(cfg) as client:
        oai = client.openai()
        with pytest.raises(openai.NotFoundError, match="model alias 'nope' is not configured"):
            oai.chat.completions.create(model="nope", messages=USER)
        with pytest.raises(openai.BadRequestError,
                           match="'claude' speaks the anthropic family"):
            oai.chat.completions.create(model="claude", messages=USER)
        p1.set_mode("400")
        with pytest.raises(openai.BadRequestError, match="injected 400"):
            oai.chat.completions.create(model="chat", messages=USER)
        assert p2.total_calls == 0  # the request was wrong, not the route
        p1.set_mode("503")
        p2.set_mode("503")
        with pytest.raises(openai.InternalServerError) as info:
            oai.chat.completions.create(model="chat", messages=USER)
        assert [(a.provider, a.outcome) for a in attempts_of(info.value)] == [
            ("p1", "http_503"), ("p2", "http_503")]
        p1.set_mode("refuse")
        p2.set_mode("refuse")
        with pytest.raises(openai.APIConnectionError) as conn:
            oai.chat.completions.create(model="chat", messages=USER)
        assert [a.outcome for a in attempts_of(conn.value)] == ["connect_error"] * 2


def test_async_openai(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; AsyncOpenAI with failover, concurrently."""
    cfg, p1, p2 = two_routes(providers, make_route, write_config)

    async def main() -> list[str]:
        async with AsyncClient.from_file(cfg) as client:
            oai = client.openai()
            assert isinstance(oai, openai.AsyncOpenAI)
            p1.set_mode("refuse")
            replies = await asyncio.gather(*(
                oai.chat.completions.create(model="chat", messages=USER) for _ in range(10)))
            stream = await oai.chat.completions.create(model="chat", messages=USER,
                                                       stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in stream
                            if c.choices])
            assert text.startswith("[p2]")
            return [r.choices[0].message.content[:4] for r in replies]

    assert asyncio.run(main()) == ["[p2]"] * 10


@pytest.mark.parametrize("module", ["httpx", "httpx2"])
@pytest.mark.parametrize("fast", [True, False])
def test_outgoing_requests_are_what_httpx_would_build(module, fast):
    """The transport assembles each outgoing request from header triples and a cached
    URL instead of httpx's constructor (which re-normalises every header); both ways
    must give the request httpx's own constructor builds. (fast=False is the plain
    path: AIGW_NO_FASTPATH=1, or an httpx whose internals differ.)"""
    import importlib

    from aigw.client.fastpath import Requests
    from aigw.client.wire import header

    h = importlib.import_module(module)
    requests = Requests(h, fast=fast)
    assert requests.fast is fast, "the fast path is off for the pinned httpx: ~20 us/call"
    url = h.URL("https://api.example.test/v1/chat/completions?x=1")
    triples = [header("host", url.netloc), header("authorization", "Bearer sk-test-fake"),
               (b"X-Mixed-Case", b"x-mixed-case", b"v"), header("content-length", "2")]
    ext = {"timeout": {"connect": 1.0, "read": 1.0, "write": 1.0, "pool": 1.0}}
    got = requests.build("PUT", url, triples, b"{}", ext)
    want = h.Request("PUT", url, headers=[(k, v) for k, _, v in triples],
                     stream=h.ByteStream(b"{}"), extensions=ext)
    assert (got.method, got.url, got.extensions) == (want.method, want.url, want.extensions)
    assert got.headers.raw == want.headers.raw
    assert got.headers["x-mixed-case"] == "v" and got.headers["Authorization"] == "Bearer sk-test-fake"
    assert got.read() == want.read() == b"{}"
    assert b"".join(got.stream) == b"{}"
    # The headers and body of an incoming request read back the same either way.
    assert requests.headers(want) == [(k, k.lower(), v) for k, v in want.headers.raw]
    sdk = h.Request("POST", url, headers={"a": "b"}, content=b'{"model":"m"}')
    assert requests.body(sdk) == b'{"model":"m"}'
    assert requests.body(h.Request("GET", url)) == b""


def test_the_sdks_placeholder_url_is_not_in_a_services_log(providers, make_route, write_config,
                                                           caplog):
    """The fake stands in for the provider API. httpx2 logged every SDK call at INFO as
    `HTTP Request: POST http://aigw.invalid/chat/completions`: the SDK's placeholder base
    URL, no real endpoint. Gone by default; a service's own httpx2 requests still log."""
    import httpx2

    caplog.set_level(logging.INFO)
    cfg, p1, _ = two_routes(providers, make_route, write_config)
    with Client.from_file(cfg) as client:
        client.openai().chat.completions.create(model="chat", messages=USER)
    assert p1.total_calls == 1
    assert not [r.getMessage() for r in caplog.records if "aigw.invalid" in r.getMessage()]
    with httpx2.Client() as own:
        own.get(p1.base_url)
    assert [r for r in caplog.records if r.name == "httpx2" and "HTTP Request" in r.getMessage()]
