"""What the runtime's metrics (spec/metrics.md) cost a call, on vs off, in one run.

In-process, over ``httpx.MockTransport`` / ``httpx2.MockTransport`` (network
excluded; the mock answers a chat completion with usage). Three contenders are
called alternately, request by request, so drift on the machine hits all:

- the bare call (httpx, or the openai SDK with the same options);
- aigw with metrics off (no meter provider);
- aigw with metrics on: an OpenTelemetry SDK ``MeterProvider`` with an
  in-memory reader, so every record really aggregates.

"on - off" is the request path's added cost of metrics (p50 of wall time, and
process CPU per call over batches); "+p50 vs bare" is aigw's whole added cost
with metrics on. "record cpu" is the CPU per call spent recording (the
batches, on whichever thread ran them: the recorder's thread, a collect, a
flush). For comparison, "sync records" is what recording the same instruments
on the request path would cost per call.

    python benchmarks/metrics.py [-n 5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from aigw.client import Client

KEY = "sk-bench-not-secret"
MESSAGES = [{"role": "user", "content": "hello"}]
CHAT = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42,
              "prompt_tokens_details": {"cached_tokens": 4},
              "completion_tokens_details": {"reasoning_tokens": 10}}}).encode()
CTYPE = [("content-type", "application/json")]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q / 100 * len(s))) - 1))]


def alternate(fns: list[Callable[[], Any]], n: int) -> list[list[float]]:
    """Call each of `fns` in turn n times, the order rotated every round (so no
    contender always runs after the same one); each one's latencies, by round."""
    out: list[list[float]] = [[] for _ in fns]
    k = len(fns)
    for r in range(n):
        for j in range(k):
            i = (r + j) % k
            t0 = time.perf_counter()
            fns[i]()
            out[i].append(time.perf_counter() - t0)
    return out


def paired(a: list[float], b: list[float]) -> float:
    """Median of the per-round differences a - b (drift between rounds cancels)."""
    return pct([x - y for x, y in zip(a, b, strict=True)], 50)


def recording_cpu(rec: Any) -> float:
    """CPU seconds spent recording so far: the recorder's own count (batches on any
    thread), or, for a recorder without one (before issue 30's batches), its thread's."""
    if hasattr(rec, "cpu"):
        return float(rec.cpu)
    return time.clock_gettime(time.pthread_getcpuclockid(rec._thread.ident))


def cpu_per_call(fn: Callable[[], Any], n: int, batches: int = 7,
                 clock: Callable[[], float] = time.process_time) -> float:
    """Median over batches of CPU time per call (the process's, or `clock`'s)."""
    per = []
    for _ in range(batches):
        t0 = clock()
        for _ in range(n):
            fn()
        per.append((clock() - t0) / n)
    return sorted(per)[batches // 2]


def config(folder: Path) -> Path:
    """An aigw-client.json with one priced OpenAI-family route at the mock."""
    (folder / "mock.key").write_text(KEY + "\n")
    route = {"provider": "openai", "api": "openai", "base_url": "http://up/v1", "model": "m",
             "slot": "default", "key_file": "mock.key", "timeout": 30.0, "retries": 0,
             "cooldown": 30.0, "extra": {},
             "price": {"currency": "USD", "as_of": "2026-11-01",
                       "per_million": {"input": "2.50", "cache_read": "1.25",
                                       "output": "10"}}}
    path = folder / "aigw-client.json"
    path.write_text(json.dumps({"version": 1, "service": "bench", "environment": "bench",
                                "key_dir": str(folder),
                                "aliases": {"chat": {"routes": [route]}}}))
    return path


def sync_records(provider: MeterProvider, n: int) -> float:
    """Wall time per call of recording the instruments synchronously (what is avoided)."""
    meter = provider.get_meter("sync")
    hist = meter.create_histogram("sync.duration", unit="s")
    tok = meter.create_histogram("sync.tokens", unit="{token}")
    cost = meter.create_counter("sync.cost")
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
             "aigw.provider": "openai", "gen_ai.request.model": "m",
             "gen_ai.response.model": "m", "server.address": "up", "aigw.service": "bench",
             "aigw.environment": "bench", "aigw.alias": "chat", "aigw.slot": "default",
             "aigw.route": 0}
    t0 = time.perf_counter()
    for _ in range(n):
        hist.record(0.1, attrs)
        for kind, v in (("input", 12), ("output", 30)):
            tok.record(v, {**attrs, "gen_ai.token.type": kind})
        cost.add(0.0003, {**attrs, "aigw.currency": "USD"})
    return (time.perf_counter() - t0) / n


def hot_path_ops(client_off: Client, client_on: Client, n: int) -> dict[str, float]:
    """What metrics add to one call's own operations: `Telemetry.start` and `finish`
    (a per-call object, a clock read, one queue append), min over repeats of n calls;
    the recording thread is held so only the request side is timed."""
    import timeit

    rec = client_on._telemetry.metrics
    assert rec is not None
    rec.flush()
    running, thread, wake_at = rec._running, rec._thread, getattr(rec, "_wake_at", -1)
    # held: nothing drains (no thread start, no half-full or bytes wake), nothing drops
    rec._running, rec.queue_size, rec._wake_at, rec._bytes = True, 10**9, -1, -(10**15)
    body = CHAT
    rs = next(iter(client_on._snap.routers.values())).routes[0]  # a RouteState

    def call(t: Any) -> None:
        span = t.start("chat", "chat")
        if span.recording:
            span.finish(rs, "ok", body)

    out = {}
    for label, c in (("off", client_off), ("on", client_on)):
        t = c._telemetry
        out[label] = min(timeit.repeat(lambda t=t: call(t), number=n, repeat=7)) / n
    rec._queue.clear()
    rec._running, rec._thread, rec.queue_size, rec._wake_at = running, thread, 4096, wake_at
    rec._bytes = 0
    return out


def run(n: int, warmup: int) -> dict[str, dict[str, float]]:
    """Measure both paths; the table's rows."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="aigw-bench-metrics-") as tmp:
        cfg = config(Path(tmp))
        off = Client.from_file(cfg, transport=httpx.MockTransport(
            lambda _: httpx.Response(200, headers=CTYPE, content=CHAT)), watch_keys=False)
        on = Client.from_file(cfg, transport=httpx.MockTransport(
            lambda _: httpx.Response(200, headers=CTYPE, content=CHAT)), watch_keys=False,
            meter_provider=provider)

        def mock2() -> Any:
            return httpx2.MockTransport(lambda _: httpx2.Response(200, headers=CTYPE,
                                                                  content=CHAT))

        bare_http = httpx.Client(transport=httpx.MockTransport(
            lambda _: httpx.Response(200, headers=CTYPE, content=CHAT)))
        bare_oai = openai.OpenAI(api_key=KEY, base_url="http://up/v1", max_retries=0,
                                 http_client=httpx2.Client(transport=mock2()))
        oai_off, oai_on = off.openai(transport=mock2()), on.openai(transport=mock2())
        pairs = {
            "dict API": (
                lambda: bare_http.post("http://up/v1/chat/completions",
                                       json={"model": "m", "messages": MESSAGES},
                                       headers={"Authorization": f"Bearer {KEY}"}).json(),
                lambda: off.chat.completions.create(model="chat", messages=MESSAGES),
                lambda: on.chat.completions.create(model="chat", messages=MESSAGES)),
            "openai SDK": (
                lambda: bare_oai.chat.completions.create(model="m", messages=MESSAGES),
                lambda: oai_off.chat.completions.create(model="chat", messages=MESSAGES),
                lambda: oai_on.chat.completions.create(model="chat", messages=MESSAGES)),
        }
        rec = on._telemetry.metrics
        assert rec is not None
        for label, fns in pairs.items():
            alternate(list(fns), warmup)
            rec.flush()
            cpu0, done0 = recording_cpu(rec), rec.recorded
            bare, t_off, t_on = alternate(list(fns), n)
            rec.flush()
            thread_per_call = (recording_cpu(rec) - cpu0) / max(1, rec.recorded - done0)
            batch = max(50, n // 10)
            c_off, c_on = cpu_per_call(fns[1], batch), cpu_per_call(fns[2], batch)
            c_off2 = cpu_per_call(fns[1], batch)
            rec.flush()
            # The request thread's own CPU: what the request path does, without the
            # recording thread's work or time spent waiting for the GIL.
            r_off = cpu_per_call(fns[1], batch, clock=time.thread_time)
            r_on = cpu_per_call(fns[2], batch, clock=time.thread_time)
            r_off2 = cpu_per_call(fns[1], batch, clock=time.thread_time)
            rec.flush()
            rows[label] = {
                "bare_p50": pct(bare, 50), "off_p50": pct(t_off, 50), "on_p50": pct(t_on, 50),
                "on_minus_off_p50": pct(t_on, 50) - pct(t_off, 50),
                "on_minus_off_paired": paired(t_on, t_off),
                "on_minus_bare_p50": pct(t_on, 50) - pct(bare, 50),
                "off_minus_bare_p50": pct(t_off, 50) - pct(bare, 50),
                "on_minus_off_cpu": c_on - (c_off + c_off2) / 2,
                "on_minus_off_request_cpu": r_on - (r_off + r_off2) / 2,
                "thread_cpu_per_call": thread_per_call, "dropped": float(rec.dropped)}
        rows["sync records (avoided)"] = {"per_call": sync_records(provider, n)}
        rows["hot path ops"] = hot_path_ops(off, on, n)
        off.close()
        on.close()
    provider.shutdown()
    return rows


def us(seconds: float) -> str:
    """Microseconds, one decimal."""
    return f"{seconds * 1e6:.1f}"


def main(argv: list[str] | None = None) -> int:
    """Print the table (and write JSON with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("-n", type=int, default=5000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    rows = run(args.n, args.warmup)
    print(f"{'path':12} {'bare p50':>9} {'off p50':>8} {'on p50':>8} {'on-off p50':>11} "
          f"{'paired':>7} "
          f"{'on-off cpu':>11} {'req cpu':>8} {'off+bare':>9} {'on+bare':>8} "
          f"{'record cpu':>11} {'dropped':>8}")
    for label, r in rows.items():
        if "per_call" in r or "off" in r:
            continue
        print(f"{label:12} {us(r['bare_p50']):>9} {us(r['off_p50']):>8} {us(r['on_p50']):>8} "
              f"{us(r['on_minus_off_p50']):>11} {us(r['on_minus_off_paired']):>7} "
              f"{us(r['on_minus_off_cpu']):>11} "
              f"{us(r['on_minus_off_request_cpu']):>8} "
              f"{us(r['off_minus_bare_p50']):>9} {us(r['on_minus_bare_p50']):>8} "
              f"{us(r['thread_cpu_per_call']):>11} {int(r['dropped']):>8}")
    ops = rows["hot path ops"]
    print(f"request-path operations per call (Telemetry.start + finish, min of 7): "
          f"off {us(ops['off'])} us, on {us(ops['on'])} us, added {us(ops['on'] - ops['off'])} us")
    print(f"sync records on the request path (avoided): "
          f"{us(rows['sync records (avoided)']['per_call'])} us per call")
    print("us; on-off: what metrics add (wall p50; paired: median of the per-round on - off;"
          "\nprocess CPU per call over batches, which"
          "\nincludes the recording thread); req cpu: on-off of the request thread's own CPU"
          "\nper call (the request path alone); off+bare / on+bare: aigw's whole added p50"
          "\nwithout / with metrics; record cpu: CPU per call spent recording (batches).")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
