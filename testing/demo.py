"""The README demo's second half: services under load while keys rotate and a model switches.

    python -m testing.demo        (scripts/demo.sh runs it)

Brings up its own lab under .aigw/lab (a fresh OpenBao dev server, two local
OpenAI stand-ins, `aigw apply`, `aigw keys put`, `aigw render`, real `bao agent`
processes and three services calling through aigw.client on the live
aigw-client.json their agents write; svc-3 in Node.js through the official
openai SDK over @aigw/client when Node is installed), then: rotates every key, switches a
model in the catalog and applies it (the running services pick it up, nothing
restarts), stops OpenBao, stops the primary provider, and prints what the
services saw, attempt by attempt (a request answered by the fallback after a
401 counts as a problem, not as a success). Everything is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any

from testing.lab import SERVICES, Lab

SWITCHED = ("chat-ab", "alpha", "m-alpha-2")  # alias, its route's provider, the new model


def switch_model(doc: dict[str, Any]) -> None:
    """The catalog edit: one line, the model of chat-ab's alpha route."""
    alias, provider, model = SWITCHED
    route = next(r for r in doc["models"][alias]["routes"] if r["provider"] == provider)
    route["model"] = model


def runtimes() -> dict[str, str]:
    """svc-3 runs as a Node.js service (testing/node_service.mjs: the official openai
    SDK over @aigw/client) when Node and the built client are there (scripts/setup.sh
    installs and builds it); otherwise all three run in Python."""
    dist = Path(__file__).resolve().parents[1] / "clients" / "typescript" / "dist" / "index.js"
    return {"svc-3": "node"} if shutil.which("node") and dist.is_file() else {}


def say(text: str) -> None:
    """One line of progress a person can follow."""
    print(f"  {time.strftime('%H:%M:%S')}  {text}", flush=True)


def since_apply(t: dict[str, float]) -> str:
    """A propagation time relative to `aigw apply` returning, in words."""
    seconds = t["after_apply"]
    if seconds < 0:
        return f"{-seconds:.2f} s before aigw apply returned"
    return f"{seconds:.2f} s after aigw apply returned"


def main() -> int:
    """Run the scenario and print a summary; exit 1 if any request or attempt went wrong."""
    root = Path(".aigw/lab").resolve()
    shutil.rmtree(root, ignore_errors=True)
    problems: list[str] = []
    with Lab(root, say=say, runtimes=runtimes()) as lab:
        for svc, runtime in lab.runtimes.items():
            say(f"{svc} runs in {runtime} (the official SDK over aigw's client for it)")
        started = min(r["t"] for svc in SERVICES for r in lab.requests(svc))
        warmed = lab.wait_served(40)
        baseline = lab.traffic(started, warmed)
        say(f"before rotating: {baseline.line()}")
        say("rotating every key: aigw rotate-keys --env prod --yes --wait 60s --json")
        rot = lab.rotate_all(wait="60s")
        for line in rot["progress"].strip().splitlines():
            say(f"  | {line}")
        for slot in rot["summary"]["slots"]:
            say(f"  {slot['slot']}: {slot['status']} (run {slot['run_id']}, exit code "
                f"{rot['summary']['exit_code']})")
        same = rot["pids_before"] == rot["pids_after"]
        say(f"service PIDs before {rot['pids_before']} after {rot['pids_after']}: "
            f"{'unchanged, nothing restarted' if same else 'CHANGED'}")
        for pair, seconds in sorted(rot["propagation"].items()):
            say(f"propagation {pair}: {seconds:.2f} s from promotion to first request "
                "with the new key (measured)")
        for name, live in rot["live_keys"].items():
            say(f"{name}: live keys at the provider now {live} (old key "
                f"{lab.initial_fps[name]} revoked)")
        settled = lab.wait_served(60)
        rotation = lab.traffic(rot["window"][0], settled)
        say(f"during and after rotation: {rotation.line()}")
        problems += [f"rotation: {p}" for p in rotation.clean_problems()]
        alias, provider, model = SWITCHED
        say(f"switching {alias} to model {model} on {provider} (one line of aigw.yaml): "
            "aigw apply --yes")
        change = lab.change_catalog(f"switch {alias} to {model}", switch_model)
        for svc in change.changed:
            say(f"  {svc}: published revision {change.before[svc]} -> {change.after[svc]}")
        live = lab.wait_live(change)
        for svc, t in sorted(live.items()):
            say(f"  {svc} served its first request on {change.after[svc]} "
                f"{t['after_write']:.2f} s after OpenBao stored it ({since_apply(t)})")
        settled = lab.wait_served(40)
        switched = lab.traffic(change.started, settled)
        on_new = sum(1 for r in switched.requests if r["ok"] and r["alias"] == alias
                     and r.get("model") == model)
        say(f"  {on_new} {alias} requests answered by {model} so far; {switched.line()}")
        problems += [f"model switch: {p}" for p in lab.live_check(change, settled)]
        same_after_switch = lab.service_pids() == change.pids
        say(f"  service PIDs {change.pids} -> {lab.service_pids()}: "
            f"{'unchanged, nothing restarted' if same_after_switch else 'CHANGED'}")
        same = same and same_after_switch
        config_p100 = max(live.values(), key=lambda t: t["after_write"])
        say("stopping OpenBao: no vault, no aigw process running")
        outage = lab.openbao_outage(seconds=6, count=40)
        say(f"  during the outage ({outage['seconds']:.0f} s): {outage['traffic'].line()}")
        problems += [f"outage: {p}" for p in outage["traffic"].clean_problems()]
        say("stopping provider alpha (connections refused)")
        fo = lab.failover("alpha")
        say(f"  alpha down, then back: {fo['traffic'].line()}")
        say(f"  services that put alpha first {fo['hit']} were served by beta while it was "
            "down, and by alpha again after the 5 s cooldown "
            f"({', '.join(f'{s} {t:.1f} s' for s, t in fo['recovered_after'].items())} after "
            "it came back)")
        problems += [f"failover: {p}" for p in fo["problems"]]
        whole = lab.traffic(started, time.time())
        failed = whole.counts()["failed"]
        say(f"total: {whole.line()} in {time.time() - started:.0f} s")
        worst = max(rot["propagation"].values(), default=float("nan"))
        before = lab.traffic(started, fo["down"]).counts()
        print(f"\nsummary: {failed} failed requests; before the failover "
              f"{before['attempts']} attempts, {before['failed_attempts']} failed, "
              f"{before['auth_failures']} got 401/403, {before['second_route']} needed a "
              f"second route; same PIDs: {same}; key propagation p100 {worst:.2f} s; model "
              f"switch live on {len(live)} services {config_p100['after_write']:.2f} s after "
              f"the OpenBao write (p100; {since_apply(config_p100)}); old keys revoked: "
              f"{all(lab.initial_fps[n] not in v for n, v in rot['live_keys'].items())}")
        for problem in problems:
            print(f"PROBLEM {problem}")
        return 0 if not problems and failed == 0 and same else 1


if __name__ == "__main__":
    sys.exit(main())
