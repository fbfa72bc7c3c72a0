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
SERVICES = {"svc-1": ["chat-ab"], "svc-2": ["chat-ba"], "svc-3": ["chat-ab", "chat-ba"]}


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
                "chat-ab": {"routes": [{"provider": "alpha", "model": "m-alpha"},
                                       {"provider": "beta", "model": "m-beta"}]},
                "chat-ba": {"routes": [{"provider": "beta", "model": "m-beta"},
                                       {"provider": "alpha", "model": "m-alpha"}]},
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

    def aigw(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run the aigw CLI as a user would; raise with its stderr on failure."""
        proc = subprocess.run([sys.executable, "-m", "aigw", *args], input=stdin, text=True,
                              capture_output=True, env=self.env(), cwd=self.root, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"aigw {args[0]} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc.stdout

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
                      30,
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
        _wait(lambda: all(len(self.requests(s)) > 3 for s in SERVICES), 30,
              "services did not start serving")
        self.say(f"3 services calling providers, {self.rate * 3:.0f} requests/s in total")

    # -- observation ---------------------------------------------------------
    def log_path(self, svc: str) -> Path:
        """Where a service logs its requests."""
        return self.root / "logs" / f"{svc}.jsonl"

    def requests(self, svc: str, since: float = 0.0) -> list[dict[str, Any]]:
        """The request records of a service (start/stop events excluded)."""
        path = self.log_path(svc)
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            if not line.endswith("}"):
                continue  # a line being written
            rec = json.loads(line)
            if "event" not in rec and rec["t"] >= since:
                out.append(rec)
        return out

    def service_pids(self) -> dict[str, int]:
        """PIDs of running service processes."""
        return {svc: p.pid for svc, p in self.services.items() if p.poll() is None}

    def promotions(self) -> dict[str, float]:
        """When each slot's new key was promoted (from `aigw audit --json`)."""
        records = json.loads(self.aigw("audit", str(self.root), "--env", "prod", "--json"))
        return {str(rec["slot"]).split("/")[0]: _parse_iso(rec["at"])
                for rec in records if rec.get("to_state") == "promoted"}

    # -- scenarios (the demo prints them, tests/e2e asserts them) ------------
    def rotate_all(self, wait: str = "60s") -> dict[str, Any]:
        """`aigw rotate-keys` on every slot, waiting for evidence that consumers moved."""
        pids = self.service_pids()
        t0 = time.time()
        out = self.aigw("rotate-keys", str(self.root), "--env", "prod", "--yes",
                        "--wait", wait, check=False)
        took = time.time() - t0
        time.sleep(1.0)
        promoted = self.promotions()
        propagation: dict[str, float] = {}
        for svc, aliases in SERVICES.items():
            primaries = {"chat-ab": "alpha", "chat-ba": "beta"}
            for alias in aliases:
                provider = primaries[alias]
                first = next((r["t"] for r in self.requests(svc, promoted.get(provider, 0))
                              if r.get("provider") == provider
                              and r.get("fp") != self.initial_fps[provider]), None)
                if provider in promoted and first is not None:
                    propagation[f"{svc}->{provider}"] = first - promoted[provider]
        live = {name: [fingerprint(k.value) for k in server.live_keys(f"proj-{name}")]
                for name, server in self.providers.items()}
        return {"output": out, "seconds": took, "pids_before": pids,
                "pids_after": self.service_pids(), "promoted": promoted,
                "propagation": propagation, "live_keys": live}

    def failures(self, since: float = 0.0) -> list[dict[str, Any]]:
        """Every failed request of every service since SINCE."""
        return [r for svc in SERVICES for r in self.requests(svc, since) if not r["ok"]]

    def openbao_outage(self, seconds: float = 8.0) -> dict[str, Any]:
        """Stop OpenBao (no aigw process runs either) and watch services keep serving."""
        assert self.bao is not None
        self.bao.stop()
        t0 = time.time()
        time.sleep(seconds)
        served = sum(len(self.requests(svc, t0)) for svc in SERVICES)
        return {"seconds": seconds, "served": served, "failed": len(self.failures(t0))}

    def failover(self, provider: str = "alpha", down: float = 4.0,
                 settle: float = 7.0) -> dict[str, Any]:
        """Stop a provider (connections refused), then bring it back on the same port."""
        server = self.providers[provider]
        port = server.port
        server.stop()
        t0 = time.time()
        time.sleep(down)
        during = [r for r in self.requests("svc-1", t0) if r["t"] > t0 + 0.5]
        server.start(port=port)
        t1 = time.time()
        time.sleep(settle)
        after = [r for r in self.requests("svc-1", t1 + settle - 1.5)]
        return {
            "failed_during": sum(1 for r in during if not r["ok"]),
            "served_by_during": sorted({r.get("provider") for r in during if r["ok"]}),
            "served_by_after": sorted({r.get("provider") for r in after if r["ok"]}),
            "failed_total": len(self.failures(t0)),
        }

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
