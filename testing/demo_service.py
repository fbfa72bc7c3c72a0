"""A stand-in service for the demo and end-to-end tests: calls aliases in a loop.

    python -m testing.demo_service --config /run/secrets/aigw/aigw-client.json \
        [--alias chat-ab ...] --rate 17 --log svc.jsonl

It uses only `aigw.client` (as a real service would), paces requests at RATE per
second, and appends one JSON line per request (see `request_record`): when it
started, whether it was answered, which provider/route/key fingerprint served it,
the model the provider says it was asked for, and EVERY attempt the client made on
the way (provider, route index, outcome such as ok, http_401, http_503,
connect_error or timeout, key fingerprint, the config revision the call started
with, when it ended, latency). A request that was answered by a fallback after a
401 shows that 401 here, so "zero failed requests" can be checked attempt by
attempt. Key values are never written, only fingerprints.

Without `--alias` it calls, in turn, every alias of the config it is running
now: an alias a live config adds is called from its first request on that
revision. Whenever the client's revision or `config_status` changes it appends
one ``{"event": "config", ...}`` line (a rejected config shows up there), and the
client's own log lines (the swap line, the one warning of a rejection) go to
stderr. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aigw.client import AllRoutesFailed, Attempt, Client


def attempt_record(attempt: Attempt, ended: float) -> dict[str, Any]:
    """One attempt as logged: provider, route index, outcome, fingerprint, config
    revision the call started with, end time, ms."""
    return {"provider": attempt.provider, "route": attempt.route, "outcome": attempt.outcome,
            "fp": attempt.key_fingerprint, "rev": attempt.revision,
            "t": ended, "ms": round(attempt.latency * 1000, 3)}


def status_record(client: Client) -> dict[str, Any]:
    """The client's revision and `config_status` (what an operator's metrics would show)."""
    status = client.config_status._asdict()
    status.pop("loaded_at")  # changes with every reload; `reloads` counts them
    return {"revision": client.revision, "status": status}


def request_record(alias: str, started: float, attempts: list[dict[str, Any]],
                   error: str | None, model: str | None = None) -> dict[str, Any]:
    """One request as logged.

    ``ok`` is True when some attempt answered; then ``provider``, ``route``,
    ``fp`` and ``rev`` name the attempt that did (the last one) and ``model`` is
    the model the provider answered for. ``attempts`` lists every try.
    """
    line: dict[str, Any] = {"t": started, "alias": alias, "ok": error is None,
                            "attempts": attempts}
    if error is None:
        served = attempts[-1]
        line.update(provider=served["provider"], route=served["route"], fp=served["fp"],
                    rev=served.get("rev", ""), model=model)
    else:
        line["error"] = error
    return line


def main(argv: list[str] | None = None) -> int:
    """Run the request loop until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--alias", action="append",
                        help="alias to call (repeat); default: every alias of the running config")
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)

    stop = False

    def _stop(*_: Any) -> None:
        nonlocal stop
        stop = True

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # one line per file event
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    tried: list[dict[str, Any]] = []
    client = Client.from_file(args.config,
                              on_attempt=lambda a: tried.append(attempt_record(a, time.time())))
    interval = 1.0 / args.rate
    n = 0
    with Path(args.log).open("a", buffering=1) as log:
        log.write(json.dumps({"t": time.time(), "event": "start", "pid": os.getpid()}) + "\n")
        status: dict[str, Any] = {}
        next_at = time.monotonic()
        while not stop:
            now = status_record(client)
            if now != status:
                status = now
                log.write(json.dumps({"t": time.time(), "event": "config", **now}) + "\n")
            aliases = args.alias or sorted(client.aliases)
            alias = aliases[n % len(aliases)]
            n += 1
            tried.clear()
            started, t0 = time.time(), time.perf_counter()
            error: str | None = None
            model: str | None = None
            try:
                reply = client.chat.completions.create(model=alias, messages=[
                    {"role": "user", "content": f"ping {n}"}])
                model = reply.get("model") if isinstance(reply, dict) else None
            except AllRoutesFailed as exc:
                error = str(exc)[:300]
            except Exception as exc:  # a demo service logs and keeps going
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
            if error is None and (not tried or tried[-1]["outcome"] != "ok"):
                error = "answered without an ok attempt"  # would be a client bug
            line = request_record(alias, started, list(tried), error, model)
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
