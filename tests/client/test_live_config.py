"""Live config: the client follows aigw-client.json as the agent replaces it.

The upstream is an ``httpx.MockTransport`` standing in for OpenAI-compatible
providers (each route's host names it; the handler answers what the test
says). The config file is replaced the way bao agent does it: a temporary file
in the same folder, then a rename. Swaps are triggered with
``client.reload_config()`` (what the poll and the watcher call), except in the
tests of the poll and of watchfiles themselves; time for cooldowns comes from
an injected clock. No test sleeps to assert: waits are on events/conditions
with generous timeouts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from aigw.client import (
    AllRoutesFailed,
    AsyncClient,
    Attempt,
    Client,
    ConfigError,
    ConfigStatus,
    UnknownAlias,
    fingerprint,
    load_config,
)

USER = [{"role": "user", "content": "hi"}]
WAIT = 20.0  # generous: the machine is shared and loaded


def route(name: str, **over: Any) -> dict[str, Any]:
    """A route as `aigw render` writes it; its host names the provider."""
    r: dict[str, Any] = {
        "provider": name, "api": "openai", "base_url": f"https://{name}.test/v1",
        "model": f"{name}-model", "slot": "default", "key_file": f"{name}.default.key",
        "timeout": 5.0, "retries": 0, "cooldown": 30.0, "extra": {}, "weight": None}
    r.update(over)
    return r


def document(aliases: dict[str, list[dict[str, Any]]], revision: str,
             **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": 1, "service": "support-bot", "environment": "test", "key_dir": "keys",
        "revision": revision,
        "aliases": {a: {"family": "openai", "routes": rs} for a, rs in aliases.items()}}
    doc.update(over)
    return doc


class Live:
    """A service folder: the config file, its key files, and an agent-style publish."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys = root / "keys"
        self.keys.mkdir()
        self.path = root / "aigw-client.json"

    def publish(self, doc: dict[str, Any] | str) -> None:
        """Write the config as the agent does: temp file in the folder, then rename."""
        text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
        if not isinstance(doc, str):
            for spec in doc.get("aliases", {}).values():
                for r in spec.get("routes", []):
                    key = self.keys / r["key_file"]
                    if not key.exists():
                        key.write_text(f"sk-{r['provider']}-1\n")
        tmp = self.root / ".aigw-client.json.tmp"
        tmp.write_text(text)
        tmp.replace(self.path)


@pytest.fixture
def live(tmp_path: Path) -> Live:
    return Live(tmp_path)


class Upstream:
    """MockTransport handler: every host answers 200 unless told otherwise."""

    def __init__(self) -> None:
        self.status: dict[str, int] = {}
        self.hosts: list[str] = []
        self.block: dict[str, threading.Event] = {}
        self.entered = threading.Event()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        self.hosts.append(host)
        gate = self.block.get(host)
        if gate is not None:
            self.entered.set()
            assert gate.wait(WAIT), "the test never released the blocked call"
        code = self.status.get(host, 200)
        return httpx.Response(code, json={"provider": host, "model": request.url.path})


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
def make_client(live: Live, upstream: Upstream,
                fake_clock: Any) -> Callable[..., Client]:
    made: list[Client] = []

    def make(**kw: Any) -> Client:
        kw.setdefault("watch_keys", False)
        kw.setdefault("config_check_interval", 3600)  # swaps come from reload_config
        c = Client.from_file(live.path, transport=httpx.MockTransport(upstream),
                             clock=fake_clock, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def served_by(client: Client, alias: str = "chat", **kw: Any) -> tuple[str, list[Attempt]]:
    attempts: list[Attempt] = []
    client.on_attempt = attempts.append
    try:
        reply = client.chat.completions.create(model=alias, messages=USER, **kw)
    finally:
        client.on_attempt = None
    return reply["provider"], attempts


# --- the contract ----------------------------------------------------------------


def test_revision_is_exposed_and_stamped_on_attempts(live, make_client):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client()
    assert client.revision == "rev-1"
    provider, attempts = served_by(client)
    assert provider == "a" and [a.revision for a in attempts] == ["rev-1"]
    live.publish(document({"chat": [route("b")]}, "rev-2"))
    status = client.reload_config()
    assert (status.revision, status.reloads, status.rejected) == ("rev-2", 1, 0)
    assert client.revision == "rev-2"
    provider, attempts = served_by(client)
    assert provider == "b" and [a.revision for a in attempts] == ["rev-2"]


def test_file_without_revision_reports_empty(live, make_client):
    doc = document({"chat": [route("a")]}, "x")
    del doc["revision"]
    live.publish(doc)
    assert make_client().revision == ""


def test_attempt_positional_constructor_still_works():
    a = Attempt("chat", "p", "s", 0, "ok", 0.1, "fp", 200)
    assert a.revision == "" and a.status == 200


def test_swap_logs_revisions_and_alias_count(live, make_client, caplog):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    with caplog.at_level(logging.INFO, logger="aigw.client"):
        client = make_client()
        live.publish(document({"chat": [route("a")], "other": [route("b")]}, "rev-2"))
        client.reload_config()
    lines = [r.getMessage() for r in caplog.records if "aigw config" in r.getMessage()]
    assert lines == ["aigw config support-bot: revision - -> rev-1 (1 aliases)",
                     "aigw config support-bot: revision rev-1 -> rev-2 (2 aliases)"]


def test_read_once_when_not_watching(live, make_client):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(watch_config=False, config_check_interval=0)
    live.publish(document({"chat": [route("b")]}, "rev-2"))
    assert served_by(client)[0] == "a"
    status = client.reload_config()
    assert status.revision == "rev-1" and not status.following


def test_watch_config_needs_a_file(live):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    cfg = load_config(live.path)
    with pytest.raises(ConfigError, match="watch_config needs a config read from a file"):
        Client(dataclasses.replace(cfg, path=None), watch_config=True, watch_keys=False)


# --- how a change arrives ---------------------------------------------------------


def test_poll_picks_up_a_change_on_the_request_path(live, make_client):
    """With a zero interval every call stats the file: the next call after the
    rename is served by the new config (no reload_config, no watcher)."""
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(config_check_interval=0)
    assert served_by(client)[0] == "a"
    live.publish(document({"chat": [route("b")]}, "rev-2"))
    assert served_by(client)[0] == "b"
    assert client.revision == "rev-2"


def test_watchfiles_event_swaps_off_the_request_path(live, make_client):
    """No poll (an hour's interval) and no call: only the watcher thread can swap."""
    pytest.importorskip("watchfiles")
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(watch_keys=True, config_check_interval=3600)
    assert client._watcher is not None
    # The watcher may still be setting up its watch when the first rename lands
    # (that one is the poll's to find): the agent re-renders, so rename again.
    deadline = time.monotonic() + WAIT
    while client.config_status.revision != "rev-2" and time.monotonic() < deadline:
        live.publish(document({"chat": [route("b")]}, "rev-2"))
        time.sleep(0.1)
    assert client.config_status.revision == "rev-2"
    assert served_by(client)[0] == "b"


# --- what a swap keeps -------------------------------------------------------------


def test_in_flight_call_finishes_on_the_snapshot_it_started_with(live, make_client,
                                                                 upstream):
    """A call blocked at its first route while the config changes under it falls
    back along its own (old) routes; the next call uses the new ones."""
    live.publish(document({"chat": [route("a"), route("b")]}, "rev-1"))
    client = make_client()
    gate = upstream.block["a"] = threading.Event()
    upstream.status["a"] = 503
    result: dict[str, Any] = {}

    def call() -> None:
        result["value"] = served_by(client)

    t = threading.Thread(target=call)
    t.start()
    assert upstream.entered.wait(WAIT)
    live.publish(document({"chat": [route("c")]}, "rev-2"))
    assert client.reload_config().revision == "rev-2"
    gate.set()
    t.join(WAIT)
    provider, attempts = result["value"]
    assert provider == "b"
    assert [(a.provider, a.revision) for a in attempts] == [("a", "rev-1"), ("b", "rev-1")]
    provider, attempts = served_by(client)
    assert provider == "c" and attempts[0].revision == "rev-2"


def test_cooldown_kept_for_unchanged_routes_and_dropped_for_changed(live, make_client,
                                                                    upstream, fake_clock):
    live.publish(document({"chat": [route("a"), route("b"), route("c")]}, "rev-1"))
    client = make_client()
    upstream.status.update(a=503, b=503)
    assert served_by(client)[0] == "c"  # a and b cool down for 30 s
    upstream.status.clear()
    fake_clock.now += 5
    # a: same identity, only its timeout changed -> keeps its cooldown;
    # b: another model -> a changed route, starts fresh; c unchanged.
    live.publish(document({"chat": [route("a", timeout=9.0), route("b", model="b-2"),
                                    route("c")]}, "rev-2"))
    client.reload_config()
    provider, attempts = served_by(client)
    assert provider == "b"
    assert [a.provider for a in attempts] == ["b"]
    fake_clock.now += 30  # a's cooldown (from rev-1) is over
    assert served_by(client)[0] == "a"


def test_reordered_routes_keep_their_cooldown(live, make_client, upstream):
    live.publish(document({"chat": [route("a"), route("b")]}, "rev-1"))
    client = make_client()
    upstream.status["a"] = 503
    assert served_by(client)[0] == "b"
    upstream.status.clear()
    live.publish(document({"chat": [route("c"), route("a"), route("b")]}, "rev-2"))
    client.reload_config()
    upstream.status["c"] = 503
    # c fails and cools; a is still cooling from rev-1, so b serves before it.
    provider, attempts = served_by(client)
    assert [x.provider for x in attempts] == ["c", "b"] and provider == "b"


def test_session_affinity_survives_a_swap_and_ends_with_its_route(live, make_client,
                                                                  upstream, fake_clock):
    live.publish(document({"chat": [route("a"), route("b")]}, "rev-1"))
    client = make_client()
    upstream.status["a"] = 503
    assert served_by(client, session_id="s1")[0] == "b"
    upstream.status.clear()
    fake_clock.now += 60  # a is healthy again; the session stays on b
    assert served_by(client, session_id="s1")[0] == "b"
    assert served_by(client, session_id="s2")[0] == "a"
    # Another alias appears and a's timeout changes: chat's routes are still there.
    live.publish(document({"chat": [route("a", timeout=7.0), route("b")],
                           "other": [route("c")]}, "rev-2"))
    client.reload_config()
    assert served_by(client, session_id="s1")[0] == "b"
    assert served_by(client, session_id="s2")[0] == "a"
    # b is removed: its sessions fall back to the order; putting b back does
    # not revive them.
    live.publish(document({"chat": [route("a")]}, "rev-3"))
    client.reload_config()
    assert served_by(client, session_id="s2")[0] == "a"  # s1 makes no call meanwhile
    live.publish(document({"chat": [route("a"), route("b")]}, "rev-4"))
    client.reload_config()
    assert served_by(client, session_id="s1")[0] == "a"


def test_removed_alias_is_unknown_to_new_calls(live, make_client):
    live.publish(document({"chat": [route("a")], "old": [route("b")]}, "rev-1"))
    client = make_client()
    assert served_by(client, "old")[0] == "b"
    live.publish(document({"chat": [route("a")]}, "rev-2"))
    client.reload_config()
    with pytest.raises(UnknownAlias, match="'old' is not configured"):
        client.chat.completions.create(model="old", messages=USER)
    assert client.aliases == ["chat"]


def test_removed_alias_through_the_openai_sdk_is_not_found(live, make_client):
    openai = pytest.importorskip("openai")
    live.publish(document({"chat": [route("a")], "old": [route("b")]}, "rev-1"))
    client = make_client()
    oai = client.openai(transport=_httpx2_mock())
    live.publish(document({"chat": [route("a")]}, "rev-2"))
    client.reload_config()
    with pytest.raises(openai.NotFoundError, match="'old' is not configured"):
        oai.chat.completions.create(model="old", messages=USER)


def _httpx2_mock() -> Any:
    h = pytest.importorskip("httpx2")
    return h.MockTransport(lambda req: h.Response(200, json={"id": "x"}))


def test_new_routes_key_files_are_read_and_old_ones_dropped(live, make_client, upstream):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(key_check_interval=0)
    (live.keys / "n.default.key").write_text("sk-n-7\n")
    live.publish(document({"chat": [route("n")]}, "rev-2"))
    client.reload_config()
    provider, attempts = served_by(client)
    assert provider == "n" and attempts[0].key_fingerprint == fingerprint("sk-n-7")
    assert [str(kf.path) for kf in client._key_files.values()] == [
        str(live.keys / "n.default.key")]


def test_new_route_key_file_is_watched(live, make_client, upstream, tmp_path_factory):
    """A route added by a swap, its key file in a folder not watched so far,
    follows that key file's rotation by watchfiles (no key polling)."""
    pytest.importorskip("watchfiles")
    other = tmp_path_factory.mktemp("other-keys")
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(watch_keys=True, key_check_interval=3600)
    keyfile = other / "n.default.key"
    keyfile.write_text("sk-n-1\n")
    live.publish(document({"chat": [route("n", key_file=str(keyfile))]}, "rev-2"))
    client.reload_config()
    assert served_by(client)[1][0].key_fingerprint == fingerprint("sk-n-1")
    tmp = keyfile.with_name("n.tmp")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:  # rename again until the new watch has seen one
        tmp.write_text("sk-n-2\n")
        tmp.replace(keyfile)
        if served_by(client)[1][0].key_fingerprint == fingerprint("sk-n-2"):
            break
        time.sleep(0.1)
    assert served_by(client)[1][0].key_fingerprint == fingerprint("sk-n-2")


# --- rejections --------------------------------------------------------------------


def _other(**over: Any) -> str:
    return json.dumps(document({"chat": [route("b")]}, "rev-bad", **over))


REJECTED = {
    "not-json": ("this is not json", "not valid JSON"),
    "truncated": (_other()[:57], "not valid JSON"),
    "schema": (json.dumps(document({"chat": [route("b", timeout="slow")]}, "rev-bad")),
               "aliases.chat.routes[0].timeout: expected number"),
    "bad-weight": (json.dumps(document({"chat": [route("b", weight=150)]}, "rev-bad")),
                   "aliases.chat.routes[0].weight: expected a whole number 0-100"),
    "version": (_other(version=2), "version: 2 is not supported"),
    "service": (_other(service="billing"),
                "service: 'billing' is not this client's 'support-bot'"),
    "environment": (_other(environment="prod"),
                    "environment: 'prod' is not this client's 'test'"),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejected_file_keeps_the_old_config_serving(live, make_client, caplog, case):
    text, reason = REJECTED[case]
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="aigw.client"):
        live.publish(text)
        status = client.reload_config()
        # The same bytes again (a new inode: the agent re-rendered): not reparsed.
        live.publish(text)
        again = client.reload_config()
    assert status.revision == "rev-1" and status.rejected == 1
    assert str(live.path) in status.rejection and reason in status.rejection
    assert again.rejected == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("aigw config support-bot: rejected " + str(live.path))
    assert reason in warnings[0] and "\n" not in warnings[0]
    assert served_by(client)[0] == "a"
    live.publish(document({"chat": [route("c")]}, "rev-2"))
    assert client.reload_config().revision == "rev-2"
    assert served_by(client)[0] == "c"


def test_unreadable_and_missing_files_keep_the_old_config(live, make_client, caplog):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="aigw.client"):
        live.path.unlink()
        live.path.mkdir()  # unreadable as a file, whoever runs the test (root too)
        unreadable = client.reload_config()
        client.reload_config()
        live.path.rmdir()
        missing = client.reload_config()
        client.reload_config()
    assert unreadable.rejected == 1 and "cannot read" in unreadable.rejection
    assert missing.rejected == 2 and missing.rejection.endswith("missing")
    assert missing.revision == "rev-1"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    assert served_by(client)[0] == "a"
    live.publish(document({"chat": [route("b")]}, "rev-2"))
    assert client.reload_config().revision == "rev-2"


def test_half_written_file_is_never_served(live, make_client):
    """A truncated file written in place is rejected and the old config serves;
    a complete file renamed over it is then served."""
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(config_check_interval=0)
    good = document({"chat": [route("b")]}, "rev-2")
    text = json.dumps(good, indent=2)
    live.path.write_text(text[: len(text) // 2])  # what a non-atomic writer leaves
    assert served_by(client)[0] == "a"
    assert client.config_status.rejected == 1
    live.publish(good)
    assert served_by(client)[0] == "b"
    assert client.config_status == client.config_status._replace(revision="rev-2",
                                                                 rejected=1)


def test_same_content_is_not_parsed_twice(live, make_client, monkeypatch):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client()
    import aigw.client.core as core
    parsed: list[Path] = []
    real = core.config_from_bytes

    def counting(data: bytes, path: Path) -> Any:
        parsed.append(path)
        return real(data, path)

    monkeypatch.setattr(core, "config_from_bytes", counting)
    live.publish(document({"chat": [route("a")]}, "rev-1"))  # same bytes, new inode
    client.reload_config()
    assert parsed == []
    live.publish(document({"chat": [route("b")]}, "rev-2"))
    client.reload_config()
    client.reload_config()
    assert parsed == [live.path] and client.config_status.reloads == 1


def test_family_change_is_accepted_and_logged(live, make_client, caplog):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client()
    doc = document({"chat": [route("a", api="anthropic")]}, "rev-2")
    doc["aliases"]["chat"]["family"] = "anthropic"
    with caplog.at_level(logging.WARNING, logger="aigw.client"):
        live.publish(doc)
        assert client.reload_config().revision == "rev-2"
    assert client.family("chat") == "anthropic"
    assert any("alias 'chat' now speaks the anthropic family (was openai)" in r.getMessage()
               for r in caplog.records)


# --- weights -----------------------------------------------------------------------


def test_weights_split_first_attempts(live, make_client, upstream):
    live.publish(document({"chat": [route("a", weight=90), route("b", weight=10),
                                    route("c")]}, "rev-1"))
    client = make_client(rng=random.Random(16))
    n = 4000
    firsts = Counter(served_by(client)[0] for _ in range(n))
    assert set(firsts) == {"a", "b"}
    assert abs(firsts["b"] / n - 0.10) < 0.02


def test_weighted_pick_falls_back_in_order_and_skips_cooling(live, make_client, upstream):
    live.publish(document({"chat": [route("a"), route("b", weight=0),
                                    route("c", weight=100)]}, "rev-1"))
    client = make_client(rng=random.Random(1))
    upstream.status["c"] = 503
    provider, attempts = served_by(client)
    # c is the only weighted route with a share; it fails, then catalog order.
    assert [x.provider for x in attempts] == ["c", "a"] and provider == "a"
    # c cools: no healthy weighted route, so plain order (b with weight 0 included).
    assert [x.provider for x in served_by(client)[1]] == ["a"]


def test_session_stays_on_its_weighted_pick(live, make_client):
    live.publish(document({"chat": [route("a", weight=50), route("b", weight=50)]},
                          "rev-1"))
    client = make_client(rng=random.Random(3))
    picks = {sid: served_by(client, session_id=sid)[0] for sid in map(str, range(20))}
    assert set(picks.values()) == {"a", "b"}
    for _ in range(3):
        assert {sid: served_by(client, session_id=sid)[0] for sid in picks} == picks


def test_no_weights_means_plain_order_and_no_rng(live, make_client):
    class NoRandom(random.Random):
        def random(self) -> float:
            raise AssertionError("the RNG was used without weights")

    live.publish(document({"chat": [route("a"), route("b")]}, "rev-1"))
    client = make_client(rng=NoRandom())
    assert [served_by(client)[0] for _ in range(5)] == ["a"] * 5


def test_weight_is_parsed(live):
    live.publish(document({"chat": [route("a", weight=95), route("b", weight=5),
                                    route("c")]}, "rev-1"))
    routes = load_config(live.path).aliases["chat"]
    assert [r.weight for r in routes] == [95, 5, None]


# --- telemetry and the async client ------------------------------------------------


def test_span_carries_the_config_revision(live, make_client):
    sdk = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client(tracer_provider=provider)
    served_by(client)
    live.publish(document({"chat": [route("a")]}, "rev-2"))
    client.reload_config()
    served_by(client)
    revs = [s.attributes["aigw.config.revision"] for s in exporter.get_finished_spans()]
    assert revs == ["rev-1", "rev-2"]


def test_async_client_swaps_the_same_way(live, upstream, fake_clock):
    live.publish(document({"chat": [route("a")], "old": [route("b")]}, "rev-1"))

    async def handler(request: httpx.Request) -> httpx.Response:
        return upstream(request)

    async def main() -> None:
        async with AsyncClient.from_file(live.path, transport=httpx.MockTransport(handler),
                                         watch_keys=False, config_check_interval=0,
                                         clock=fake_clock) as client:
            reply = await client.chat.completions.create(model="chat", messages=USER)
            assert reply["provider"] == "a" and client.revision == "rev-1"
            live.publish(document({"chat": [route("c")]}, "rev-2"))
            reply = await client.chat.completions.create(model="chat", messages=USER)
            assert reply["provider"] == "c" and client.revision == "rev-2"
            with pytest.raises(UnknownAlias):
                await client.chat.completions.create(model="old", messages=USER)

    asyncio.run(main())


def test_status_type(live, make_client):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    status = make_client().config_status
    assert isinstance(status, ConfigStatus)
    assert (status.revision, status.rejection, status.rejected, status.reloads,
            status.following) == ("rev-1", "", 0, 0, True)


def test_all_routes_failed_names_the_revision(live, make_client, upstream):
    live.publish(document({"chat": [route("a")]}, "rev-1"))
    client = make_client()
    upstream.status["a"] = 503
    with pytest.raises(AllRoutesFailed) as info:
        client.request("chat", "POST", "/chat/completions", json={"messages": USER})
    assert [a.revision for a in info.value.attempts] == ["rev-1"]
