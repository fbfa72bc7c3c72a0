"""An end-to-end lab on one machine: the whole aigw story with real parts.

A real OpenBao dev server, two local OpenAI stand-ins (testing.openai_admin:
inference + the admin API the `openai-admin` rotation driver uses), `aigw apply`
through the real Pulumi engine, `aigw keys put`, `aigw render`, one real
`bao agent` per service writing key files, and service processes calling their
aliases through `aigw.client`. Every aigw step runs as the CLI a user runs.
Used by the README demo (scripts/demo_rotation.py) and tests/e2e.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aigw.client.keys import fingerprint
from aigw.stack.auth import approle_credentials
from aigw.tools import find_bao
from testing.bao import BaoDevServer
from testing.openai_admin import OpenAIAdminServer

PROVIDERS = ("alpha", "beta")
ROUTES = {"chat-ab": ("alpha", "beta"), "chat-ba": ("beta", "alpha")}  # alias -> fallback order
PRIMARY = {alias: routes[0] for alias, routes in ROUTES.items()}
SERVICES = {"svc-1": ["chat-ab"], "svc-2": ["chat-ba"], "svc-3": ["chat-ab", "chat-ba"]}
CONSUMERS = [(svc, p) for svc, aliases in SERVICES.items() for p in sorted({PRIMARY[a]
                                                                              for a in aliases})]
AUTH_FAILURES = frozenset({"http_401", "http_403"})
DEAD_PROVIDER = frozenset({"connect_error"})  # what an attempt on a stopped provider gets
WAIT = 120.0  # generous bound on every event-based wait (a loaded machine is slow, not broken)


def _attempts(req: dict[str, Any]) -> list[dict[str, Any]]:
    return list(req.get("attempts", []))


def _needed_second_route(req: dict[str, Any]) -> bool:
    """More than one attempt, or an attempt on a route other than the alias's first."""
    attempts = _attempts(req)
    return len(attempts) != 1 or attempts[0]["route"] != 0


@dataclass
class Traffic:
    """The requests the services made in [since, until), with every attempt of each."""

    since: float
    until: float
    by_service: dict[str, list[dict[str, Any]]]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request of every service, each with its service name under ``svc``."""
        return [{**r, "svc": svc} for svc, reqs in self.by_service.items() for r in reqs]

    @property
    def attempts(self) -> list[dict[str, Any]]:
        """Every attempt, each with ``svc`` and ``alias`` of its request."""
        return [{**a, "svc": r["svc"], "alias": r["alias"]}
                for r in self.requests for a in _attempts(r)]

    def outcomes(self) -> dict[str, dict[str, int]]:
        """Attempt counts by provider, then outcome: {"alpha": {"ok": 812, ...}}."""
        out: dict[str, dict[str, int]] = {}
        for a in self.attempts:
            per = out.setdefault(a["provider"], {})
            per[a["outcome"]] = per.get(a["outcome"], 0) + 1
        return {p: dict(sorted(c.items())) for p, c in sorted(out.items())}

    def counts(self) -> dict[str, int]:
        """Requests, failed requests, attempts, failed attempts, 401/403s, second routes."""
        reqs, attempts = self.requests, self.attempts
        return {"requests": len(reqs), "failed": sum(1 for r in reqs if not r["ok"]),
                "attempts": len(attempts),
                "failed_attempts": sum(1 for a in attempts if a["outcome"] != "ok"),
                "auth_failures": sum(1 for a in attempts if a["outcome"] in AUTH_FAILURES),
                "second_route": sum(1 for r in reqs if _needed_second_route(r))}

    def rates(self) -> dict[str, float]:
        """Requests per second of each service over the window."""
        span = max(self.until - self.since, 1e-9)
        return {svc: len(reqs) / span for svc, reqs in self.by_service.items()}

    def clean_problems(self) -> list[str]:
        """What breaks "no request noticed anything": empty when every request was
        answered by its alias's first route on the first attempt (so no attempt
        got a 401/403, timed out or was refused, and none needed a fallback)."""
        problems = []
        reqs = self.requests
        if not reqs:
            problems.append("no requests at all in the window")
        auth = [a for a in self.attempts if a["outcome"] in AUTH_FAILURES]
        if auth:
            problems.append(f"{len(auth)} attempts got {'/'.join(sorted(AUTH_FAILURES))}: "
                            f"{_examples(auth)}")
        other = [a for a in self.attempts if a["outcome"] not in AUTH_FAILURES | {"ok"}]
        if other:
            problems.append(f"{len(other)} other failed attempts: {_examples(other)}")
        second = [r for r in reqs if _needed_second_route(r)]
        if second:
            problems.append(f"{len(second)} requests needed a second route or attempt: "
                            f"{_examples(second)}")
        failed = [r for r in reqs if not r["ok"]]
        if failed:
            problems.append(f"{len(failed)} requests failed: {_examples(failed)}")
        return problems

    def slower_than(self, baseline: Traffic, factor: float = 3.0) -> list[str]:
        """Services whose rate here fell below 1/FACTOR of their own rate in BASELINE.

        A relative check (each service against itself on the same machine), so a
        busy machine slows both windows alike; it catches a service that stalls.
        """
        mine, base = self.rates(), baseline.rates()
        return [f"{svc}: {mine.get(svc, 0):.1f}/s here, {rate:.1f}/s in the baseline"
                for svc, rate in base.items() if mine.get(svc, 0.0) * factor < rate]

    def line(self) -> str:
        """One line for people: request and attempt-level counts."""
        c = self.counts()
        per = "; ".join(f"{p} " + ", ".join(f"{o} {n}" for o, n in outs.items())
                        for p, outs in self.outcomes().items())
        return (f"{c['requests']} requests, {c['failed']} failed; {c['attempts']} attempts "
                f"({per}); {c['auth_failures']} got 401/403; {c['second_route']} needed a "
                "second route")


def _examples(items: list[dict[str, Any]], n: int = 3) -> str:
    shown = [{k: v for k, v in it.items() if k != "attempts"} | (
        {"attempts": [(a["provider"], a["route"], a["outcome"]) for a in it["attempts"]]}
        if "attempts" in it else {}) for it in items[:n]]
    return json.dumps(shown) + (" ..." if len(items) > n else "")


def failover_problems(traffic: Traffic, provider: str, down: float, up: float) -> list[str]:
    """What breaks "PROVIDER was down in [down, up) and only that happened".

    - every request was answered;
    - every attempt that lay wholly inside [down, up) on PROVIDER failed with
      an outcome in DEAD_PROVIDER, and each service that puts PROVIDER first
      had at least one; every attempt on PROVIDER that started after `up`
      succeeded;
    - every request of an alias that puts PROVIDER first, finished before
      `up`, was answered by the other provider;
    - nothing else failed: no attempt on another provider failed, none got a
      401/403, and aliases that put another provider first never needed a
      second route.
    """
    problems = []
    failed = [r for r in traffic.requests if not r["ok"]]
    if failed:
        problems.append(f"{len(failed)} requests failed: {_examples(failed)}")
    attempts = traffic.attempts
    inside = [a for a in attempts if a["provider"] == provider
              and a["t"] - a["ms"] / 1000 >= down and a["t"] <= up]
    wrong = [a for a in inside if a["outcome"] not in DEAD_PROVIDER]
    if wrong:
        problems.append(f"{len(wrong)} attempts on stopped {provider} did not fail with "
                        f"{'/'.join(sorted(DEAD_PROVIDER))}: {_examples(wrong)}")
    hit = {svc for svc, aliases in SERVICES.items() if any(PRIMARY[a] == provider
                                                           for a in aliases)}
    missing = sorted(hit - {a["svc"] for a in inside})
    if missing:
        problems.append(f"no attempt on stopped {provider} from {missing}")
    after = [a for a in attempts if a["provider"] == provider
             and a["t"] - a["ms"] / 1000 >= up and a["outcome"] != "ok"]
    if after:
        problems.append(f"{len(after)} attempts on {provider} failed after it was back: "
                        f"{_examples(after)}")
    served = [r for r in traffic.requests if r["ok"] and PRIMARY[r["alias"]] == provider
              and r["attempts"][-1]["t"] <= up and r["provider"] == provider]
    if served:
        problems.append(f"{len(served)} requests answered by stopped {provider}: "
                        f"{_examples(served)}")
    others = [a for a in attempts if a["provider"] != provider and a["outcome"] != "ok"]
    if others:
        problems.append(f"{len(others)} attempts on other providers failed: "
                        f"{_examples(others)}")
    auth = [a for a in attempts if a["outcome"] in AUTH_FAILURES]
    if auth:
        problems.append(f"{len(auth)} attempts got 401/403: {_examples(auth)}")
    unaffected = [r for r in traffic.requests if PRIMARY[r["alias"]] != provider
                  and _needed_second_route(r)]
    if unaffected:
        problems.append(f"{len(unaffected)} requests of aliases not starting with {provider} "
                        f"needed a second route: {_examples(unaffected)}")
    return problems


def _rotation_summary(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The `rotate-keys --json` summary; raise unless it says every lab slot is done."""
    summary: dict[str, Any] = json.loads(proc.stdout)
    slots = {s["slot"]: s for s in summary["slots"]}
    expected = {f"prod/{p}/default" for p in PROVIDERS}
    if summary["exit_code"] != 0 or set(slots) != expected or any(
            s["status"] != "done" for s in slots.values()):
        raise RuntimeError(f"rotate-keys did not rotate every slot: {json.dumps(summary)}")
    return summary


@dataclass
class Lab:
    """Build with `Lab(root).start()`; always `stop()` (or use as a context manager)."""

    root: Path
    rate: float = 17.0  # requests per second per service (3 services: 51/s)
    say: Callable[[str], None] = print
    bao: BaoDevServer | None = None
    providers: dict[str, OpenAIAdminServer] = field(default_factory=dict)
    admin_keys: dict[str, str] = field(default_factory=dict)
    initial_fps: dict[str, str] = field(default_factory=dict)
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # -- setup ---------------------------------------------------------------
    def start(self) -> Lab:
        """Bring everything up; services are calling providers when this returns."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "logs").mkdir(exist_ok=True)
        for name in PROVIDERS:
            self.admin_keys[name] = "admin-" + secrets.token_hex(8)
            self.providers[name] = OpenAIAdminServer(admin_key=self.admin_keys[name]).start()
        self.say(f"fake providers: alpha {self.providers['alpha'].url}, "
                 f"beta {self.providers['beta'].url}")
        self.bao = BaoDevServer().start()
        self.say(f"OpenBao dev server: {self.bao.addr}")
        self.write_catalog()
        self.aigw("validate", str(self.root))
        self.say("aigw apply: mount, key slots, per-service policies and AppRoles")
        self.aigw("apply", str(self.root), "--yes")
        for name, server in self.providers.items():
            _, value = server.create_account(f"proj-{name}", "initial")
            self.initial_fps[name] = fingerprint(value)
            self.aigw("keys", "put", f"{name}/default", "--env", "prod", str(self.root),
                      stdin=value)
        self.say("initial keys stored with `aigw keys put` (read from stdin)")
        self.aigw("render", str(self.root), "--out", str(self.root / "rendered"))
        self.start_agents()
        self.start_services()
        return self

    def write_catalog(self) -> None:
        """The lab's catalog: 2 providers, 2 aliases, 3 services in prod."""
        providers = {
            name: {
                "api": "openai", "base_url": server.url, "region": "us",
                "rotation": {"driver": "openai-admin", "max_age": "30d", "grace": "2s",
                             "params": {"project_id": f"proj-{name}",
                                        "admin_base_url": server.url,
                                        "admin_key_env": f"AIGW_LAB_{name.upper()}_ADMIN_KEY",
                                        "verify_delay": 0.2}},
            }
            for name, server in self.providers.items()
        }
        catalog = {
            "environments": {"prod": {"agent_refresh": 1}},
            "providers": providers,
            "models": {
                alias: {"routes": [{"provider": p, "model": f"m-{p}"} for p in routes]}
                for alias, routes in ROUTES.items()
            },
            "services": {
                svc: {"environments": ["prod"], "models": aliases,
                      "key_dir": str(self.root / "keys" / svc),
                      "defaults": {"timeout": 2, "retries": 0, "cooldown": 5},
                      "outputs": ["aigw-client", "env", "bao-agent"]}
                for svc, aliases in SERVICES.items()
            },
        }
        for svc_doc in catalog["services"].values():  # type: ignore[attr-defined]
            svc_doc["regions"] = ["us"]
        (self.root / "aigw.yaml").write_text(yaml.safe_dump(catalog, sort_keys=False))
        (self.root / "policies").mkdir(exist_ok=True)
        (self.root / "policies" / "waivers.yaml").write_text(yaml.safe_dump([
            {"rule": "prod-per-service-keys", "service": svc,
             "reason": "the lab shares one key per provider so every slot sees traffic"}
            for svc in SERVICES]))

    def env(self) -> dict[str, str]:
        """The environment aigw commands run with (admin keys by variable, never argv)."""
        assert self.bao is not None
        env = {**os.environ, "BAO_ADDR": self.bao.addr, "VAULT_ADDR": self.bao.addr,
               "BAO_TOKEN": self.bao.token, "VAULT_TOKEN": self.bao.token,
               "PULUMI_BACKEND_URL": (self.root / "pulumi").as_uri(),
               "PULUMI_CONFIG_PASSPHRASE": "lab-passphrase",
               "AIGW_ROTATE_QUIET": "1", "AIGW_ROTATE_POLL": "0.2"}
        (self.root / "pulumi").mkdir(exist_ok=True)
        for name, key in self.admin_keys.items():
            env[f"AIGW_LAB_{name.upper()}_ADMIN_KEY"] = key
        return env

    def run_aigw(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the aigw CLI as a user would; raise with its stderr unless it exits 0."""
        proc = subprocess.run([sys.executable, "-m", "aigw", *args], input=stdin, text=True,
                              capture_output=True, env=self.env(), cwd=self.root, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"aigw {args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}"
                               f"{proc.stdout[-2000:]}")
        return proc

    def aigw(self, *args: str, stdin: str | None = None) -> str:
        """Run the aigw CLI (see `run_aigw`); its stdout."""
        return self.run_aigw(*args, stdin=stdin).stdout

    def start_agents(self) -> None:
        """One real `bao agent` per service, logging in with its own AppRole."""
        assert self.bao is not None
        admin = self.bao.client()
        env = {k: v for k, v in os.environ.items() if k not in ("BAO_TOKEN", "VAULT_TOKEN")}
        env.update(BAO_ADDR=self.bao.addr, VAULT_ADDR=self.bao.addr)
        for svc in SERVICES:
            folder = self.root / "rendered" / "prod" / svc
            creds = approle_credentials(admin, f"aigw-prod-{svc}")
            for name, value in (("role-id", creds.role_id), ("secret-id", creds.secret_id)):
                (folder / name).write_text(value)
                (folder / name).chmod(0o600)
            self.agents[svc] = subprocess.Popen(
                [str(find_bao()), "agent", "-config=bao-agent.hcl"], cwd=folder, env=env,
                stdout=(self.root / "logs" / f"agent-{svc}.log").open("wb"),
                stderr=subprocess.STDOUT)
        for svc in SERVICES:
            for name in PROVIDERS:
                key_file = self.root / "keys" / svc / f"{name}.default.key"
                _wait(lambda k=key_file: k.is_file() and k.stat().st_size > 0,  # type: ignore[misc]
                      WAIT,
                      f"agent of {svc} never wrote {key_file.name}")
        self.say("bao agents wrote every key file (mode 0600)")

    def start_services(self) -> None:
        """Three service processes calling their aliases at `rate` per second each."""
        for svc, aliases in SERVICES.items():
            cmd = [sys.executable, "-m", "testing.demo_service", "--config",
                   str(self.root / "rendered" / "prod" / svc / "aigw-client.json"),
                   "--rate", str(self.rate), "--log", str(self.log_path(svc))]
            for alias in aliases:
                cmd += ["--alias", alias]
            self.services[svc] = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _wait(lambda: all(len(self.requests(s)) > 3 for s in SERVICES), WAIT,
              "services did not start serving")
        self.say(f"3 services calling providers, {self.rate * 3:.0f} requests/s in total")

    # -- observation ---------------------------------------------------------
    def log_path(self, svc: str) -> Path:
        """Where a service logs its requests."""
        return self.root / "logs" / f"{svc}.jsonl"

    def requests(self, svc: str, since: float = 0.0,
                 until: float = float("inf")) -> list[dict[str, Any]]:
        """The request records of a service that started in [since, until) (events excluded)."""
        path = self.log_path(svc)
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            if not line.endswith("}"):
                continue  # a line being written
            rec = json.loads(line)
            if "event" not in rec and since <= rec["t"] < until:
                out.append(rec)
        return out

    def traffic(self, since: float, until: float) -> Traffic:
        """What the services saw in [since, until), attempt by attempt."""
        return Traffic(since, until, {svc: self.requests(svc, since, until) for svc in SERVICES})

    def service_pids(self) -> dict[str, int]:
        """PIDs of running service processes."""
        return {svc: p.pid for svc, p in self.services.items() if p.poll() is None}

    def promotions(self) -> dict[str, float]:
        """When each slot's new key was promoted (from `aigw audit --json`)."""
        doc = json.loads(self.aigw("audit", str(self.root), "--env", "prod", "--json"))
        records = [r for scope in doc["scopes"] for r in scope["records"]]  # docs/json.md
        return {str(rec["slot"]).split("/")[0]: _parse_iso(rec["at"])
                for rec in records if rec.get("to_state") == "promoted"}

    def wait_served(self, count: int, *, timeout: float = WAIT) -> float:
        """Wait until every service has made COUNT more requests; return when that was."""
        since = time.time()
        _wait(lambda: all(len(self.requests(s, since)) >= count for s in SERVICES), timeout,
              f"services did not make {count} requests each within {timeout:.0f} s")
        return time.time()

    def propagation(self, promoted: dict[str, float]) -> dict[str, float]:
        """Seconds from each promotion to each consumer's first request served by the new key."""
        out: dict[str, float] = {}
        for svc, aliases in SERVICES.items():
            for provider in sorted({PRIMARY[a] for a in aliases}):
                if provider not in promoted:
                    continue
                first = next((r["t"] for r in self.requests(svc, promoted[provider])
                              if r.get("provider") == provider
                              and r.get("fp") != self.initial_fps[provider]), None)
                if first is not None:
                    out[f"{svc}->{provider}"] = round(first - promoted[provider], 3)
        return out

    # -- scenarios (the demo prints them, tests/e2e asserts them) ------------
    def rotate_all(self, wait: str = "60s", *, timeout: float = WAIT) -> dict[str, Any]:
        """`aigw rotate-keys --json` on every slot, waiting for evidence that consumers moved.

        Raises when rotate-keys exits non-zero or does not report every slot
        ``done``; then waits (event-based) until every consumer was served by
        its new key, and returns the per-slot summary, the measured propagation
        times and the traffic of the rotation window.
        """
        pids = self.service_pids()
        t0 = time.time()
        proc = self.run_aigw("rotate-keys", str(self.root), "--env", "prod", "--yes",
                             "--wait", wait, "--json")
        took = time.time() - t0
        summary = _rotation_summary(proc)
        _wait(lambda: len(self.propagation(self.promotions())) == len(CONSUMERS), timeout,
              "not every service was served by its new key")
        promoted = self.promotions()
        live = {name: [fingerprint(k.value) for k in server.live_keys(f"proj-{name}")]
                for name, server in self.providers.items()}
        end = time.time()
        return {"summary": summary, "progress": proc.stderr, "seconds": took,
                "pids_before": pids, "pids_after": self.service_pids(), "promoted": promoted,
                "propagation": self.propagation(promoted), "live_keys": live,
                "window": (t0, end), "traffic": self.traffic(t0, end)}

    def failures(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Every failed request of every service since SINCE."""
        return [r for svc in SERVICES for r in self.requests(svc, since) if not r["ok"]]

    def openbao_outage(self, seconds: float = 6.0, *, count: int = 20,
                       timeout: float = WAIT) -> dict[str, Any]:
        """Stop OpenBao (no aigw process runs either) and watch services keep serving.

        The outage lasts SECONDS and at least until every service made COUNT
        requests without it (so a slow machine still exercises it).
        """
        assert self.bao is not None
        self.bao.stop()
        t0 = time.time()
        time.sleep(seconds)
        end = self.wait_served(count, timeout=timeout)
        return {"seconds": end - t0, "window": (t0, end), "traffic": self.traffic(t0, end)}

    def failover(self, provider: str = "alpha", *, count: int = 10,
                 timeout: float = WAIT) -> dict[str, Any]:
        """Stop PROVIDER (connections refused), then bring it back on the same port.

        Event-based: the provider stays down until every service whose alias
        puts it first has seen an attempt on it fail and was served by the
        fallback COUNT times; it is then restarted, and the scenario ends when
        each of those services is served by it again (after its cooldown).
        Returns the windows, the traffic and the checks of `failover_problems`.
        """
        server = self.providers[provider]
        port = server.port
        hit = [svc for svc, aliases in SERVICES.items()
               if any(PRIMARY[a] == provider for a in aliases)]
        server.stop()
        down = time.time()

        def fell_back(svc: str) -> bool:
            reqs = [r for r in self.requests(svc, down) if PRIMARY[r["alias"]] == provider]
            failed = any(a["provider"] == provider and a["outcome"] != "ok"
                         for r in reqs for a in r["attempts"])
            return failed and sum(1 for r in reqs if r["ok"] and r["provider"] != provider) >= count

        _wait(lambda: all(fell_back(s) for s in hit), timeout,
              f"services never fell back from {provider}")
        server.start(port=port)
        up = time.time()

        def back(svc: str) -> bool:
            return any(r["ok"] and r["provider"] == provider and r["route"] == 0
                       for r in self.requests(svc, up))

        _wait(lambda: all(back(s) for s in hit), timeout,
              f"services never went back to {provider} after it recovered")
        end = time.time()
        recovered = {svc: round(next(r["t"] for r in self.requests(svc, up)
                                     if r["ok"] and r["provider"] == provider) - up, 3)
                     for svc in hit}
        traffic = self.traffic(down, end)
        return {"provider": provider, "down": down, "up": up, "end": end, "hit": hit,
                "recovered_after": recovered, "traffic": traffic,
                "problems": failover_problems(traffic, provider, down, up)}

    # -- teardown ------------------------------------------------------------
    def stop(self) -> None:
        """Stop services, agents, OpenBao and the providers."""
        for proc in [*self.services.values(), *self.agents.values()]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.services.values(), *self.agents.values()]:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.bao is not None:
            self.bao.stop()
        for server in self.providers.values():
            server.stop()

    def __enter__(self) -> Lab:
        try:
            return self.start()
        except BaseException:
            self.stop()  # never leak servers or agents when set-up fails halfway
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _parse_iso(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _wait(predicate: Callable[[], bool], timeout: float, message: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(message)
