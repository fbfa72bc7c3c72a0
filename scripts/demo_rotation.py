"""The README demo's second half: services under load while every key rotates.

Brings up its own lab under .aigw/lab (a fresh OpenBao dev server, two local
OpenAI stand-ins, `aigw apply`, `aigw keys put`, `aigw render`, real `bao agent`
processes and three services calling through aigw.client), then:
rotates every key, stops OpenBao, stops the primary provider, and prints what
the services saw. Everything is stopped at the end.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from testing.lab import SERVICES, Lab


def say(text: str) -> None:
    """One line of progress a person can follow."""
    print(f"  {time.strftime('%H:%M:%S')}  {text}", flush=True)


def main() -> int:
    """Run the scenario and print a summary; exit 1 if any request failed."""
    root = Path(".aigw/lab").resolve()
    shutil.rmtree(root, ignore_errors=True)
    with Lab(root, say=say) as lab:
        started = time.time()
        time.sleep(3)
        say("rotating every key: aigw rotate-keys --env prod --yes --wait 60s")
        rot = lab.rotate_all(wait="60s")
        for line in rot["output"].strip().splitlines():
            say(f"  | {line}")
        same = rot["pids_before"] == rot["pids_after"]
        say(f"service PIDs before {rot['pids_before']} after {rot['pids_after']}: "
            f"{'unchanged, nothing restarted' if same else 'CHANGED'}")
        for pair, seconds in sorted(rot["propagation"].items()):
            say(f"propagation {pair}: {seconds:.2f} s from promotion to first request "
                "with the new key")
        for name, live in rot["live_keys"].items():
            say(f"{name}: live keys at the provider now {live} (old key "
                f"{lab.initial_fps[name]} revoked)")
        while time.time() - started < 20:
            time.sleep(0.5)
        say("stopping OpenBao: no vault, no aigw process running")
        outage = lab.openbao_outage(seconds=6)
        say(f"  services served {outage['served']} requests, {outage['failed']} failed")
        say("stopping provider alpha (connections refused)")
        fo = lab.failover("alpha", down=4, settle=7)
        say(f"  while down, svc-1 was served by {fo['served_by_during']}; after alpha came "
            f"back and the 5 s cooldown passed: {fo['served_by_after']}")
        total = sum(len(lab.requests(svc)) for svc in SERVICES)
        failed = len(lab.failures())
        say(f"total: {total} requests in {time.time() - started:.0f} s, {failed} failed")
        worst = max(rot["propagation"].values(), default=float("nan"))
        print(f"\nsummary: {failed} failed requests, same PIDs: {same}, "
              f"propagation p100 {worst:.2f} s, old keys revoked: "
              f"{all(lab.initial_fps[n] not in v for n, v in rot['live_keys'].items())}")
        return 0 if failed == 0 and same else 1


if __name__ == "__main__":
    sys.exit(main())
