"""Config propagation through the real stack: `aigw apply` -> agent -> running client.

Brings up the end-to-end lab (testing/lab.py: a real OpenBao dev server, the real
Pulumi engine behind `aigw apply`, one real `bao agent` per service with the
catalog's default `agent_refresh`, three service processes calling through
`aigw.client` at --rate requests/s each, local OpenAI stand-ins as providers),
then makes --changes catalog changes one after another, each a model switch or
a reorder of one alias (so two of the three services get a new revision each
time), and measures per change:

- apply      how long `aigw apply --yes` took (the CLI, wall clock)
- after apply  seconds from `aigw apply` returning to the first request served on
             the new revision, max over the services the change touched (the
             number the target is about; negative when the config was live before
             apply returned, since apply writes the entry before it finishes)
- after write  the same from the moment OpenBao stored the new entry (its
             created_time): agent refresh + the client's stat interval

Every change is also checked attempt by attempt (testing.lab.live_problems: no
failed request or attempt, nothing on a revision it should not be on); problems
are printed and make the exit code 1.

    python benchmarks/propagation.py                 # 20 changes, 50 requests/s per service
    python benchmarks/propagation.py --changes 5     # a quick run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testing.lab import Lab  # noqa: E402

TARGET_P100 = 2.0  # seconds, after apply (issue 16)


def edit_for(i: int) -> tuple[str, Callable[[dict[str, Any]], None]]:
    """The i-th change: cycle through model switches and reorders of both aliases."""
    alias = ("chat-ab", "chat-ba")[i % 2]

    def switch(doc: dict[str, Any]) -> None:
        route = doc["models"][alias]["routes"][0]
        route["model"] = f"m-{route['provider']}-v{i}"

    def reorder(doc: dict[str, Any]) -> None:
        doc["models"][alias]["routes"].reverse()

    if i % 3 == 2:
        return f"reorder {alias}", reorder
    return f"switch {alias}'s first model", switch


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--rate", type=float, default=50.0, help="requests/s per service")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aigw-propagation-") as tmp, \
            Lab(Path(tmp) / "lab", rate=args.rate, say=lambda _: None) as lab:
        refresh = lab.environment().agent_refresh
        started = lab.wait_served(20)
        for i in range(args.changes):
            what, edit = edit_for(i)
            print(f"[{i + 1}/{args.changes}] {what} ...", file=sys.stderr, flush=True)
            change = lab.change_catalog(what, edit)
            per = lab.wait_live(change)
            settled = lab.wait_served(10)
            found = lab.live_check(change, settled)
            problems += [f"change {i + 1} ({what}): {p}" for p in found]
            if lab.service_pids() != change.pids:
                problems.append(f"change {i + 1}: service PIDs changed")
            rows.append({"what": what, "apply": change.applied - change.started,
                         "services": sorted(per),
                         "after_apply": max(t["after_apply"] for t in per.values()),
                         "after_write": max(t["after_write"] for t in per.values())})
        whole = lab.traffic(started, time.time())
        rates = whole.rates()
        summary = whole.line()

    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
          f"agent_refresh {refresh} s (the catalog default); services at "
          + ", ".join(f"{s} {r:.0f}/s" for s, r in sorted(rates.items())))
    head = f"{'#':>3} {'change':32} {'services':22} {'apply s':>8} {'after apply':>12} " \
           f"{'after write':>12}"
    print(head)
    print("-" * len(head))
    for n, row in enumerate(rows, 1):
        print(f"{n:>3} {row['what']:32} {','.join(row['services']):22} {row['apply']:>8.2f} "
              f"{row['after_apply']:>12.2f} {row['after_write']:>12.2f}")
    after_apply = [r["after_apply"] for r in rows]
    after_write = [r["after_write"] for r in rows]
    print()
    print(f"{'propagation over ' + str(len(rows)) + ' changes':32} {'p50 s':>8} {'p100 s':>8}")
    print(f"{'from apply returning':32} {statistics.median(after_apply):>8.2f} "
          f"{max(after_apply):>8.2f}   target p100 <= {TARGET_P100:.1f} s: "
          f"{'met' if max(after_apply) <= TARGET_P100 else 'MISSED'}")
    print(f"{'from the OpenBao write':32} {statistics.median(after_write):>8.2f} "
          f"{max(after_write):>8.2f}")
    print(f"\ntraffic: {summary}")
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
