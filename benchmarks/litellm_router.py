"""LiteLLM Router, in-process: latency of direct httpx vs `Router.completion`.

The two alternate request by request. Run by benchmarks/overhead.py with the
python of the LiteLLM virtualenv (made by scripts/install-litellm.sh), never
imported by aigw. It reads one JSON object on
stdin: {"primary": base_url, "fallback": base_url, "control": control_url,
"key_env": NAME, "n": int, "warmup": int, "n_failover": int}, and prints one
JSON object of latency lists in seconds. It sets the primary's fault mode
through the fake provider's control API for the failover phase.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import httpx
from litellm import Router

MESSAGES = [{"role": "user", "content": "hello"}]


def alternate(a: Any, b: Any, n: int) -> tuple[list[float], list[float]]:
    """Call a and b alternately n times each; return both latency lists."""
    ta: list[float] = []
    tb: list[float] = []
    for _ in range(n):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return ta, tb


def timed(fn: Any, n: int) -> list[float]:
    """Call `fn` n times; return each call's wall time."""
    return alternate(fn, lambda: None, n)[0]


def main() -> int:
    """Measure direct httpx, the Router, then the Router with the primary refusing."""
    spec = json.load(sys.stdin)
    key = os.environ[spec["key_env"]]
    router = Router(
        model_list=[
            {"model_name": "chat", "litellm_params": {
                "model": "openai/p1-model", "api_base": spec["primary"], "api_key": key}},
            {"model_name": "chat-fallback-1", "litellm_params": {
                "model": "openai/p2-model", "api_base": spec["fallback"], "api_key": key}},
        ],
        fallbacks=[{"chat": ["chat-fallback-1"]}],
        num_retries=0,
    )
    http = httpx.Client()
    url = spec["primary"] + "/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}

    def direct() -> None:
        http.post(url, json={"model": "p1-model", "messages": MESSAGES}, headers=headers).json()

    def routed() -> None:
        router.completion(model="chat", messages=MESSAGES)

    alternate(direct, routed, spec["warmup"])
    d, r = alternate(direct, routed, spec["n"])
    result: dict[str, Any] = {"direct": d, "router": r}
    http.post(spec["control"] + "/_fake/mode", json={"mode": "refuse"}).raise_for_status()
    try:
        result["router_failover_first"] = timed(routed, 1)
        result["router_failover"] = timed(routed, spec["n_failover"])
    finally:
        http.post(spec["control"] + "/_fake/mode", json={"mode": "ok"}).raise_for_status()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
