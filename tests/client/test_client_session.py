"""Session affinity: a session sticks to the route that last served it while healthy.

In every test the fake provider (testing.fake_provider) stands in for the
provider APIs.
"""

from __future__ import annotations

from aigw.client import Client

USER = [{"role": "user", "content": "hello"}]


def ask(client: Client, session_id: str | None = None) -> str:
    reply = client.chat.completions.create(model="chat", messages=USER, session_id=session_id)
    return str(reply["provider"])


def test_session_sticks_to_route_while_healthy(providers, make_route, write_config,
                                                fake_clock):
    """The fakes stand in for the provider APIs; p1 recovers but s1 stays on p2."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1, cooldown=30), make_route(p2, cooldown=30)]})
    clock = fake_clock
    with Client.from_file(cfg, clock=clock) as client:
        assert ask(client, "s0") == "p1"
        p1.set_mode("503")
        assert ask(client, "s1") == "p2"
        p1.set_mode("ok")
        clock.now += 31  # p1's cooldown is over
        assert ask(client, "s1") == "p2"  # sticky
        assert ask(client, "s0") == "p1"  # s0 was served by p1
        assert ask(client) == "p1"  # no session: fallback order
        p2.set_mode("503")
        assert ask(client, "s1") == "p1"  # sticky only while healthy
        p2.set_mode("ok")
        clock.now += 31
        assert ask(client, "s1") == "p1"  # now sticks to p1


def test_session_affinity_can_be_turned_off(providers, make_route, write_config,
                                                fake_clock):
    """The fakes stand in for the provider APIs; without affinity order always wins."""
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1, cooldown=30), make_route(p2)]})
    clock = fake_clock
    with Client.from_file(cfg, session_affinity=False, clock=clock) as client:
        p1.set_mode("503")
        assert ask(client, "s1") == "p2"
        p1.set_mode("ok")
        clock.now += 31
        assert ask(client, "s1") == "p1"
