"""LiteLLM Router, in-process: latency of direct httpx vs `Router.completion`.

Two families, each against its own stand-ins: OpenAI chat completions
(``openai/`` models) and Anthropic Messages (``anthropic/`` models). Direct
httpx and the Router alternate request by request. Run by benchmarks/overhead.py
with the python of the LiteLLM virtualenv (made by scripts/install-litellm.sh),
never imported by aigw. It reads one JSON object on stdin: {"primary": base_url,
"fallback": base_url, "control": control_url, "anthropic_primary": url,
"anthropic_fallback": url, "anthropic_control": control_url, "key_env": NAME,
"n": int, "warmup": int, "n_failover": int}, and prints one JSON object of
latency lists in seconds (keys ``direct``, ``router``, ``router_failover*`` and
the same with an ``anthropic_`` prefix). It sets the primaries' fault mode
through the stand-ins' control API for the failover phases.
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


def family(spec: dict[str, Any], key: str, prefix: str) -> dict[str, Any]:
    """Direct httpx vs the Router for one family; then the Router with its primary refusing."""
    anthropic = prefix == "anthropic_"
    provider = "anthropic" if anthropic else "openai"
    primary, fallback = spec[prefix + "primary"], spec[prefix + "fallback"]
    router = Router(
        model_list=[
            {"model_name": "chat", "litellm_params": {
                "model": f"{provider}/p1-model", "api_base": primary, "api_key": key}},
            {"model_name": "chat-fallback-1", "litellm_params": {
                "model": f"{provider}/p2-model", "api_base": fallback, "api_key": key}},
        ],
        fallbacks=[{"chat": ["chat-fallback-1"]}],
        num_retries=0,
    )
    http = httpx.Client()
    if anthropic:
        url, body = primary + "/v1/messages", {"model": "p1-model", "max_tokens": 16,
                                               "messages": MESSAGES}
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    else:
        url, body = primary + "/chat/completions", {"model": "p1-model", "messages": MESSAGES}
        headers = {"Authorization": f"Bearer {key}"}

    def direct() -> None:
        http.post(url, json=body, headers=headers).json()

    def routed() -> None:
        router.completion(model="chat", messages=MESSAGES, max_tokens=16)

    alternate(direct, routed, spec["warmup"])
    d, r = alternate(direct, routed, spec["n"])
    result: dict[str, Any] = {prefix + "direct": d, prefix + "router": r}
    control = spec[prefix + "control"] + "/_fake/mode"
    http.post(control, json={"mode": "refuse"}).raise_for_status()
    try:
        result[prefix + "router_failover_first"] = timed(routed, 1)
        result[prefix + "router_failover"] = timed(routed, spec["n_failover"])
    finally:
        http.post(control, json={"mode": "ok"}).raise_for_status()
    http.close()
    return result


def main() -> int:
    """Measure both families: direct httpx, the Router, the Router with the primary refusing."""
    spec = json.load(sys.stdin)
    key = os.environ[spec["key_env"]]
    result = family(spec, key, "")
    if spec.get("anthropic_primary"):
        result.update(family(spec, key, "anthropic_"))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
