"""Added latency of aigw.client (dict API and under the official SDKs) vs LiteLLM.

One run, one fake upstream: OpenAI-compatible and Anthropic stand-ins, each its
own process (a primary and a fallback of each; testing.fake_provider and
testing.fake_anthropic). Every contender is measured in the same loop as its own
bare baseline, alternating request by request so drift on the machine hits
both; "added" is the contender's percentile minus its baseline's:

- aigw dict API vs bare httpx;
- aigw + openai SDK vs the bare openai SDK; aigw + anthropic SDK vs the bare
  anthropic SDK (same SDK options, retries off);
- LiteLLM Router (in-process), for the openai and the anthropic stand-ins, vs
  bare httpx to the same stand-in; and the LiteLLM proxy.

Failover: the primary refuses connections; each aigw contender is measured
against the fallback called bare, alternating: "fo 1st" is the first request
after the primary died minus the fallback's own p50, "fo +p50" the steady state.
"dead 1st+" is the first request to an alias whose primary is a closed port
(nothing listens; its cooldown reset before each sample) minus the fallback
called bare right after, median over repeats: what a dead primary costs from
the first failed request on.

In-process rows use ``httpx.MockTransport`` / ``httpx2.MockTransport`` (network
excluded); they report wall-clock p50 and CPU time per call (process time over
batches, which a loaded machine distorts far less than wall time).

    python benchmarks/overhead.py                # everything (installs LiteLLM once)
    python benchmarks/overhead.py --skip-litellm # aigw rows only
    python benchmarks/overhead.py --in-process-only  # the MockTransport table only
    python benchmarks/overhead.py --in-process-only --baseline /work/main --plain
        # this checkout beside another one's cli/ (and with AIGW_NO_FASTPATH=1), in
        # alternating fresh processes over the same stand-ins: "no regression" in one run

LiteLLM lives in its own virtualenv (scripts/install-litellm.sh); the in-process
Router is measured by benchmarks/litellm_router.py run with that venv's python,
the proxy as its users run it: ``litellm --config cfg.yaml --port N`` (bound to
127.0.0.1, with LITELLM_MASTER_KEY set and the local model cost map).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai

from aigw.client import Client

ROOT = Path(__file__).resolve().parent.parent
KEY_ENV = "AIGW_BENCH_KEY"
KEY = "sk-bench-not-secret"
MASTER = "sk-bench-master"
MESSAGES = [{"role": "user", "content": "hello"}]
Samples = dict[str, list[float]]
STAND_INS = (("p1", "testing.fake_provider"), ("p2", "testing.fake_provider"),
             ("a1", "testing.fake_anthropic"), ("a2", "testing.fake_anthropic"))


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`, in seconds."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s))) - 1))]


def alternate(a: Callable[[], Any], b: Callable[[], Any], n: int) -> tuple[list[float], ...]:
    """Call a and b alternately n times each; return both latency lists."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(n):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return ta, tb


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    """Call fn n times; return each latency."""
    return alternate(fn, lambda: None, n)[0]


@contextmanager
def process(cmd: list[str], env: dict[str, str] | None = None,
            log: Path | None = None) -> Iterator[subprocess.Popen[str]]:
    """Run cmd in its own process group; stop that group (only) afterwards."""
    out = log.open("w") if log else subprocess.PIPE
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log else None,
                            text=True, env=env, start_new_session=True)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        if log and not isinstance(out, int):
            out.close()


def start_fake(name: str, keys_file: Path,
               module: str = "testing.fake_provider") -> tuple[Any, dict[str, str]]:
    """Start a stand-in provider process; return the context and its URLs."""
    cm = process([sys.executable, "-m", module, "--name", name,
                  "--port", "0", "--control-port", "0", "--keys-file", str(keys_file)])
    proc = cm.__enter__()
    assert proc.stdout is not None
    return cm, json.loads(proc.stdout.readline())


# One client for every control call: a throwaway httpx client per call leaves an SSL
# context (its CA store) for the garbage collector, and freeing one inside a timed
# request cost 8-12 ms in about one first-failure sample of ten.
_CONTROL = httpx.Client()


def set_mode(control_url: str, mode: str) -> None:
    """Set the fault mode of a fake provider."""
    _CONTROL.post(control_url + "/_fake/mode", json={"mode": mode}).raise_for_status()


_HELD: list[Any] = []


def closed_port() -> dict[str, str]:
    """A stand-in's URLs on a port bound but not listening, held for the whole run:
    connections are refused, and no other process can take the port meanwhile."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    _HELD.append(sock)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    return {"name": "dead", "url": url, "base_url": url + "/v1"}


def write_client_config(folder: Path, p1: dict[str, str], p2: dict[str, str],
                        a1: dict[str, str], a2: dict[str, str]) -> Path:
    """aigw-client.json: "chat" over p1 then p2, "claude" over a1 then a2; "chat-dead"
    and "claude-dead" over a closed port, then p2 or a2."""
    (folder / "keys").mkdir()
    aliases: dict[str, Any] = {}
    dead = closed_port()
    for alias, api, fakes, suffix in (("chat", "openai", (p1, p2), ""),
                                      ("claude", "anthropic", (a1, a2), ""),
                                      ("chat-dead", "openai", (dead, p2), ""),
                                      ("claude-dead", "anthropic", (dead, a2), "")):
        routes = []
        for fake in fakes:
            (folder / "keys" / f"{fake['name']}.default.key").write_text(KEY + "\n")
            routes.append({"provider": fake["name"], "api": api,
                           "base_url": fake["base_url"] if api == "openai" else fake["url"],
                           "model": f"{fake['name']}-model{suffix}", "slot": "default",
                           "key_file": f"{fake['name']}.default.key", "timeout": 30.0,
                           "retries": 0, "cooldown": 30.0, "extra": {}})
        aliases[alias] = {"family": api, "routes": routes}
    path = folder / "aigw-client.json"
    path.write_text(json.dumps({"version": 1, "service": "bench", "environment": "bench",
                                "key_dir": "keys", "aliases": aliases},
                               indent=2, sort_keys=True) + "\n")
    return path


def measure(samples: Samples, key: str, base_key: str, base: Callable[[], Any],
            call: Callable[[], Any], n: int, warmup: int) -> None:
    """Alternate `base` and `call`; store both latency lists."""
    alternate(base, call, warmup)
    samples[base_key], samples[key] = alternate(base, call, n)


def measure_failover(samples: Samples, key: str, fallback: Callable[[], Any],
                     call: Callable[[], Any], control: str, n: int) -> None:
    """The primary refuses: alternate the fallback called bare and the aigw contender
    (whose first sample is the first request after the primary died)."""
    alternate(fallback, lambda: None, 20)
    set_mode(control, "refuse")
    try:
        samples[key + "_fallback"], samples[key + "_failover"] = alternate(fallback, call, n)
    finally:
        set_mode(control, "ok")


def penalty(call: Callable[[], Any], fallback: Callable[[], Any]) -> float:
    """How much longer `call` took than `fallback` called bare right after it."""
    t0 = time.perf_counter()
    call()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    fallback()
    return first - (time.perf_counter() - t0)


def measure_first_failures(samples: Samples, key: str, client: Client, alias: str,
                           fallback: Callable[[], Any], call: Callable[[], Any], control: str,
                           reps: int) -> None:
    """The first request after the primary dies, `reps` times: each time the primary is
    healthy and pooled, then refuses; the fallback called bare right after is the
    reference, with its server woken just before. (One sample would be at the mercy of
    a busy machine.)"""
    penalties = []
    for _ in range(reps):
        for rs in client._routers[alias].routes:
            rs.cooldown_until = 0.0
        call()  # served by the primary: its connection is in the pool
        set_mode(control, "refuse")
        try:
            # The fallback's server has idled since the last repeat: wake it first, or
            # the first request pays its wake-up (~0.3-0.7 ms) and the reference not.
            fallback()
            penalties.append(penalty(call, fallback))
        finally:
            set_mode(control, "ok")
    samples[key + "_first_penalties"] = penalties


def measure_dead_port(samples: Samples, key: str, client: Client, alias: str,
                      fallback: Callable[[], Any], call: Callable[[], Any], reps: int) -> None:
    """The first failed request to a closed-port primary, `reps` times (its cooldown
    reset each time), minus the fallback called bare right after."""
    dead = client._routers[alias].routes[0]
    penalties = []
    call()  # the fallback's connection is in the pool, as after any earlier request
    for _ in range(reps):
        dead.cooldown_until = 0.0
        penalties.append(penalty(call, fallback))
    samples[key + "_dead_penalties"] = penalties


def bench_aigw(cfg: Path, fakes: dict[str, dict[str, str]], n: int, warmup: int,
               n_failover: int) -> Samples:
    """Each aigw contender against its bare baseline, then with the primary refusing."""
    s: Samples = {}
    p1, p2, a1, a2 = (fakes[k] for k in ("p1", "p2", "a1", "a2"))
    http = httpx.Client()
    chat_body = {"model": "p1-model", "messages": MESSAGES}

    def direct(base: str = p1["base_url"], model: str = "p1-model") -> None:
        http.post(base + "/chat/completions", json={**chat_body, "model": model},
                  headers={"Authorization": f"Bearer {KEY}"}).json()

    bare_oai = openai.OpenAI(api_key=KEY, base_url=p1["base_url"], max_retries=0)
    bare_oai2 = openai.OpenAI(api_key=KEY, base_url=p2["base_url"], max_retries=0)
    bare_ant = anthropic.Anthropic(api_key=KEY, base_url=a1["url"], max_retries=0)
    bare_ant2 = anthropic.Anthropic(api_key=KEY, base_url=a2["url"], max_retries=0)
    with Client.from_file(cfg) as client:
        oai, ant = client.openai(), client.anthropic()

        def dict_api() -> None:
            client.chat.completions.create(model="chat", messages=MESSAGES)

        def sdk_oai(c: Any = oai, model: str = "chat") -> None:
            c.chat.completions.create(model=model, messages=MESSAGES)

        def sdk_ant(c: Any = ant, model: str = "claude") -> None:
            c.messages.create(model=model, max_tokens=16, messages=MESSAGES)

        measure(s, "aigw", "direct", direct, dict_api, n, warmup)
        measure(s, "aigw_openai", "bare_openai", lambda: sdk_oai(bare_oai, "p1-model"),
                sdk_oai, n, warmup)
        measure(s, "aigw_anthropic", "bare_anthropic",
                lambda: sdk_ant(bare_ant, "a1-model"), sdk_ant, n, warmup)
        measure_failover(s, "aigw", lambda: direct(p2["base_url"], "p2-model"), dict_api,
                         p1["control_url"], n_failover)
        client.chat.completions.create(model="chat", messages=MESSAGES)
        for rs in client._routers["chat"].routes:  # the next contender starts healthy
            rs.cooldown_until = 0.0
        measure_failover(s, "aigw_openai", lambda: sdk_oai(bare_oai2, "p2-model"), sdk_oai,
                         p1["control_url"], n_failover)
        measure_failover(s, "aigw_anthropic", lambda: sdk_ant(bare_ant2, "a2-model"),
                         sdk_ant, a1["control_url"], n_failover)
        reps = max(5, n_failover // 10)
        for key, alias, fallback, call, control in (
                ("aigw", "chat", lambda: direct(p2["base_url"], "p2-model"), dict_api,
                 p1["control_url"]),
                ("aigw_openai", "chat", lambda: sdk_oai(bare_oai2, "p2-model"), sdk_oai,
                 p1["control_url"]),
                ("aigw_anthropic", "claude", lambda: sdk_ant(bare_ant2, "a2-model"), sdk_ant,
                 a1["control_url"])):
            measure_first_failures(s, key, client, alias, fallback, call, control, reps)
        for key, alias, fallback, call in (
                ("aigw", "chat-dead", lambda: direct(p2["base_url"], "p2-model"),
                 lambda: client.chat.completions.create(model="chat-dead", messages=MESSAGES)),
                ("aigw_openai", "chat-dead", lambda: sdk_oai(bare_oai2, "p2-model"),
                 lambda: sdk_oai(oai, "chat-dead")),
                ("aigw_anthropic", "claude-dead", lambda: sdk_ant(bare_ant2, "a2-model"),
                 lambda: sdk_ant(ant, "claude-dead"))):
            measure_dead_port(s, key, client, alias, fallback, call, reps * 4)
    http.close()
    return s


MOCK_CHAT = json.dumps({
    "id": "c", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
MOCK_MESSAGE = json.dumps({
    "id": "m", "type": "message", "role": "assistant", "model": "m",
    "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
    "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}).encode()


class Stopwatch:
    """Times calls of one method of an object (wraps it in place until `remove`).

    The wrapper costs time of its own (two CPU-clock reads are system calls), so
    the "added" figures are measured without stopwatches, the "own" ones with.
    """

    def __init__(self, obj: Any, name: str) -> None:
        self.obj, self.name = obj, name
        self.times: list[float] = []
        self.cpu: list[float] = []  # this thread's CPU time: what a loaded machine's
        inner = getattr(obj, name)  # scheduler does not add to

        def timed(*args: Any, **kwargs: Any) -> Any:
            c0, t0 = time.thread_time(), time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.times.append(time.perf_counter() - t0)
                self.cpu.append(time.thread_time() - c0)

        setattr(obj, name, timed)

    def remove(self) -> None:
        """Unwrap the method (the instance attribute set by the constructor goes)."""
        delattr(self.obj, self.name)


def own_time(outer: Stopwatch, inner: Stopwatch, cpu: bool = False) -> float:
    """p50 of the time spent in aigw's transport minus the time in the provider's."""
    pairs = zip(outer.cpu if cpu else outer.times, inner.cpu if cpu else inner.times,
                strict=False)
    return pct([o - i for o, i in pairs], 50)


def cpu_per_call(fn: Callable[[], Any], n: int, batches: int = 9) -> float:
    """Median over batches of process CPU time per call, in seconds."""
    per = []
    for _ in range(batches):
        t0 = time.process_time()
        for _ in range(n):
            fn()
        per.append((time.process_time() - t0) / n)
    return sorted(per)[batches // 2]


def bench_in_process(folder: Path, n: int, warmup: int) -> dict[str, Any]:
    """The same contenders over MockTransports: aigw's own cost, network excluded."""
    key_file = folder / "mock.key"
    key_file.write_text(KEY + "\n")

    def route(api: str, base: str) -> dict[str, Any]:
        return {"provider": "mock", "api": api, "base_url": base, "model": "m",
                "slot": "default", "key_file": str(key_file), "timeout": 30.0,
                "retries": 0, "cooldown": 30.0, "extra": {}}

    cfg = folder / "mock-client.json"
    cfg.write_text(json.dumps({"version": 1, "service": "bench", "environment": "bench",
                               "key_dir": str(folder), "aliases": {
                                   "chat": {"routes": [route("openai", "http://up/v1")]},
                                   "claude": {"routes": [route("anthropic", "http://up")]}}}))
    ctype = [("content-type", "application/json")]

    def chat1(_: Any) -> httpx.Response:
        return httpx.Response(200, headers=ctype, content=MOCK_CHAT)

    def chat2(_: Any) -> Any:
        return httpx2.Response(200, headers=ctype, content=MOCK_CHAT)

    def msg2(_: Any) -> Any:
        return httpx2.Response(200, headers=ctype, content=MOCK_MESSAGE)

    bare_http = httpx.Client(transport=httpx.MockTransport(chat1))
    bare_oai = openai.OpenAI(api_key=KEY, base_url="http://up/v1", max_retries=0,
                             http_client=httpx2.Client(transport=httpx2.MockTransport(chat2)))
    bare_ant = anthropic.Anthropic(api_key=KEY, base_url="http://up", max_retries=0,
                                   http_client=httpx2.Client(
                                       transport=httpx2.MockTransport(msg2)))
    out: dict[str, Any] = {}
    mocks = [httpx.MockTransport(chat1), httpx2.MockTransport(chat2),
             httpx2.MockTransport(msg2)]
    with Client.from_file(cfg, transport=mocks[0], watch_keys=False) as c:
        oai = c.openai(transport=mocks[1])
        ant = c.anthropic(transport=mocks[2])
        pairs = {
            "dict API vs httpx": (
                lambda: bare_http.post("http://up/v1/chat/completions",
                                       json={"model": "m", "messages": MESSAGES},
                                       headers={"Authorization": f"Bearer {KEY}"}).json(),
                lambda: c.chat.completions.create(model="chat", messages=MESSAGES)),
            "openai SDK": (
                lambda: bare_oai.chat.completions.create(model="m", messages=MESSAGES),
                lambda: oai.chat.completions.create(model="chat", messages=MESSAGES)),
            "anthropic SDK": (
                lambda: bare_ant.messages.create(model="m", max_tokens=16, messages=MESSAGES),
                lambda: ant.messages.create(model="claude", max_tokens=16,
                                            messages=MESSAGES)),
        }
        # aigw's own time per call: in its transport, minus in the provider's (the mock).
        spots = [((c._chat_transport, "send"), (mocks[0], "handle_request")),
                 ((oai._client._transport, "handle_request"), (mocks[1], "handle_request")),
                 ((ant._client._transport, "handle_request"), (mocks[2], "handle_request"))]
        for (label, (bare, aigw)), (outer, inner) in zip(pairs.items(), spots, strict=True):
            alternate(bare, aigw, warmup)
            tb, ta = alternate(bare, aigw, n)
            batch = max(50, n // 20)
            cb, ca = cpu_per_call(bare, batch), cpu_per_call(aigw, batch)
            cb2 = cpu_per_call(bare, batch)
            watches = Stopwatch(*outer), Stopwatch(*inner)
            timed(aigw, n)
            for w in watches:
                w.remove()
            out[label] = {"bare_p50": pct(tb, 50), "aigw_p50": pct(ta, 50),
                          "added_p50": pct(ta, 50) - pct(tb, 50),
                          "bare_cpu": (cb + cb2) / 2, "aigw_cpu": ca,
                          "added_cpu": ca - (cb + cb2) / 2, "aigw_own_p50": own_time(*watches),
                          "aigw_own_cpu_p50": own_time(*watches, cpu=True)}
    return out


def bench_router(venv: Path, fakes: dict[str, dict[str, str]], n: int, warmup: int,
                 n_failover: int) -> Samples:
    """LiteLLM Router in-process (openai and anthropic stand-ins), in the LiteLLM venv."""
    p1, p2, a1, a2 = (fakes[k] for k in ("p1", "p2", "a1", "a2"))
    spec = {"primary": p1["base_url"], "fallback": p2["base_url"], "control": p1["control_url"],
            "anthropic_primary": a1["url"], "anthropic_fallback": a2["url"],
            "anthropic_control": a1["control_url"],
            "key_env": KEY_ENV, "n": n, "warmup": warmup, "n_failover": n_failover}
    env = {**os.environ, KEY_ENV: KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "benchmarks/litellm_router.py")],
                         input=json.dumps(spec), capture_output=True, text=True, env=env,
                         check=True, timeout=1800)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_proxy(venv: Path, folder: Path, p1: dict[str, str], p2: dict[str, str],
                direct: Callable[[], Any], n: int, warmup: int, n_failover: int) -> Samples:
    """LiteLLM proxy as its users run it, called over HTTP like OpenAI."""
    cfg = folder / "litellm.yaml"
    deployments = "".join(
        f"  - model_name: {alias}\n    litellm_params:\n      model: openai/{f['name']}-model\n"
        f"      api_base: {f['base_url']}\n      api_key: os.environ/{KEY_ENV}\n"
        for alias, f in (("chat", p1), ("chat-fallback-1", p2)))
    cfg.write_text("model_list:\n" + deployments + "router_settings:\n  num_retries: 0\n"
                   "  fallbacks: [{\"chat\": [\"chat-fallback-1\"]}]\n")
    port = free_port()
    env = {**os.environ, KEY_ENV: KEY, "LITELLM_MASTER_KEY": MASTER,
           "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    log = folder / "litellm-proxy.log"
    cmd = [str(venv / "bin" / "litellm"), "--config", str(cfg), "--host", "127.0.0.1",
           "--port", str(port)]
    with process(cmd,
                 env=env, log=log) as proc, httpx.Client(timeout=60) as http:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"litellm proxy did not start; see {log}:\n"
                                   + log.read_text()[-2000:])
            try:
                if http.get(url + "/health/liveliness").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        headers = {"Authorization": f"Bearer {MASTER}"}

        def call() -> None:
            r = http.post(url + "/v1/chat/completions", headers=headers,
                          json={"model": "chat", "messages": MESSAGES})
            r.raise_for_status()
            r.json()

        alternate(direct, call, warmup)
        d, p = alternate(direct, call, n)
        set_mode(p1["control_url"], "refuse")
        try:
            first = timed(call, 1)
            failover = timed(call, n_failover)
        finally:
            set_mode(p1["control_url"], "ok")
    return {"direct_proxy": d, "proxy": p, "proxy_failover_first": first,
            "proxy_failover": failover}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def litellm_venv() -> Path:
    """The LiteLLM virtualenv, installed on first use."""
    out = subprocess.run(["bash", str(ROOT / "scripts/install-litellm.sh")], check=True,
                         capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def ms(seconds: float) -> str:
    """Seconds as milliseconds with 3 decimals."""
    return f"{seconds * 1000:8.3f}"


def us(seconds: float) -> str:
    """Seconds as microseconds."""
    return f"{seconds * 1e6:9.1f}"


ROWS = [  # label, samples key, its baseline, failover prefix
    ("direct httpx", "direct", "direct", None),
    ("aigw dict API (vs httpx)", "aigw", "direct", "aigw"),
    ("bare openai SDK", "bare_openai", "bare_openai", None),
    ("aigw + openai SDK", "aigw_openai", "bare_openai", "aigw_openai"),
    ("bare anthropic SDK", "bare_anthropic", "bare_anthropic", None),
    ("aigw + anthropic SDK", "aigw_anthropic", "bare_anthropic", "aigw_anthropic"),
    ("LiteLLM Router, openai (in-proc)", "router", "direct_router", "router"),
    ("LiteLLM Router, anthropic (in-proc)", "anthropic_router", "anthropic_direct",
     "anthropic_router"),
    ("LiteLLM proxy", "proxy", "direct_proxy", "proxy"),
]


def report(s: Samples, inproc: dict[str, Any] | None) -> dict[str, Any]:
    """Print the tables; return the summary."""
    summary: dict[str, Any] = {}
    if s:
        head = (f"{'contender':36} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} "
                f"{'fo 1st+':>8} {'fo +p50':>8} {'dead 1st+':>9} {'fo1st p99':>9} "
                f"{'dead p99':>8}")
        print(head)
        print("-" * len(head))
        for label, key, base, fo in ROWS:
            if key not in s:
                continue
            p50, p99 = pct(s[key], 50), pct(s[key], 99)
            add50, add99 = p50 - pct(s[base], 50), p99 - pct(s[base], 99)
            row: dict[str, Any] = {"p50": p50, "p99": p99, "added_p50": add50, "added_p99": add99}
            line = f"{label:36} {ms(p50)} {ms(p99)} {ms(add50)} {ms(add99)}"
            if fo and fo + "_failover" in s:
                own = pct(s[fo + "_fallback"], 50) if fo + "_fallback" in s else p50
                fail = s[fo + "_failover"]
                firsts = s.get(fo + "_first_penalties") or [fail[0] - own]
                row.update(failover_first_penalty=pct(firsts, 50),
                           failover_first_penalty_p99=pct(firsts, 99),
                           failover_first_penalty_max=max(firsts),
                           failover_penalty_p50=pct(fail[1:], 50) - own)
                line += f" {ms(row['failover_first_penalty'])} {ms(row['failover_penalty_p50'])}"
                dead = s.get(fo + "_dead_penalties")
                if dead:
                    row.update(dead_first_penalty=pct(dead, 50),
                               dead_first_penalty_p99=pct(dead, 99))
                    line += (f" {ms(row['dead_first_penalty'])} "
                             f" {ms(row['failover_first_penalty_p99'])} "
                             f"{ms(row['dead_first_penalty_p99'])}")
            elif fo and fo + "_failover_first" in s:  # LiteLLM: versus its own normal p50
                row.update(failover_first_penalty=s[fo + "_failover_first"][0] - p50,
                           failover_penalty_p50=pct(s[fo + "_failover"], 50) - p50)
                line += f" {ms(row['failover_first_penalty'])} {ms(row['failover_penalty_p50'])}"
            print(line)
            summary[key] = row
        print("\n+p50/+p99: added over the row's bare baseline measured in the same loop;"
              "\nfo: primary refusing connections; fo 1st+ = the first request after it died minus"
              "\nthe fallback called bare right after (median of repeated kills); fo +p50 = steady"
              "\nstate minus the fallback's own p50 (called bare, alternating); dead 1st+ = the"
              "\nfirst request with a closed port as the primary minus the fallback called bare"
              "\nright after (median of repeats, the dead route's cooldown reset each time);"
              "\np99: the same repeats' 99th percentile.")
    if inproc:
        print(f"\nin-process (MockTransport, no network)\n{'pair':20} {'bare p50 us':>12} "
              f"{'aigw p50 us':>12} {'+p50 us':>9} {'bare cpu us':>12} {'aigw cpu us':>12} "
              f"{'+cpu us':>9} {'own p50 us':>11} {'own cpu us':>11}")
        for label, r in inproc.items():
            print(f"{label:20} {us(r['bare_p50']):>12} {us(r['aigw_p50']):>12} "
                  f"{us(r['added_p50'])} {us(r['bare_cpu']):>12} {us(r['aigw_cpu']):>12} "
                  f"{us(r['added_cpu'])} {us(r['aigw_own_p50']):>11} "
                  f"{us(r['aigw_own_cpu_p50']):>11}")
        print("own = time inside aigw's transport minus time inside the provider's (the mock),"
              "\nper call, p50, wall and this thread's CPU time: what aigw adds, without the"
              "\nSDK's own noise (the CPU figure is what a loaded machine distorts least).")
        summary["in_process"] = inproc
    if "aigw" in summary and "proxy" in summary:
        ratio = summary["aigw"]["added_p50"] / summary["proxy"]["added_p50"]
        print(f"aigw.client / LiteLLM proxy added p50: {ratio:.3f}")
        summary["ratio_aigw_proxy_added_p50"] = ratio
    return summary


SIDE_ROWS = [  # label, summary path, unit: what the side-by-side table compares
    ("dict API own cpu", ("in_process", "dict API vs httpx", "aigw_own_cpu_p50"), "us"),
    ("openai SDK own cpu", ("in_process", "openai SDK", "aigw_own_cpu_p50"), "us"),
    ("anthropic SDK own cpu", ("in_process", "anthropic SDK", "aigw_own_cpu_p50"), "us"),
    ("dict API own p50", ("in_process", "dict API vs httpx", "aigw_own_p50"), "us"),
    ("openai SDK own p50", ("in_process", "openai SDK", "aigw_own_p50"), "us"),
    ("anthropic SDK own p50", ("in_process", "anthropic SDK", "aigw_own_p50"), "us"),
    ("dict API +p50 (stand-in)", ("aigw", "added_p50"), "ms"),
    ("openai SDK +p50 (stand-in)", ("aigw_openai", "added_p50"), "ms"),
    ("anthropic SDK +p50 (stand-in)", ("aigw_anthropic", "added_p50"), "ms"),
    ("dict API fo 1st+ (stand-in)", ("aigw", "failover_first_penalty"), "ms"),
]


def _dig(summary: dict[str, Any], path: tuple[str, ...]) -> float | None:
    cur: Any = summary
    for part in path:
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return float(cur)


def side_by_side(args: argparse.Namespace) -> int:
    """Run the same measurement for this checkout, the `--baseline` checkout's cli/ and
    (`--plain`) this one with AIGW_NO_FASTPATH=1: each run a fresh process, the sides
    alternating round by round so the machine's drift hits all; the medians side by side."""
    sides: list[tuple[str, Path, dict[str, str]]] = [("this", ROOT / "cli", {})]
    if args.baseline:
        cli = args.baseline.resolve() / "cli"
        if not (cli / "aigw" / "client").is_dir():
            sys.exit(f"--baseline {args.baseline}: no cli/aigw/client there (a checkout of aigw?)")
        sides.append((f"baseline ({args.baseline})", cli, {}))
    if args.plain:
        sides.append(("this, AIGW_NO_FASTPATH=1", ROOT / "cli", {"AIGW_NO_FASTPATH": "1"}))
    child = (["--in-process-only"] if args.in_process_only else
             ["--skip-litellm", "-n", str(args.n), "--failover-n", str(args.failover_n)])
    child += ["--in-process-n", str(args.in_process_n), "--warmup", str(args.warmup)]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in sides}
    with tempfile.TemporaryDirectory(prefix="aigw-bench-sides-") as tmp:
        for r in range(args.rounds):
            for i, (label, cli, extra) in enumerate(sides[r % len(sides):] + sides[:r % len(sides)]):
                out = Path(tmp) / f"round{r}-side{i}.json"
                env = {k: v for k, v in os.environ.items() if k != "AIGW_NO_FASTPATH"}
                env.update(extra, PYTHONPATH=os.pathsep.join(
                    [str(cli), str(ROOT), os.environ.get("PYTHONPATH", "")]))
                subprocess.run([sys.executable, __file__, *child, "--json", str(out)],
                               env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
                runs[label].append(json.loads(out.read_text()))
    labels = [label for label, _, _ in sides]
    print(f"median of {args.rounds} rounds, each side a fresh process per round; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; delta = side - this")
    print("| measure | " + " | ".join(labels) + " | " +
          " | ".join(f"delta {label}" for label in labels[1:]) + " |")
    print("|---" * (2 * len(labels)) + "|")
    for name, path, unit in SIDE_ROWS:
        scale = 1e6 if unit == "us" else 1e3
        meds = []
        for label in labels:
            values = [v for v in (_dig(run, path) for run in runs[label]) if v is not None]
            meds.append(sorted(values)[len(values) // 2] * scale if values else None)
        if meds[0] is None:
            continue
        cells = [f"{m:.1f} {unit}" if unit == "us" else f"{m:.3f} {unit}" for m in meds
                 if m is not None]
        deltas = [f"{m - meds[0]:+.1f}" if unit == "us" else f"{m - meds[0]:+.3f}"
                  for m in meds[1:] if m is not None]
        print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(deltas) + " |")
    print("own cpu: this thread's CPU time inside aigw's transport minus the mock provider's, "
          "per call (p50):\nthe figure a loaded machine distorts least; +p50 (stand-in): "
          "added wall p50 over the bare SDK/httpx.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run every contender against the same stand-in upstream and print the tables."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("-n", type=int, default=2000, help="requests per contender")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--failover-n", type=int, default=300, help="requests with primary down")
    p.add_argument("--in-process-n", type=int, default=3000)
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--in-process-only", action="store_true",
                   help="only the MockTransport table (no stand-ins, no LiteLLM; seconds)")
    p.add_argument("--json", type=Path, help="also write the summary here")
    p.add_argument("--baseline", type=Path, metavar="CHECKOUT",
                   help="also measure another checkout's cli/ (e.g. /work/main) in the same "
                   "run and print both side by side (LiteLLM skipped)")
    p.add_argument("--plain", action="store_true",
                   help="side by side: also this checkout with AIGW_NO_FASTPATH=1")
    p.add_argument("--rounds", type=int, default=3, help="side by side: runs per side")
    args = p.parse_args(argv)
    if args.baseline or args.plain:
        return side_by_side(args)
    # The dead-primary rows cool a route down hundreds of times: one warning each.
    logging.getLogger("aigw.client").setLevel(logging.ERROR)
    samples: Samples = {}
    with tempfile.TemporaryDirectory(prefix="aigw-bench-") as tmp:
        folder = Path(tmp)
        keys_file = folder / "provider-keys.txt"
        keys_file.write_text(KEY + "\n")
        started = []
        fakes: dict[str, dict[str, str]] = {}
        try:
            for name, module in STAND_INS if not args.in_process_only else ():
                cm, fakes[name] = start_fake(name, keys_file, module)
                started.append(cm)
            if not args.in_process_only:
                cfg = write_client_config(folder, fakes["p1"], fakes["p2"], fakes["a1"],
                                          fakes["a2"])
                samples.update(bench_aigw(cfg, fakes, args.n, args.warmup, args.failover_n))
            if not (args.skip_litellm or args.in_process_only):
                venv = litellm_venv()
                p1, p2 = fakes["p1"], fakes["p2"]
                router = bench_router(venv, fakes, args.n, args.warmup, args.failover_n)
                samples["direct_router"] = router.pop("direct")
                samples.update(router)
                http = httpx.Client()
                url = p1["base_url"] + "/chat/completions"

                def direct() -> None:
                    http.post(url, json={"model": "p1-model", "messages": MESSAGES},
                              headers={"Authorization": f"Bearer {KEY}"}).json()

                samples.update(bench_proxy(venv, folder, p1, p2, direct, args.n, args.warmup,
                                           args.failover_n))
                http.close()
        finally:
            for cm in reversed(started):
                cm.__exit__(None, None, None)
        inproc = bench_in_process(folder, args.in_process_n, args.warmup)
    summary = report(samples, inproc)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
