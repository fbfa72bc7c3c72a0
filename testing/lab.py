"""An end-to-end lab on one machine: the whole aigw story with real parts.

A real OpenBao dev server, two local OpenAI stand-ins (testing.openai_admin:
inference + the admin API the `openai-admin` rotation driver uses), `aigw apply`
through the real Pulumi engine, `aigw keys put`, `aigw render`, one real
`bao agent` per service writing key files, and service processes calling their
aliases through `aigw.client`. Every aigw step runs as the CLI a user runs.
Services run on the live `aigw-client.json` their agent writes into their
`key_dir` (published by `aigw apply`), so a catalog change reaches them without
a restart: `change_catalog` edits the lab's catalog and applies it, and
`live_problems` checks, attempt by attempt, that every request ran on the
revision before or after the change and was served as that revision says.
Used by the README demo (testing/demo.py) and tests/e2e.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aigw.catalog import load_catalog
from aigw.client.keys import fingerprint, parse_token
from aigw.client_config import config_revision
from aigw.names import ROLE_ID_FILE, SECRET_ID_FILE, config_path, key_file
from aigw.slots.targets import secret_fingerprint, select_targets
from aigw.stack.auth import approle_credentials
from aigw.tools import find_bao
from testing.bao import BaoDevServer, OpenBao
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
# How a service of each runtime starts (`Lab.runtimes`: service -> runtime, default
# python); each logs the same JSON lines (testing/demo_service.py).
SERVICE_COMMANDS: dict[str, list[str]] = {
    "python": [sys.executable, "-m", "testing.demo_service"],
    "node": ["node", str(Path(__file__).with_name("node_service.mjs"))],  # clients/typescript
}


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


def request_revision(req: dict[str, Any]) -> str:
    """The config revision a request started with (that of its first attempt; "" if none)."""
    attempts = _attempts(req)
    return str(attempts[0].get("rev", "")) if attempts else ""


def first_routes(alias: Mapping[str, Any]) -> set[int]:
    """Route indexes a first attempt of ALIAS (an aigw-client.json entry) may go to:
    those with a weight above 0 when any route has a weight, else route 0."""
    routes = alias["routes"]
    weighted = {i for i, r in enumerate(routes) if r.get("weight") is not None}
    return {i for i in weighted if routes[i]["weight"] > 0} if weighted else {0}


def live_problems(traffic: Traffic, configs: Mapping[str, Mapping[str, Any]],
                  before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """What breaks "the config change reached every service and nothing noticed it".

    CONFIGS maps each revision ever published to its aigw-client.json; BEFORE and
    AFTER give each service's revision before and after the change (equal for a
    service the change does not touch, or for a config the clients must reject).

    - every request was answered on its first attempt: no failed attempt, no
      401/403, no retry, no fallback;
    - that attempt ran on a published revision, of the service itself; the alias
      is in that revision; its route is one a first attempt may take there
      (`first_routes`), with that route's provider; the provider answered for that
      route's model;
    - each service ran on BEFORE, then on AFTER, and never went back; its last
      request in the window ran on AFTER.
    """
    problems = []
    failed = [r for r in traffic.requests if not r["ok"]]
    if failed:
        problems.append(f"{len(failed)} requests failed: {_examples(failed)}")
    bad = [a for a in traffic.attempts if a["outcome"] != "ok"]
    if bad:
        problems.append(f"{len(bad)} failed attempts: {_examples(bad)}")
    extra = [r for r in traffic.requests if r["ok"] and len(_attempts(r)) != 1]
    if extra:
        problems.append(f"{len(extra)} requests needed more than one attempt: "
                        f"{_examples(extra)}")
    wrong: list[tuple[str, dict[str, Any]]] = []
    for req in (r for r in traffic.requests if r["ok"]):
        rev = request_revision(req)
        doc = configs.get(rev)
        first = _attempts(req)[0]
        if doc is None:
            wrong.append((f"revision {rev!r} was never published", req))
        elif doc["service"] != req["svc"]:
            wrong.append((f"revision {rev} is {doc['service']}'s config", req))
        elif req["alias"] not in doc["aliases"]:
            wrong.append((f"alias {req['alias']} is not in revision {rev}", req))
        else:
            alias = doc["aliases"][req["alias"]]
            if first["route"] not in first_routes(alias):
                wrong.append((f"route {first['route']} is not a first route in {rev}", req))
            else:
                route = alias["routes"][first["route"]]
                if (first["provider"], req.get("model")) != (route["provider"], route["model"]):
                    wrong.append((f"served by {first['provider']}/{req.get('model')}, revision "
                                  f"{rev} says {route['provider']}/{route['model']}", req))
    if wrong:
        problems.append(f"{len(wrong)} requests not served as their revision says: "
                        + "; ".join(f"{why} {_examples([r])}" for why, r in wrong[:3]))
    for svc, reqs in sorted(traffic.by_service.items()):
        revs = [request_revision(r) for r in reqs if r["ok"]]
        old, new = before[svc], after[svc]
        stray = sorted({r for r in revs if r not in (old, new)})
        if stray:
            problems.append(f"{svc}: ran revisions {stray}, neither {old} nor {new}")
        if old != new and new in revs and old in revs[revs.index(new):]:
            problems.append(f"{svc}: went back to {old} after running {new}")
        if not revs:
            problems.append(f"{svc}: no requests in the window")
        elif revs[-1] != new:
            problems.append(f"{svc}: still on {revs[-1]} at the end, not {new}")
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
class Published:
    """A service's client config as OpenBao holds it now."""

    text: str
    version: int
    written: float  # when this KV version was written (OpenBao's created_time)

    @property
    def doc(self) -> dict[str, Any] | None:
        """The parsed config, None when it is not JSON (a corrupt entry)."""
        try:
            doc = json.loads(self.text)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    @property
    def revision(self) -> str:
        """Its `revision` field ("" when unparseable)."""
        doc = self.doc
        return str(doc.get("revision", "")) if doc else ""


@dataclass
class Change:
    """One change of the services' configs, made while they serve (see `Lab.change_catalog`)."""

    what: str
    started: float  # just before anything was written
    applied: float  # when `aigw apply` returned (or the hand-written entry was stored)
    before: dict[str, str]  # service -> published revision before
    after: dict[str, str]  # service -> published revision after
    written: dict[str, float]  # service -> when OpenBao stored its new version
    pids: dict[str, int]  # service PIDs just before
    output: str = ""

    @property
    def changed(self) -> list[str]:
        """Services whose published revision changed."""
        return sorted(s for s in self.after if self.after[s] != self.before.get(s))


@dataclass
class Lab:
    """Build with `Lab(root).start()`; always `stop()` (or use as a context manager).

    Without BAO the lab starts (and stops) its own OpenBao dev server. With one
    (`Lab(root, bao=...)`: anything with `addr`, `token` and `client()`, see
    testing.bao.OpenBao, e.g. one node of a raft cluster) it runs against that
    instance instead and leaves it running: every aigw command and every agent
    addresses `bao.addr`.
    """

    root: Path
    rate: float = 17.0  # requests per second per service (3 services: 51/s)
    say: Callable[[str], None] = print
    bao: OpenBao | None = None
    # service -> runtime of its process (SERVICE_COMMANDS; default python)
    runtimes: Mapping[str, str] = field(default_factory=dict)
    providers: dict[str, OpenAIAdminServer] = field(default_factory=dict)
    admin_keys: dict[str, str] = field(default_factory=dict)
    initial_fps: dict[str, str] = field(default_factory=dict)
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    services: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # revision -> config
    # Services in other languages, beside the Python ones, each on the live config of a
    # lab service: log name -> (that service, argv to which `--config`, `--rate` and
    # `--log` are added). They log in demo_service's format (e.g. testing/go_service).
    extra_services: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    _logs: dict[str, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)
    _dev: BaoDevServer | None = None  # the dev server the lab started (None: an external bao)

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
        if self.bao is None:
            self.bao = self._dev = BaoDevServer().start()
            self.say(f"OpenBao dev server: {self.bao.addr}")
        else:
            self.say(f"OpenBao: {self.bao.addr}")
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
            "environments": {"prod": {}},  # agent_refresh: the default (1 s)
            "providers": providers,
            "models": {
                alias: {"routes": [{"provider": p, "model": f"m-{p}"} for p in routes]}
                for alias, routes in ROUTES.items()
            },
            "services": {
                svc: {"environments": ["prod"], "models": aliases,
                      "key_dir": str(self.key_dir(svc)),
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
            *({"rule": "prod-per-service-keys", "service": svc,
               "reason": "the lab shares one key per provider so every slot sees traffic"}
              for svc in SERVICES),
            *({"rule": "prod-route-price", "service": svc,
               "reason": "the lab's stand-in providers charge nothing, whatever the model"}
              for svc in SERVICES)]))

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

    def run_aigw(self, *args: str, stdin: str | None = None,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the aigw CLI as a user would; raise with its stderr unless it exits 0
        (CHECK false: return whatever it exited with)."""
        proc = subprocess.run([sys.executable, "-m", "aigw", *args], input=stdin, text=True,
                              capture_output=True, env=self.env(), cwd=self.root, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"aigw {args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}"
                               f"{proc.stdout[-2000:]}")
        return proc

    def spawn_aigw(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start the aigw CLI in the background (as `run_aigw` runs it); its stdout and
        stderr go to logs/NAME.out and logs/NAME.err, readable while it runs."""
        logs = self.root / "logs"
        with (logs / f"{name}.out").open("wb") as out, (logs / f"{name}.err").open("wb") as err:
            return subprocess.Popen([sys.executable, "-m", "aigw", *args],
                                    env={**self.env(), "PYTHONUNBUFFERED": "1"},  # lines as they come
                                    cwd=self.root, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def aigw(self, *args: str, stdin: str | None = None) -> str:
        """Run the aigw CLI (see `run_aigw`); its stdout."""
        return self.run_aigw(*args, stdin=stdin).stdout

    def start_agents(self) -> None:
        """One real `bao agent` per service, logging in with its own AppRole."""
        assert self.bao is not None
        admin = self.bao.client()
        for svc in SERVICES:
            folder = self.root / "rendered" / "prod" / svc
            creds = approle_credentials(admin, f"aigw-prod-{svc}")
            for name, value in ((ROLE_ID_FILE, creds.role_id), (SECRET_ID_FILE, creds.secret_id)):
                (folder / name).write_text(value)
                (folder / name).chmod(0o600)
            self._spawn_agent(svc)
        for svc in SERVICES:
            for name in PROVIDERS:
                path = self.key_dir(svc) / key_file(name, "default")
                _wait(lambda k=path: k.is_file() and k.stat().st_size > 0,  # type: ignore[misc]
                      WAIT,
                      f"agent of {svc} never wrote {path.name}")
            live = self.live_config_path(svc)
            _wait(live.is_file, WAIT, f"agent of {svc} never wrote {live.name}")
        self.say("bao agents wrote every key file (mode 0600) and the live aigw-client.json")

    def _spawn_agent(self, svc: str) -> None:
        """Start the service's `bao agent` in its rendered folder (appending to its log)."""
        assert self.bao is not None
        env = {k: v for k, v in os.environ.items() if k not in ("BAO_TOKEN", "VAULT_TOKEN")}
        env.update(BAO_ADDR=self.bao.addr, VAULT_ADDR=self.bao.addr)
        self.agents[svc] = subprocess.Popen(
            [str(find_bao()), "agent", "-config=bao-agent.hcl"],
            cwd=self.root / "rendered" / "prod" / svc, env=env,
            stdout=(self.root / "logs" / f"agent-{svc}.log").open("ab"),
            stderr=subprocess.STDOUT)

    def restart_agent(self, svc: str) -> None:
        """Stop the service's agent and start it again on its (re-rendered) config: what
        `aigw apply` asks for when the key files an agent writes change."""
        proc = self.agents[svc]
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._spawn_agent(svc)

    def start_services(self) -> None:
        """Three service processes calling their aliases at `rate` per second each.

        Each runs on the live aigw-client.json its agent writes (so it follows
        `aigw apply`) and calls every alias of the config it runs, in turn.
        """
        self.record_published()
        for svc in SERVICES:
            cmd = [*SERVICE_COMMANDS[self.runtimes.get(svc, "python")], "--config",
                   str(self.live_config_path(svc)),
                   "--rate", str(self.rate), "--log", str(self.log_path(svc))]
            self.services[svc] = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=self.stderr_path(svc).open("wb"))
        for name, (svc, argv) in self.extra_services.items():
            self.services[name] = subprocess.Popen(
                [*argv, "--config", str(self.live_config_path(svc)), "--rate", str(self.rate),
                 "--log", str(self.log_path(name))],
                stdout=subprocess.DEVNULL, stderr=self.stderr_path(name).open("wb"))
        _wait(lambda: all(len(self.requests(s)) > 3 for s in [*SERVICES, *self.extra_services]),
              WAIT, "services did not start serving")
        self.say(f"3 services calling providers, {self.rate * 3:.0f} requests/s in total")

    # -- observation ---------------------------------------------------------
    def log_path(self, svc: str) -> Path:
        """Where a service logs its requests."""
        return self.root / "logs" / f"{svc}.jsonl"

    def stderr_path(self, svc: str) -> Path:
        """Where a service's stderr goes (the client's log lines)."""
        return self.root / "logs" / f"{svc}.stderr"

    def key_dir(self, svc: str) -> Path:
        """The service's key_dir: its agent writes key files and the live config there."""
        return self.root / "keys" / svc

    def live_config_path(self, svc: str) -> Path:
        """The live aigw-client.json the service runs on (written by its agent)."""
        return self.key_dir(svc) / "aigw-client.json"

    def records(self, svc: str) -> list[dict[str, Any]]:
        """Every complete line the service logged so far (read incrementally)."""
        offset, recs = self._logs.get(svc, (0, []))
        path = self.log_path(svc)
        if path.exists():
            with path.open("rb") as f:
                f.seek(offset)
                chunk = f.read()
            end = chunk.rfind(b"\n") + 1  # a line being written waits for the next read
            recs.extend(json.loads(line) for line in chunk[:end].splitlines() if line)
            offset += end
        self._logs[svc] = (offset, recs)
        return recs

    def requests(self, svc: str, since: float = 0.0,
                 until: float = float("inf")) -> list[dict[str, Any]]:
        """The request records of a service that started in [since, until) (events excluded)."""
        return [r for r in self.records(svc) if "event" not in r and since <= r["t"] < until]

    def config_events(self, svc: str, since: float = 0.0) -> list[dict[str, Any]]:
        """The service's ``config`` events (its revision and config_status) since SINCE."""
        return [r for r in self.records(svc) if r.get("event") == "config" and r["t"] >= since]

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

    def propagation(self, promoted: dict[str, float],
                    new: Mapping[str, str] | None = None) -> dict[str, float]:
        """Seconds from each promotion to each consumer's first request served by the new key
        (NEW: provider -> its fingerprint; default: any key but the initial one)."""
        out: dict[str, float] = {}
        for svc, aliases in SERVICES.items():
            for provider in sorted({PRIMARY[a] for a in aliases}):
                if provider not in promoted:
                    continue
                first = next((r["t"] for r in self.requests(svc, promoted[provider])
                              if r.get("provider") == provider
                              and (r.get("fp") == new[provider] if new is not None
                                   else r.get("fp") != self.initial_fps[provider])), None)
                if first is not None:
                    out[f"{svc}->{provider}"] = round(first - promoted[provider], 3)
        return out

    # -- scenarios (the demo prints them, tests/e2e asserts them) ------------
    def rotate_all(self, wait: str = "60s", *, timeout: float = WAIT,
                   run: Callable[[tuple[str, ...]], subprocess.CompletedProcess[str]] | None = None,
                   ) -> dict[str, Any]:
        """`aigw rotate-keys --json` on every slot, waiting for evidence that consumers moved.

        RUN runs rotate-keys with the arguments it is given and returns its last
        run (default: `run_aigw`; a fault test kills a server during it and
        reruns). Raises when that run exits non-zero or does not report every
        slot ``done``; then waits (event-based) until every consumer was served
        by its new key (the slot's value now), and returns the per-slot summary,
        the measured propagation times and the traffic of the rotation window.
        """
        pids = self.service_pids()
        t0 = time.time()
        args = ("rotate-keys", str(self.root), "--env", "prod", "--yes", "--wait", wait, "--json")
        proc = run(args) if run is not None else self.run_aigw(*args)
        took = time.time() - t0
        summary = _rotation_summary(proc)
        new = self.slot_fps()
        _wait(lambda: len(self.propagation(self.promotions(), new)) == len(CONSUMERS), timeout,
              "not every service was served by its new key")
        promoted = self.promotions()
        live = {name: [fingerprint(k.value) for k in server.live_keys(f"proj-{name}")]
                for name, server in self.providers.items()}
        end = time.time()
        return {"summary": summary, "progress": proc.stderr, "seconds": took,
                "pids_before": pids, "pids_after": self.service_pids(), "promoted": promoted,
                "propagation": self.propagation(promoted, new), "live_keys": live,
                "window": (t0, end), "traffic": self.traffic(t0, end)}

    def slot_fps(self) -> dict[str, str]:
        """Each provider's key fingerprint as its prod slot holds it now (root token)."""
        assert self.bao is not None
        admin = self.bao.client()
        out = {}
        for target in select_targets(load_catalog(self.root).catalog, "prod"):
            data = admin.secrets.kv.v2.read_secret_version(
                path=target.secret_path, mount_point=target.mount,
                raise_on_deleted_version=True)["data"]["data"]
            out[target.ref.provider] = secret_fingerprint(data)
        return out

    def file_fps(self) -> dict[str, dict[str, str]]:
        """Each service's key fingerprint per provider, as its agent's key files hold it now."""
        out: dict[str, dict[str, str]] = {}
        for svc in SERVICES:
            for name in PROVIDERS:
                path = self.key_dir(svc) / key_file(name, "default")
                parsed = parse_token(path.read_text()) if path.is_file() else None
                out.setdefault(svc, {})[name] = parsed[1] if parsed else ""
        return out

    def file_revisions(self) -> dict[str, str]:
        """The revision of each service's live aigw-client.json, as its agent wrote it."""
        out = {}
        for svc in SERVICES:
            try:
                out[svc] = str(json.loads(self.live_config_path(svc).read_text())["revision"])
            except (OSError, ValueError, KeyError):
                out[svc] = ""
        return out

    def failures(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Every failed request of every service since SINCE."""
        return [r for svc in SERVICES for r in self.requests(svc, since) if not r["ok"]]

    def openbao_outage(self, seconds: float = 6.0, *, count: int = 20,
                       timeout: float = WAIT) -> dict[str, Any]:
        """Stop OpenBao (no aigw process runs either) and watch services keep serving.

        The outage lasts SECONDS and at least until every service made COUNT
        requests without it (so a slow machine still exercises it).
        """
        assert self._dev is not None, "an outage needs the lab's own dev server"
        self._dev.stop()
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

    # -- live config ---------------------------------------------------------
    def environment(self) -> Any:
        """The lab's `prod` environment, as the catalog defines it."""
        return load_catalog(self.root).catalog.environments["prod"]

    def published(self) -> dict[str, Published]:
        """Each service's client config as OpenBao holds it now (read with the root token)."""
        assert self.bao is not None
        env, admin = self.environment(), self.bao.client()
        out = {}
        for svc in SERVICES:
            entry = admin.secrets.kv.v2.read_secret_version(
                path=config_path("prod", env, svc), mount_point=env.mount,
                raise_on_deleted_version=True)["data"]
            out[svc] = Published(entry["data"]["config"], entry["metadata"]["version"],
                                 _parse_iso(entry["metadata"]["created_time"]))
        return out

    def record_published(self) -> dict[str, Published]:
        """`published`, remembering every config seen (for `live_problems`)."""
        now = self.published()
        for pub in now.values():
            doc = pub.doc  # only a config whose revision is its own hash (not a hand-made one)
            if doc is not None and pub.revision and config_revision(doc) == pub.revision:
                self.configs[pub.revision] = doc
        return now

    def catalog(self) -> dict[str, Any]:
        """The lab's catalog (aigw.yaml) as data."""
        doc: dict[str, Any] = yaml.safe_load((self.root / "aigw.yaml").read_text())
        return doc

    def change_catalog(self, what: str, edit: Callable[[dict[str, Any]], None], *,
                       apply: Callable[[], str] | None = None) -> Change:
        """Edit the lab's catalog with EDIT and `aigw apply` it, while the services serve.

        APPLY applies the edited catalog and returns the output of the run that
        converged (default: one `aigw apply --yes`, raising unless it exits 0; a
        fault test kills a server during it and reruns). Returns when it
        returned, with each service's published revision before and after (a
        service the edit does not touch keeps its revision).
        """
        before = self.record_published()
        doc = copy.deepcopy(self.catalog())
        edit(doc)
        pids, started = self.service_pids(), time.time()
        (self.root / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        out = apply() if apply is not None else self.aigw("apply", str(self.root), "--yes")
        applied = time.time()
        return self._change(what, started, applied, before, pids, out)

    def put_config_by_hand(self, what: str, texts: Mapping[str, str]) -> Change:
        """Store TEXTS (service -> raw text) as services' published configs, the way an
        operator would by hand: `bao kv put -mount=M -cas=N PATH config=@FILE` with the
        root token (in the environment, never argv). Bypasses every check aigw makes."""
        assert self.bao is not None
        before = self.record_published()
        env = self.environment()
        pids, started = self.service_pids(), time.time()
        for svc, text in texts.items():
            src = self.root / "logs" / f"by-hand-{svc}.json"
            src.write_text(text)
            # The mount requires check-and-set, so name the version being replaced.
            proc = subprocess.run(
                [str(find_bao()), "kv", "put", f"-mount={env.mount}",
                 f"-cas={before[svc].version}", config_path("prod", env, svc),
                 f"config=@{src}"],
                env={**os.environ, "BAO_ADDR": self.bao.addr, "BAO_TOKEN": self.bao.token},
                capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"bao kv put exited {proc.returncode}: {proc.stderr[-2000:]}")
        return self._change(what, started, time.time(), before, pids, "")

    def _change(self, what: str, started: float, applied: float,
                before: Mapping[str, Published], pids: dict[str, int], out: str) -> Change:
        after = self.record_published()
        return Change(what, started, applied,
                      {s: p.revision for s, p in before.items()},
                      {s: p.revision for s, p in after.items()},
                      {s: p.written for s, p in after.items()
                       if p.version != before[s].version},
                      pids, out)

    def first_on(self, svc: str, revision: str, since: float) -> float | None:
        """When the service's first request on REVISION started (since SINCE), if any."""
        return next((r["t"] for r in self.requests(svc, since)
                     if request_revision(r) == revision), None)

    def wait_live(self, change: Change, *, timeout: float = WAIT) -> dict[str, dict[str, float]]:
        """Wait (event-based) until every service the change touched served a request
        on its new revision; per such service, seconds from `aigw apply` returning
        (``after_apply``) and from OpenBao storing the entry (``after_write``) to that
        request. Negative: it was live before apply returned."""
        _wait(lambda: all(self.first_on(s, change.after[s], change.started) is not None
                          for s in change.changed), timeout,
              f"{change.what}: not every service ran its new revision "
              f"({ {s: change.after[s] for s in change.changed} })")
        out = {}
        for svc in change.changed:
            first = self.first_on(svc, change.after[svc], change.started)
            assert first is not None
            out[svc] = {"after_apply": round(first - change.applied, 3),
                        "after_write": round(first - change.written[svc], 3)}
        return out

    def wait_until(self, predicate: Callable[[], bool], what: str, *,
                   timeout: float = WAIT) -> float:
        """Wait (event-based, generous timeout) for PREDICATE; return when it held."""
        _wait(predicate, timeout, what)
        return time.time()

    def live_check(self, change: Change, until: float) -> list[str]:
        """`live_problems` of the traffic from just before CHANGE until UNTIL."""
        return live_problems(self.traffic(change.started, until), self.configs,
                             change.before, change.after)

    # -- teardown ------------------------------------------------------------
    def stop(self) -> None:
        """Stop services, agents, the lab's own OpenBao (not an external one) and the providers."""
        for proc in [*self.services.values(), *self.agents.values()]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.services.values(), *self.agents.values()]:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self._dev is not None:
            self._dev.stop()
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
