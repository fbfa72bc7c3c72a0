"""Benchmark: the client half of live config (issue 16).

1. **Weighted split.** An alias with weighted routes (90/10, 95/5, 50/50) takes
   10,000 calls; the table prints each route's share of first attempts and its
   error in percentage points. Target: within +-2 pp at 10 %/90 %.
2. **Hot-path cost of watching the config.** Two clients on the same config and
   the same ``httpx.MockTransport`` upstream (no network), one following its
   config file (the default: a monotonic compare per call, an ``os.stat`` at most
   every 0.1 s), one with ``watch_config=False``. Calls alternate between them
   request by request, so load on the shared machine hits both alike; the table
   prints each one's p50 per call and the difference, and the same for the
   lookup alone (``client.router``), where the check lives. Target: <= 2 us
   added at p50. (Both run the same code: the non-watching client compares the
   clock with an infinite deadline, so "added" is the amortised stat and the
   follower's bookkeeping; the compare itself is ~0.05 us.)
3. **Swap.** How long one reload takes (stat, read, parse, build routers,
   swap) for a config of the given size, off the request path.

    .venv/bin/python benchmarks/live_config.py [--calls 20000] [--split 10000]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from aigw.client import Client

USER = [{"role": "user", "content": "hi"}]


def route(name: str, weight: int | None = None) -> dict[str, Any]:
    return {"provider": name, "api": "openai", "base_url": f"https://{name}.test/v1",
            "model": f"{name}-model", "slot": "default", "key_file": f"{name}.key",
            "timeout": 5.0, "retries": 0, "cooldown": 30.0, "extra": {}, "weight": weight}


def write(folder: Path, aliases: dict[str, list[dict[str, Any]]], revision: str) -> Path:
    for routes in aliases.values():
        for r in routes:
            (folder / r["key_file"]).write_text(f"sk-{r['provider']}-bench\n")
    doc = {"version": 1, "service": "bench", "environment": "bench", "key_dir": ".",
           "revision": revision,
           "aliases": {a: {"family": "openai", "routes": rs} for a, rs in aliases.items()}}
    path = folder / "aigw-client.json"
    tmp = folder / ".aigw-client.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(path)
    return path


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "x", "choices": []})


def split(folder: Path, weights: tuple[int, int], n: int) -> list[tuple[str, ...]]:
    path = write(folder, {"chat": [route("main", weights[0]), route("canary", weights[1]),
                                   route("fallback")]}, "split")
    firsts: Counter[str] = Counter()
    rows = []
    # Every route answers 200, so each call makes exactly one attempt: its first.
    with Client.from_file(path, transport=httpx.MockTransport(ok), watch_keys=False,
                          on_attempt=lambda a: firsts.update((a.provider,))) as c:
        for _ in range(n):
            c.chat.completions.create(model="chat", messages=USER)
    assert sum(firsts.values()) == n, firsts
    for name, want in (("main", weights[0]), ("canary", weights[1])):
        got = 100.0 * firsts[name] / n
        err = got - want
        rows.append((f"{weights[0]}/{weights[1]}", name, f"{want}%", f"{got:.2f}%",
                     f"{err:+.2f} pp", "ok" if abs(err) <= 2.0 else "MISSED"))
    return rows


def alternate(a: Callable[[], Any], b: Callable[[], Any], n: int) -> tuple[list[float], ...]:
    ta: list[float] = []
    tb: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        a()
        t1 = clock()
        b()
        t2 = clock()
        ta.append((t1 - t0) / 1000)
        tb.append((t2 - t1) / 1000)
    return ta, tb


def hot_path(folder: Path, n: int) -> list[tuple[str, ...]]:
    path = write(folder, {"chat": [route("main"), route("fallback")]}, "hot")
    mock = httpx.MockTransport(ok)
    rows = []
    with Client.from_file(path, transport=mock, watch_keys=False) as watching, \
            Client.from_file(path, transport=mock, watch_keys=False,
                             watch_config=False) as still:
        assert watching.config_status.following and not still.config_status.following
        for label, fa, fb, reps in (
                ("dict API call (chat.completions.create)",
                 lambda: watching.chat.completions.create(model="chat", messages=USER),
                 lambda: still.chat.completions.create(model="chat", messages=USER), n),
                ("alias lookup alone (client.router)",
                 lambda: watching.router("chat", None),
                 lambda: still.router("chat", None), n * 10)):
            alternate(fa, fb, min(reps, 2000))  # warm up
            ta, tb = alternate(fa, fb, reps)
            pa, pb = statistics.median(ta), statistics.median(tb)
            rows.append((label, f"{pb:.2f}", f"{pa:.2f}", f"{pa - pb:+.2f}",
                         "ok" if pa - pb <= 2.0 else "MISSED"))
    return rows


def swap(folder: Path, aliases: int, runs: int) -> tuple[str, ...]:
    def config(rev: int) -> dict[str, list[dict[str, Any]]]:
        return {f"alias-{i}": [route(f"p{i}a"), route(f"p{i}b", None),
                               route(f"p{(i + rev) % aliases}c")] for i in range(aliases)}

    path = write(folder, config(0), "rev-0")
    times = []
    with Client.from_file(path, transport=httpx.MockTransport(ok), watch_keys=False,
                          config_check_interval=3600) as c:
        for i in range(1, runs + 1):
            write(folder, config(i), f"rev-{i}")
            t0 = time.perf_counter()
            status = c.reload_config()
            times.append((time.perf_counter() - t0) * 1000)
            assert status.revision == f"rev-{i}", status
    return (f"{aliases} aliases x 3 routes", f"{statistics.median(times):.2f}",
            f"{max(times):.2f}")


def table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    """Print the three tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000, help="alternating calls per client")
    ap.add_argument("--split", type=int, default=10_000, help="calls per weighted split")
    args = ap.parse_args()
    logging.getLogger("aigw.client").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="aigw-live-bench-") as tmp:
        folder = Path(tmp)
        rows: list[tuple[str, ...]] = []
        for weights in ((90, 10), (95, 5), (50, 50)):
            rows += split(folder, weights, args.split)
        print(f"Weighted split of first attempts over {args.split:,} calls "
              "(target: within +-2 pp)\n")
        print(table(("weights", "route", "want", "got", "error", "target"), rows))
        print(f"\nHot-path cost of watching the config: p50 per call, us, {args.calls:,} "
              "alternating calls each (target: <= 2 us added)\n")
        print(table(("what", "not watching", "watching", "added", "target"),
                    hot_path(folder, args.calls)))
        print("\nOne reload (stat + read + parse + build + swap), ms, 20 runs\n")
        print(table(("config", "p50", "max"),
                    [swap(folder, n, 20) for n in (3, 30, 300)]))


if __name__ == "__main__":
    main()
