"""A stand-in service for the demo and end-to-end tests: calls aliases in a loop.

    python -m testing.demo_service --config rendered/prod/svc/aigw-client.json \
        --alias chat-ab --rate 17 --log svc.jsonl

It uses only `aigw.client` (as a real service would), paces requests at RATE per
second, and appends one JSON line per request: time, outcome, the provider and key
fingerprint that served it (never the key), latency. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aigw.client import AllRoutesFailed, Attempt, Client


def main(argv: list[str] | None = None) -> int:
    """Run the request loop until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--alias", action="append", required=True)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)

    stop = False

    def _stop(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    served: list[Attempt] = []
    client = Client.from_file(args.config, on_attempt=served.append)
    interval = 1.0 / args.rate
    n = 0
    with Path(args.log).open("a", buffering=1) as log:
        log.write(json.dumps({"t": time.time(), "event": "start", "pid": os.getpid()}) + "\n")
        next_at = time.monotonic()
        while not stop:
            alias = args.alias[n % len(args.alias)]
            n += 1
            served.clear()
            t0 = time.perf_counter()
            line: dict[str, Any] = {"t": time.time(), "alias": alias}
            try:
                client.chat.completions.create(model=alias, messages=[
                    {"role": "user", "content": f"ping {n}"}])
                ok = next(a for a in reversed(served) if a.outcome == "ok")
                line.update(ok=True, provider=ok.provider, fp=ok.key_fingerprint,
                            attempts=len(served))
            except AllRoutesFailed as exc:
                line.update(ok=False, error=str(exc)[:300])
            except Exception as exc:  # a demo service logs and keeps going
                line.update(ok=False, error=f"{type(exc).__name__}: {str(exc)[:300]}")
            line["ms"] = round((time.perf_counter() - t0) * 1000, 3)
            log.write(json.dumps(line) + "\n")
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.monotonic()
        log.write(json.dumps({"t": time.time(), "event": "stop", "pid": os.getpid()}) + "\n")
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
