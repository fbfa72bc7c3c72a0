"""Key files: re-read on 401, rotation under load, and no key value ever leaks.

In every test the fake provider (testing.fake_provider) stands in for the
provider APIs: it accepts only its current keys and counts calls per key.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from aigw.client import AllRoutesFailed, Attempt, Client, fingerprint

USER = [{"role": "user", "content": "hello"}]


def test_401_rereads_key_file_and_retries(replace_key, providers, make_route,
                                          write_config):
    """The fakes stand in for the provider APIs; p1's key was rotated under the client."""
    p1, p2 = providers("p1", ["sk-old"]), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]}, keys={"p1": "sk-old"})
    attempts: list[Attempt] = []
    # No polling, no watcher: only the 401 can make the client look at the file.
    with Client.from_file(cfg, key_check_interval=3600, watch_keys=False,
                          on_attempt=attempts.append) as client:
        client.chat.completions.create(model="chat", messages=USER)
        p1.set_keys(["sk-new"])
        replace_key(cfg.parent / "keys" / "p1.default.key", "sk-new")
        reply = client.chat.completions.create(model="chat", messages=USER)
    assert reply["provider"] == "p1"
    assert [(a.provider, a.outcome) for a in attempts[1:]] == [("p1", "http_401"), ("p1", "ok")]
    assert attempts[-1].key_fingerprint == fingerprint("sk-new")
    assert p2.total_calls == 0


def test_401_with_unchanged_key_moves_on(providers, make_route, write_config):
    """The fakes stand in for the provider APIs; p1 revoked a key the file still holds."""
    p1, p2 = providers("p1", ["sk-other"]), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]})
    with Client.from_file(cfg) as client:
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p2"
    assert p1.total_calls == 1


@pytest.mark.parametrize("watch", [False, True], ids=["poll", "watchfiles"])
def test_changed_key_file_is_picked_up(replace_key, providers, make_route, write_config,
                                       watch):
    """The fake stands in for the provider API; both keys are valid during the switch."""
    p1 = providers("p1", ["sk-old", "sk-new"])
    cfg = write_config({"chat": [make_route(p1)]}, keys={"p1": "sk-old"})
    interval = 3600 if watch else 0.05
    with Client.from_file(cfg, key_check_interval=interval, watch_keys=watch) as client:
        client.chat.completions.create(model="chat", messages=USER)
        replace_key(cfg.parent / "keys" / "p1.default.key", "sk-new")
        deadline = time.monotonic() + 5
        while p1.calls_for("sk-new") == 0 and time.monotonic() < deadline:
            client.chat.completions.create(model="chat", messages=USER)
            time.sleep(0.01)
    assert p1.calls_for("sk-new") >= 1
    assert p1.calls_for("sk-old") >= 1


@pytest.mark.parametrize("watch", [False, True], ids=["poll", "watchfiles"])
def test_rotation_mid_load_has_zero_failed_requests(replace_key, providers, make_route,
                                                    write_config, watch):
    """The fake stands in for the provider API; rotation as `aigw rotate-keys` does it:
    mint a new key, the agent replaces the file, grace period, revoke the old key.
    """
    p1 = providers("p1", ["sk-old"])
    cfg = write_config({"chat": [make_route(p1)]}, keys={"p1": "sk-old"})
    stop = threading.Event()
    ok, failures = [0], []

    def worker(client: Client) -> None:
        while not stop.is_set():
            try:
                client.chat.completions.create(model="chat", messages=USER)
                ok[0] += 1
            except Exception as exc:  # noqa: BLE001 - any failure fails the test
                failures.append(repr(exc))

    with Client.from_file(cfg, watch_keys=watch) as client:
        threads = [threading.Thread(target=worker, args=(client,)) for _ in range(4)]
        for t in threads:
            t.start()
        # Phases end on events, not on a clock: the machine's speed cannot fail this.
        while p1.calls_for("sk-old") < 20:
            time.sleep(0.01)
        new = p1.mint_key()
        replace_key(cfg.parent / "keys" / "p1.default.key", new)
        while p1.calls_for(new) < 20:  # grace period: old and new both valid
            time.sleep(0.01)
        p1.revoke_key("sk-old")
        new_before = p1.calls_for(new)
        after = ok[0]
        while ok[0] < after + 20:
            time.sleep(0.01)
        stop.set()
        for t in threads:
            t.join(timeout=10)
    assert failures == []
    assert ok[0] >= 60
    assert p1.calls_for(new) > 0
    # After the revocation the load runs on the new key (a request already in flight
    # with the old one gets a 401, re-reads the file and succeeds: no failure above).
    assert p1.calls_for(new) >= new_before + 20


CANARY = "sk-CANARY-7f3a9c1e5b"


def test_no_key_value_in_errors_or_logs(providers, make_route, write_config, caplog):
    """The fakes stand in for the provider APIs; a canary key must never show up."""
    caplog.set_level(logging.DEBUG)
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"chat": [make_route(p1), make_route(p2)]},
                       keys={"p1": CANARY, "p2": CANARY})
    p2.set_mode("503")
    with Client.from_file(cfg) as client:
        with pytest.raises(AllRoutesFailed) as info:
            client.chat.completions.create(model="chat", messages=USER)
        (cfg.parent / "keys" / "p1.default.key").unlink()
        with pytest.raises(AllRoutesFailed) as info2:
            client.chat.completions.create(model="chat", messages=USER, stream=True)
    for exc in (info.value, info2.value):
        assert CANARY not in str(exc)
        assert CANARY not in repr(exc)
        assert CANARY not in repr(exc.attempts)
    assert fingerprint(CANARY) in repr(info.value.attempts)
    assert CANARY not in caplog.text
    assert "p1/default" in str(info.value)
    assert CANARY not in str(p1.state()) + str(p2.state())


def test_key_dir_relative_to_config(providers, make_route, write_config, tmp_path):
    """The fake stands in for the provider API; the client runs from another folder."""
    p1 = providers("p1")
    cfg = write_config({"chat": [make_route(p1)]})
    assert Client.from_file(cfg).config.key_dir == tmp_path / "keys"
    abs_key = tmp_path / "elsewhere.key"
    abs_key.write_text("sk-p1-1\n")
    cfg2 = write_config({"chat": [make_route(p1, key_file=str(abs_key))]})
    with Client.from_file(Path(cfg2)) as client:
        assert client.chat.completions.create(model="chat", messages=USER)["provider"] == "p1"


def test_key_file_concurrent_first_reads(tmp_path):
    """No thread sees "no key" while another thread is loading it (no provider needed)."""
    from aigw.client.keys import KeyFile

    path = tmp_path / "k.key"
    path.write_text("sk-x\n")
    for _ in range(20):
        kf = KeyFile(path, check_interval=10)
        seen: list[object] = []

        def load(kf: KeyFile = kf, seen: list[object] = seen) -> None:
            seen.append(kf.get())

        threads = [threading.Thread(target=load) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [("sk-x", fingerprint("sk-x"))] * 8
