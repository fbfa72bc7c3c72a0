"""A stand-in service for the demo and end-to-end tests: calls aliases in a loop.

    python -m testing.demo_service --config rendered/prod/svc/aigw-client.json \
        --alias chat-ab --rate 17 --log svc.jsonl

It uses only `aigw.client` (as a real service would), paces requests at RATE per
second, and appends one JSON line per request (see `request_record`): when it
started, whether it was answered, which provider/route/key fingerprint served it,
and EVERY attempt the client made on the way (provider, route index, outcome such
as ok, http_401, http_503, connect_error or timeout, key fingerprint, when it ended,
latency). A request that was answered by a fallback after a 401 shows that 401
here, so "zero failed requests" can be checked attempt by attempt. Key values are
never written, only fingerprints. SIGTERM stops it cleanly.
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


def attempt_record(attempt: Attempt, ended: float) -> dict[str, Any]:
    """One attempt as logged: provider, route index, outcome, fingerprint, end time, ms."""
    return {"provider": attempt.provider, "route": attempt.route, "outcome": attempt.outcome,
            "fp": attempt.key_fingerprint, "t": ended, "ms": round(attempt.latency * 1000, 3)}


def request_record(alias: str, started: float, attempts: list[dict[str, Any]],
                   error: str | None) -> dict[str, Any]:
    """One request as logged.

    ``ok`` is True when some attempt answered; then ``provider``, ``route`` and
    ``fp`` name the attempt that did (the last one). ``attempts`` lists every try.
    """
    line: dict[str, Any] = {"t": started, "alias": alias, "ok": error is None,
                            "attempts": attempts}
    if error is None:
        served = attempts[-1]
        line.update(provider=served["provider"], route=served["route"], fp=served["fp"])
    else:
        line["error"] = error
    return line


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
    tried: list[dict[str, Any]] = []
    client = Client.from_file(args.config,
                              on_attempt=lambda a: tried.append(attempt_record(a, time.time())))
    interval = 1.0 / args.rate
    n = 0
    with Path(args.log).open("a", buffering=1) as log:
        log.write(json.dumps({"t": time.time(), "event": "start", "pid": os.getpid()}) + "\n")
        next_at = time.monotonic()
        while not stop:
            alias = args.alias[n % len(args.alias)]
            n += 1
            tried.clear()
            started, t0 = time.time(), time.perf_counter()
            error: str | None = None
            try:
                client.chat.completions.create(model=alias, messages=[
                    {"role": "user", "content": f"ping {n}"}])
            except AllRoutesFailed as exc:
                error = str(exc)[:300]
            except Exception as exc:  # a demo service logs and keeps going
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
            if error is None and (not tried or tried[-1]["outcome"] != "ok"):
                error = "answered without an ok attempt"  # would be a client bug
            line = request_record(alias, started, list(tried), error)
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
