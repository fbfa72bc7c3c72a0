"""Routing and failover of aigw.client over real HTTP.

In every test the fake provider (testing.fake_provider) stands in for the
provider APIs: it checks keys, injects faults and counts calls.
"""

from __future__ import annotations

import time

import pytest

from aigw.client import AllRoutesFailed, Attempt, Client, ProviderError, UnknownAlias

USER = [{"role": "user", "content": "hello"}]


def two_route_client(providers, make_route, write_config, attempts=None, **route_over):
    """A client for alias "chat" over fakes p1 then p2 (the fakes stand in for providers)."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1, **route_over), make_route(p2)]})
    on_attempt = attempts.append if attempts is not None else None
    return Client.from_file(cfg, on_attempt=on_attempt), p1, p2


def test_first_route_serves_when_healthy(providers, make_route, write_config):
    """The fake stands in for the provider APIs; the first route answers."""
    client, p1, p2 = two_route_client(providers, make_route, write_config)
    with client:
        reply = client.chat.completions.create(model="chat", messages=USER)
    assert reply["provider"] == "p1"
    assert reply["model"] == "p1-model"
    assert reply["choices"][0]["message"]["content"] == "[p1] echo: hello"
    assert (p1.total_calls, p2.total_calls) == (1, 0)


@pytest.mark.parametrize("mode", ["refuse", "503", "500", "429"])
def test_fails_over_to_second_route(providers, make_route, write_config, mode):
    """The fakes stand in for the provider APIs; the primary fails with `mode`."""
    attempts: list[Attempt] = []
    client, p1, p2 = two_route_client(providers, make_route, write_config, attempts)
    p1.set_mode(mode)
    with client:
        reply = client.chat.completions.create(model="chat", messages=USER)
    assert reply["provider"] == "p2"
    expected = "connect_error" if mode == "refuse" else f"http_{mode}"
    assert [(a.provider, a.outcome) for a in attempts] == [("p1", expected), ("p2", "ok")]


def test_fails_over_on_timeout(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; the primary answers too slowly."""
    attempts: list[Attempt] = []
    client, p1, _ = two_route_client(providers, make_route, write_config, attempts, timeout=0.2)
    p1.set_mode("slow", seconds=1.0)
    with client:
        reply = client.chat.completions.create(model="chat", messages=USER)
    assert reply["provider"] == "p2"
    # The outcome says the route timed out (not how long the machine took to notice).
    assert attempts[0].outcome == "timeout"


def test_retries_same_route_before_moving_on(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; one transient 503 is retried in place."""
    client, p1, p2 = two_route_client(providers, make_route, write_config, retries=1)
    p1.set_mode("503", count=1)
    with client:
        reply = client.chat.completions.create(model="chat", messages=USER)
    assert reply["provider"] == "p1"
    assert (p1.total_calls, p2.total_calls) == (2, 0)


def test_cooldown_then_back_to_primary(providers, make_route, write_config, fake_clock):
    """The fakes stand in for the provider APIs; a failed primary is skipped for exactly
    its cooldown (an injected clock), then used again."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1, cooldown=30.0), make_route(p2)]})
    clock = fake_clock
    with Client.from_file(cfg, clock=clock) as client:
        p1.set_mode("503")
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p2"
        p1.set_mode("ok")
        # In cooldown: p1 is not even tried, up to the last instant of the 30 s.
        clock.now += 29.999
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p2"
        assert p1.total_calls == 1
        clock.now += 0.002
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"


def test_all_cooling_routes_are_still_tried(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; never fail without trying every route."""
    client, p1, p2 = two_route_client(providers, make_route, write_config)
    with client:
        p1.set_mode("503")
        p2.set_mode("503")
        with pytest.raises(AllRoutesFailed) as info:
            client.chat.completions.create(model="chat", messages=USER)
        assert [(a.provider, a.outcome) for a in info.value.attempts] == [
            ("p1", "http_503"), ("p2", "http_503")]
        assert "p1/default: http_503" in str(info.value)
        p1.set_mode("ok")
        p2.set_mode("ok")
        # Both are cooling down for 30 s; they are tried anyway, in order.
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"


def test_extra_params_route_then_caller(providers, make_route, write_config):
    """The fake stands in for the provider API; it records the body it received."""
    p1 = providers("p1")
    extra = {"temperature": 0.1, "thinking": {"type": "disabled"}}
    cfg = write_config({"chat": [make_route(p1, extra=extra)]})
    with Client.from_file(cfg) as client:
        client.chat.completions.create(model="chat", messages=USER, temperature=0.7, top_p=0.5)
    assert p1.last_request == {"model": "p1-model", "messages": USER, "temperature": 0.7,
                               "thinking": {"type": "disabled"}, "top_p": 0.5}


@pytest.mark.parametrize("content", [None, "", "\n"])
def test_missing_or_empty_key_file_fails_over(providers, make_route, write_config, content):
    """The fakes stand in for the provider APIs; p1's key file is missing or empty."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    key_file = cfg.parent / "keys" / "p1.default.key"
    if content is None:
        key_file.unlink()
    else:
        key_file.write_text(content)
    attempts: list[Attempt] = []
    with Client.from_file(cfg, on_attempt=attempts.append) as client:
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p2"
    assert attempts[0].outcome == "no_key"
    assert p1.total_calls == 0


def test_key_file_removed_while_running(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; p1's key file goes away, then comes back."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    key_file = cfg.parent / "keys" / "p1.default.key"
    with Client.from_file(cfg, key_check_interval=0.05) as client:
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"
        key_file.unlink()
        time.sleep(0.1)
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p2"
        key_file.write_text("sk-p1-1\n")
        time.sleep(0.1)
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"


def test_unsupported_api_route_is_skipped(providers, make_route, write_config):
    """The fake stands in for the provider API; a route of an API this client does not
    know (a newer aigw rendered it) is skipped, not fatal."""
    p1 = providers("p1")
    attempts: list[Attempt] = []
    cfg = write_config({"chat": [make_route(p1, api="some-future-api", provider="future",
                                            key_file="future.default.key"),
                                 make_route(p1)]})
    with Client.from_file(cfg, on_attempt=attempts.append) as client:
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"
    assert [a.outcome for a in attempts] == ["unsupported_api", "ok"]


def test_raw_request_and_client_errors_do_not_fail_over(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; a 404 is the caller's problem."""
    client, p1, p2 = two_route_client(providers, make_route, write_config)
    with client:
        resp = client.request("chat", "GET", "/models")
        assert resp.status_code == 200
        assert resp.json()["data"][0]["owned_by"] == "p1"
        assert client.request("chat", "GET", "/no-such-path").status_code == 404
    assert p2.total_calls == 0


def test_unknown_alias(providers, make_route, write_config):
    """The fake stands in for the provider API; the alias is not configured."""
    cfg = write_config({"chat": [make_route(providers("p1"))]})
    with Client.from_file(cfg) as client, pytest.raises(UnknownAlias, match="'nope'"):
        client.chat.completions.create(model="nope", messages=USER)


def test_request_error_is_not_failed_over(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; a 400 blames the request, not the route."""
    client, p1, p2 = two_route_client(providers, make_route, write_config)
    p1.set_mode("400")
    with client:
        with pytest.raises(ProviderError) as info:
            client.chat.completions.create(model="chat", messages=USER)
        assert info.value.status_code == 400
        assert "injected 400" in info.value.body
        assert "p1/default answered HTTP 400" in str(info.value)
        p1.set_mode("ok")
        # No cooldown either: the next call goes to p1 again.
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"
    assert p2.total_calls == 0


def test_the_fast_attempt_constructor_is_the_dataclass() -> None:
    """`errors.attempt` (the request path's constructor) takes Attempt's fields in order
    and builds what ``Attempt(...)`` builds: a field added to one is added to both."""
    import dataclasses
    import inspect

    from aigw.client.errors import attempt

    names = [f.name for f in dataclasses.fields(Attempt)]
    assert list(inspect.signature(attempt).parameters) == names
    values = ("chat", "p1", "default", 0, "ok", 0.01, "abc123", 200, "r1")
    built = attempt(*values)
    assert built == Attempt(*values)
    assert vars(built) == dict(zip(names, values, strict=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.outcome = "timeout"  # type: ignore[misc]
