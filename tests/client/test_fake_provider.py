"""The fake OpenAI-compatible provider that stands in for provider APIs in tests,
the demo and the benchmarks: keys, faults, counts, its HTTP control API and CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from testing.fake_provider import FakeProvider, FakeProviderControl, fingerprint

CHAT = {"model": "any-model", "messages": [{"role": "user", "content": "hi"}]}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_chat_models_and_auth():
    """Only current keys are accepted; the answer echoes model and provider name."""
    with FakeProvider("p1", ["sk-a"]) as fake, httpx.Client() as http:
        r = http.post(fake.base_url + "/chat/completions", json=CHAT, headers=auth("sk-a"))
        assert r.status_code == 200
        assert r.headers["x-fake-provider"] == "p1"
        assert r.json()["model"] == "any-model" and r.json()["provider"] == "p1"
        assert http.get(fake.base_url + "/models", headers=auth("sk-a")).status_code == 200
        assert http.post(fake.base_url + "/chat/completions", json=CHAT,
                         headers=auth("sk-b")).status_code == 401
        assert http.get(fake.base_url + "/models").status_code == 401
        assert fake.total_calls == 4
        assert fake.calls_for("sk-a") == 2 and fake.calls_for("sk-b") == 1
        assert [e.status for e in fake.log()] == [200, 200, 401, 401]
        assert fake.log()[0].key_fingerprint == fingerprint("sk-a")
        first, last = fake.first_used("sk-a"), fake.last_used("sk-a")
        assert first is not None and last is not None and first <= last


def test_modes_and_count():
    """Faults are injected on demand and a count makes them go away by themselves."""
    with FakeProvider("p1", ["sk-a"]) as fake, httpx.Client() as http:
        post = lambda: http.post(fake.base_url + "/chat/completions", json=CHAT,  # noqa: E731
                                 headers=auth("sk-a")).status_code
        for mode in ("429", "500", "503"):
            fake.set_mode(mode)
            assert post() == int(mode)
        fake.set_mode("503", count=2)
        assert [post(), post(), post()] == [503, 503, 200]
        fake.set_mode("slow", seconds=2.0)  # slow: a client that waits less times out
        with pytest.raises(httpx.ReadTimeout):
            http.post(fake.base_url + "/chat/completions", json=CHAT, headers=auth("sk-a"),
                      timeout=0.2)
        fake.set_mode("ok")
        fake.set_mode("refuse")
        with pytest.raises(httpx.ConnectError):
            post()
        fake.set_mode("ok")
        assert post() == 200
        with pytest.raises(ValueError, match="unknown mode"):
            fake.set_mode("flaky")


def test_stream_is_sse_ending_with_done():
    with FakeProvider("p1", ["sk-a"]) as fake, httpx.Client() as http:
        with http.stream("POST", fake.base_url + "/chat/completions",
                         json={**CHAT, "stream": True}, headers=auth("sk-a")) as r:
            lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_control_api_over_http_stays_up_while_refusing():
    """Another process drives the fake through /_fake/ on its control port."""
    with FakeProvider("p1", ["sk-a"], control_port=0) as fake:
        assert fake.control_url is not None
        ctl = FakeProviderControl(fake.control_url)
        new = ctl.mint_key()
        assert fingerprint(new) in ctl.state()["keys"]
        ctl.add_key("sk-b")
        assert ctl.revoke_key("sk-a")
        assert fake.key_fingerprints() == sorted([fingerprint(new), fingerprint("sk-b")])
        ctl.set_mode("refuse")
        with pytest.raises(httpx.ConnectError):
            httpx.get(fake.base_url + "/models", headers=auth("sk-b"))
        assert ctl.state()["mode"] == "refuse"
        ctl.set_mode("ok")
        assert httpx.get(fake.base_url + "/models", headers=auth("sk-b")).status_code == 200
        assert ctl.calls_for("sk-b") == 1
        ctl.set_keys(["sk-c"])
        ctl.reset_stats()
        state = ctl.state()
        assert state["keys"] == [fingerprint("sk-c")] and state["total_calls"] == 0
        assert "sk-c" not in json.dumps(state)
        ctl.close()


def test_runs_as_a_process_with_a_keys_file(tmp_path):
    """`python -m testing.fake_provider` prints its URLs and follows its keys file."""
    keys = tmp_path / "keys.txt"
    keys.write_text("sk-a\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "testing.fake_provider", "--name", "p9", "--port", "0",
         "--keys-file", str(keys), "--control-port", "0"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["name"] == "p9"
        assert httpx.get(info["base_url"] + "/models", headers=auth("sk-a")).status_code == 200
        tmp = tmp_path / "keys.new"
        tmp.write_text("sk-b\n")
        tmp.replace(keys)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if httpx.get(info["base_url"] + "/models", headers=auth("sk-b")).status_code == 200:
                break
            time.sleep(0.05)
        else:
            pytest.fail("keys file change not picked up")
        ctl = FakeProviderControl(info["control_url"])
        minted = ctl.mint_key()
        assert minted in keys.read_text().split()  # persisted for a restart
        ctl.close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
