"""Added latency of aigw.client vs LiteLLM (Router in-process, and the proxy).

One run, one fake upstream (two fake providers, each its own process: a primary
and a fallback, see testing.fake_provider). Each contender is measured in
the same loop as a direct httpx call, alternating request by request, so drift
on the machine hits both; "added" is the contender's percentile minus direct's.
The failover phase makes the primary refuse connections and measures the first
request after that and then steady state.

    python benchmarks/overhead.py                # everything (installs LiteLLM once)
    python benchmarks/overhead.py --skip-litellm # direct vs aigw.client only

LiteLLM lives in its own virtualenv (scripts/install-litellm.sh); the in-process
Router is measured by benchmarks/litellm_router.py run with that venv's python,
the proxy as its users run it: ``litellm --config cfg.yaml --port N`` (bound to
127.0.0.1, with LITELLM_MASTER_KEY set and the local model cost map).
"""

from __future__ import annotations

import argparse
import json
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

import httpx

from aigw.client import Client

ROOT = Path(__file__).resolve().parent.parent
KEY_ENV = "AIGW_BENCH_KEY"
KEY = "sk-bench-not-secret"
MASTER = "sk-bench-master"
MESSAGES = [{"role": "user", "content": "hello"}]
Samples = dict[str, list[float]]


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


def start_fake(name: str, keys_file: Path) -> tuple[Any, dict[str, str]]:
    """Start a fake provider process; return the context and its URLs."""
    cm = process([sys.executable, "-m", "testing.fake_provider", "--name", name,
                  "--port", "0", "--control-port", "0", "--keys-file", str(keys_file)])
    proc = cm.__enter__()
    assert proc.stdout is not None
    return cm, json.loads(proc.stdout.readline())


def set_mode(control_url: str, mode: str) -> None:
    """Set the fault mode of a fake provider."""
    httpx.post(control_url + "/_fake/mode", json={"mode": mode}).raise_for_status()


def write_client_config(folder: Path, p1: dict[str, str], p2: dict[str, str]) -> Path:
    """aigw-client.json with routes p1 then p2 (as `aigw render` would write it)."""
    (folder / "keys").mkdir()
    routes = []
    for fake in (p1, p2):
        (folder / "keys" / f"{fake['name']}.default.key").write_text(KEY + "\n")
        routes.append({"provider": fake["name"], "api": "openai", "base_url": fake["base_url"],
                       "model": f"{fake['name']}-model", "slot": "default",
                       "key_file": f"{fake['name']}.default.key", "timeout": 30.0,
                       "retries": 0, "cooldown": 30.0, "extra": {}})
    path = folder / "aigw-client.json"
    path.write_text(json.dumps({"version": 1, "service": "bench", "environment": "bench",
                                "key_dir": "keys", "aliases": {"chat": {"routes": routes}}},
                               indent=2, sort_keys=True) + "\n")
    return path


def bench_aigw(cfg: Path, direct: Callable[[], Any], control: str, n: int, warmup: int,
               n_failover: int) -> Samples:
    """Direct vs aigw.client, then aigw.client with the primary refusing."""
    with Client.from_file(cfg) as client:
        def call() -> None:
            client.chat.completions.create(model="chat", messages=MESSAGES)

        alternate(direct, call, warmup)
        d, a = alternate(direct, call, n)
        set_mode(control, "refuse")
        try:
            first = timed(call, 1)
            failover = timed(call, n_failover)
        finally:
            set_mode(control, "ok")
    return {"direct": d, "aigw": a, "aigw_failover_first": first, "aigw_failover": failover}


def bench_router(venv: Path, p1: dict[str, str], p2: dict[str, str], n: int, warmup: int,
                 n_failover: int) -> Samples:
    """LiteLLM Router in-process, measured in the LiteLLM venv."""
    spec = {"primary": p1["base_url"], "fallback": p2["base_url"], "control": p1["control_url"],
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


def report(s: Samples) -> dict[str, Any]:
    """Print the table; return the summary."""
    rows = [("direct httpx", "direct", "direct", None, None),
            ("aigw.client", "aigw", "direct", "aigw_failover", "aigw_failover_first"),
            ("LiteLLM Router (in-process)", "router", "direct_router", "router_failover",
             "router_failover_first"),
            ("LiteLLM proxy", "proxy", "direct_proxy", "proxy_failover",
             "proxy_failover_first")]
    head = (f"{'contender':30} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} "
            f"{'fo p50':>8} {'fo p99':>8} {'fo 1st':>8} {'fo +p50':>8}")
    print(head)
    print("-" * len(head))
    summary: dict[str, Any] = {}
    for label, key, base, fo, first in rows:
        if key not in s:
            continue
        p50, p99 = pct(s[key], 50), pct(s[key], 99)
        add50, add99 = p50 - pct(s[base], 50), p99 - pct(s[base], 99)
        row = {"p50": p50, "p99": p99, "added_p50": add50, "added_p99": add99}
        line = f"{label:30} {ms(p50)} {ms(p99)} {ms(add50)} {ms(add99)}"
        if fo and first:
            row.update(failover_p50=pct(s[fo], 50), failover_p99=pct(s[fo], 99),
                       failover_first=s[first][0], failover_penalty_p50=pct(s[fo], 50) - p50)
            line += (f" {ms(row['failover_p50'])} {ms(row['failover_p99'])}"
                     f" {ms(row['failover_first'])} {ms(row['failover_penalty_p50'])}")
        print(line)
        summary[key] = row
    print("\n+p50/+p99: added over a direct httpx call measured in the same loop;"
          "\nfo: primary refusing connections (fo 1st = first request after that;"
          " fo +p50 = failover p50 - normal p50).")
    if "aigw" in summary and "proxy" in summary:
        ratio = summary["aigw"]["added_p50"] / summary["proxy"]["added_p50"]
        print(f"aigw.client / LiteLLM proxy added p50: {ratio:.3f}")
        summary["ratio_aigw_proxy_added_p50"] = ratio
    return summary


def main(argv: list[str] | None = None) -> int:
    """Run every contender against the same fake upstream and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("-n", type=int, default=2000, help="requests per contender")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--failover-n", type=int, default=300, help="requests with primary down")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--json", type=Path, help="also write the summary here")
    args = p.parse_args(argv)
    samples: Samples = {}
    with tempfile.TemporaryDirectory(prefix="aigw-bench-") as tmp:
        folder = Path(tmp)
        keys_file = folder / "provider-keys.txt"
        keys_file.write_text(KEY + "\n")
        fake1, p1 = start_fake("p1", keys_file)
        fake2, p2 = start_fake("p2", keys_file)
        try:
            http = httpx.Client()
            url, headers = p1["base_url"] + "/chat/completions", {"Authorization": f"Bearer {KEY}"}

            def direct() -> None:
                http.post(url, json={"model": "p1-model", "messages": MESSAGES},
                          headers=headers).json()

            cfg = write_client_config(folder, p1, p2)
            samples.update(bench_aigw(cfg, direct, p1["control_url"], args.n, args.warmup,
                                      args.failover_n))
            if not args.skip_litellm:
                venv = litellm_venv()
                router = bench_router(venv, p1, p2, args.n, args.warmup, args.failover_n)
                samples["direct_router"] = router.pop("direct")
                samples.update(router)
                samples.update(bench_proxy(venv, folder, p1, p2, direct, args.n, args.warmup,
                                           args.failover_n))
            http.close()
        finally:
            fake2.__exit__(None, None, None)
            fake1.__exit__(None, None, None)
    summary = report(samples)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
