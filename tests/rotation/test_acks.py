"""Consumer acknowledgements end to end (issue 18): the runtime writes them with the service's
own identity, rotation takes them as evidence for the manual driver, names who blocks it,
and `aigw status` shows the fleet.

Real OpenBao (the session dev server, a CAS-required mount), real `bao agent` processes
started in the folders `aigw render` wrote, logging in with AppRole; the services'
policies and roles are written from the stack's own spec (`environment_spec`, exactly
what `aigw apply` declares) with hvac, so no Pulumi engine is needed here. The LLM
provider is testing/fake_provider.py (OpenAI-compatible, parsed by the real client).
The client is `aigw.client.Client` over real HTTP.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import yaml
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from aigw.catalog import load_catalog
from aigw.client import Client
from aigw.client.acks import recorder
from aigw.client.keys import fingerprint
from aigw.render import render_all
from aigw.render_sync import sync
from aigw.rotation.progress import Timing
from aigw.rotation.runner import RotateOptions, rotate_keys
from aigw.stack.auth import approle_credentials
from aigw.stack.spec import environment_spec
from aigw.tools import find_bao
from tests.helpers import Result, run_cli, wait_for
from tests.rotation.conftest import kv_mount

pytestmark = pytest.mark.integration
assert kv_mount  # fixture

INTERVAL = 0.3  # the acks block's `interval`: one write per slot per 0.3 s




@dataclass
class Fleet:
    """Two services sharing one manual-driver slot, each with its own running agent."""

    root: Path
    repo: Path
    admin: hvac.Client
    bao: BaoDevServer
    mount: str
    provider: FakeProvider
    services: list[str]
    old: str
    agents: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)
    refresh: float | None = None  # the acks block's heartbeat `refresh`, when a test sets one

    def key_dir(self, svc: str) -> Path:
        return self.root / "keys" / svc

    def start_agent(self, svc: str) -> None:
        folder = self.repo / "rendered" / "prod" / svc
        creds = approle_credentials(self.admin, f"aigw-prod-{svc}")
        (folder / "role-id").write_text(creds.role_id)
        (folder / "secret-id").write_text(creds.secret_id)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        env["BAO_ADDR"] = self.bao.addr  # no token: the agent logs in by itself
        log = (folder / "agent.log").open("ab")
        self.agents[svc] = subprocess.Popen([str(find_bao()), "agent", "-config=bao-agent.hcl"],
                                            cwd=folder, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)
        token = self.key_dir(svc) / ".aigw-token"
        assert wait_for(token.exists), (folder / "agent.log").read_text()

    def stop_agent(self, svc: str) -> None:
        agent = self.agents.pop(svc)
        agent.terminate()
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()

    def key_fp(self, svc: str) -> str | None:
        path = self.key_dir(svc) / "fake.default.key"
        text = path.read_text().strip() if path.exists() else ""
        return fingerprint(text) if text else None

    def client(self, svc: str) -> Client:
        """The service's client, from the live config its agent keeps (acks every 0.3 s)."""
        if svc not in self.clients:
            live = self.key_dir(svc) / "aigw-client.json"
            assert wait_for(live.exists)
            doc = json.loads(live.read_text())
            doc["acks"]["interval"] = INTERVAL
            if self.refresh is not None:
                doc["acks"]["refresh"] = self.refresh
            mine = self.root / f"{svc}-client.json"
            mine.write_text(json.dumps(doc))
            self.clients[svc] = Client.from_file(mine, key_check_interval=0.05)
        return self.clients[svc]

    def call(self, svc: str, n: int = 3) -> None:
        for _ in range(n):
            reply = self.client(svc).chat.completions.create(
                model="m-fake", messages=[{"role": "user", "content": "hi"}])
            assert reply["choices"], reply

    def calls_until(self, services: list[str], done: Callable[[], bool],
                    timeout: float = 30.0) -> bool:
        """Each of SERVICES calls once, until DONE (their traffic carries the acks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for svc in services:
                self.call(svc, 1)
            if done():
                return True
            time.sleep(0.1)
        return False

    def reported_at(self, svc: str) -> float:
        """When SVC's latest instance report was made (0: none)."""
        doc = self.ack(svc) or {}
        return max((float(i["at"]) for i in (doc.get("instances") or {}).values()), default=0.0)

    def ack(self, svc: str) -> dict[str, Any] | None:
        try:
            got = self.admin.secrets.kv.v2.read_secret_version(
                path=f"prod/_aigw/acks/fake/default/{svc}", mount_point=self.mount,
                raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath:
            return None
        return dict(got["data"]["data"])

    def acked(self, svc: str, value: str) -> bool:
        doc = self.ack(svc)
        return doc is not None and doc.get("fingerprint") == fingerprint(value)

    def rotate(self, new: str | None = None, **options: Any) -> Any:
        def give(prompt: str, fields: Any) -> dict[str, str]:
            assert new is not None, "asked for a key"
            return {"api_key": new}

        return rotate_keys(load_catalog(self.repo), self.admin, RotateOptions(env="prod",
                           **options), secret_input=give,
                           timing=Timing(quiet=0.5, poll=0.1, wait=0.0))


@pytest.fixture
def fleet(tmp_path: Path, bao: BaoDevServer, kv_mount: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
    old = f"sk-fake-old-{secrets.token_hex(8)}"
    provider = FakeProvider("fake", [old]).start()
    tag = secrets.token_hex(3)
    services = [f"web-{tag}", f"batch-{tag}"]
    doc = {
        "version": 1,
        "environments": {"prod": {"mount": kv_mount, "agent_refresh": 1}},
        "providers": {"fake": {"api": "openai", "base_url": provider.base_url, "region": "us",
                               "rotation": {"driver": "manual", "grace": "2s"}}},
        "models": {"m-fake": {"routes": [{"provider": "fake", "model": "test-model"}]}},
        "services": {svc: {"environments": ["prod"], "models": ["m-fake"],
                           "key_dir": str(tmp_path / "keys" / svc)} for svc in services},
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    admin = bao.client()
    if "approle/" not in admin.sys.list_auth_methods()["data"]:
        admin.sys.enable_auth_method("approle")
    loaded = load_catalog(repo)
    spec = environment_spec(loaded.catalog, "prod")
    for pol in spec.policies:
        admin.sys.create_or_update_policy(name=pol.name, policy=pol.text)
    for role in spec.roles:
        admin.write_data(f"auth/{role.mount}/role/{role.name}", data=dict(role.params))
    for cfg in spec.configs:
        admin.secrets.kv.v2.create_or_update_secret(path=cfg.path, secret=cfg.data, cas=0,
                                                     mount_point=kv_mount)
    admin.secrets.kv.v2.create_or_update_secret(path="prod/providers/fake/default",
                                                 secret={"api_key": old}, cas=0,
                                                 mount_point=kv_mount)
    sync(repo / "rendered", render_all(loaded))
    f = Fleet(tmp_path, repo, admin, bao, kv_mount, provider, services, old)
    try:
        for svc in services:
            f.start_agent(svc)
        yield f
    finally:
        for svc in list(f.agents):
            f.stop_agent(svc)
        for c in f.clients.values():
            recorder(c).stop()
            c.close()
        provider.stop()
        for pol in spec.policies:
            admin.sys.delete_policy(pol.name)
        for role in spec.roles:
            admin.delete(f"auth/{role.mount}/role/{role.name}")


def test_acks_are_written_with_the_services_own_token_and_nothing_else(fleet: Fleet) -> None:
    web, batch = fleet.services
    fleet.call(web)
    assert wait_for(lambda: fleet.acked(web, fleet.old), timeout=20), fleet.ack(web)
    doc = fleet.ack(web)
    assert doc is not None
    revision = json.loads((fleet.key_dir(web) / "aigw-client.json").read_text())["revision"]
    assert doc["revision"] == revision
    (instance, report), = doc["instances"].items()
    assert instance.endswith(f":{os.getpid()}") and report["fingerprint"] == fingerprint(fleet.old)
    assert fleet.old not in json.dumps(doc), "a key value in an acknowledgement"
    assert fleet.ack(batch) is None, "batch made no call: it acknowledged nothing"

    # The token the runtime used is the agent's: this service's policy only.
    token = (fleet.key_dir(web) / ".aigw-token").read_text().strip()
    assert oct((fleet.key_dir(web) / ".aigw-token").stat().st_mode & 0o777) == "0o600"
    own = fleet.bao.client(token)
    assert own.auth.token.lookup_self()["data"]["policies"] == [f"aigw-prod-{web}"]

    def refused(method: str, path: str, **kw: Any) -> bool:
        try:
            getattr(own.adapter, method)(f"/v1/{fleet.mount}/{path}", **kw)
        except hvac.exceptions.Forbidden:
            return True
        return False

    body = {"options": {"cas": 0}, "data": {"fingerprint": "x"}}
    assert refused("post", f"data/prod/_aigw/acks/fake/default/{batch}", json=body)
    assert refused("post", f"data/prod/_aigw/acks/fake/other/{web}", json=body)
    assert refused("post", f"data/prod/_aigw/acks/fake/default/{web}-2", json=body)
    assert refused("get", f"data/prod/_aigw/acks/fake/default/{batch}")
    assert refused("get", "data/prod/_aigw/journal/fake/default")
    assert refused("post", "data/prod/providers/fake/default", json=body)
    assert refused("get", f"metadata/prod/_aigw/acks/fake/default/{web}")


def test_manual_rotation_completes_on_acknowledgements_alone(fleet: Fleet) -> None:
    web, batch = fleet.services
    for svc in fleet.services:
        fleet.call(svc)
    new = f"sk-fake-new-{secrets.token_hex(8)}"
    fleet.provider.add_key(new)
    started = fleet.rotate(new)
    assert [o.status for o in started.outcomes] == ["waiting"], started.as_dict()
    assert started.outcomes[0].state == "promoted"
    # each agent renders the new key; each service uses it
    assert wait_for(lambda: all(fleet.key_fp(s) == fingerprint(new) for s in fleet.services),
                     timeout=30)
    assert fleet.calls_until(fleet.services,
                             lambda: all(fleet.acked(s, new) for s in fleet.services))
    time.sleep(0.6)  # the quiet period after promotion (Timing.quiet)
    done = fleet.rotate(resume=True)  # no --finish
    out = done.outcomes[0]
    assert out.status == "done", done.as_dict()
    assert out.state == "old_left_to_operator" or "left to the operator" in out.message
    entry = fleet.admin.secrets.kv.v2.read_secret_version(
        path="prod/_aigw/journal/fake/default", mount_point=fleet.mount,
        raise_on_deleted_version=True)["data"]["data"]
    assert "acknowledged the new key" in json.dumps(entry), entry


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def _cli(capsys: Any, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setattr("sys.stdin", _Stdin(""))
    return run_cli(capsys, *args)


def test_a_service_on_the_old_key_blocks_revocation_and_is_named(
        fleet: Fleet, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    web, batch = fleet.services
    fleet.refresh = 5.0  # heartbeats every 5 s: batch reports its (old) key again after promotion
    fleet.call(web)
    fleet.call(batch)
    fleet.stop_agent(batch)  # batch's key file stays on the old key
    new = f"sk-fake-new-{secrets.token_hex(8)}"
    fleet.provider.add_key(new)
    assert fleet.rotate(new).outcomes[0].state == "promoted"
    promoted = time.time()  # after the journal's promotion: a later report is a veto
    assert wait_for(lambda: fleet.key_fp(web) == fingerprint(new), timeout=30)
    # batch keeps working on the old key, and says so after the promotion.
    assert fleet.calls_until([web, batch], lambda: fleet.acked(web, new)
                             and fleet.acked(batch, fleet.old)
                             and fleet.reported_at(batch) > promoted)
    time.sleep(2.2)  # past the 2 s grace: even --finish must not revoke

    repo = str(fleet.repo)
    text = _cli(capsys, monkeypatch, "rotate-keys", repo, "--finish", "--yes")
    assert text.code == 0, text
    assert f"prod/fake/default: waiting [promoted]: still on the old key after promotion: " \
           f"{batch}" in text.out, text.out
    assert web not in text.out.split("still on the old key")[1].split("\n")[0]
    doc = json.loads(_cli(capsys, monkeypatch, "rotate-keys", repo, "--finish", "--yes",
                          "--json").out)
    slot, = doc["slots"]
    assert slot["status"] == "waiting" and slot["blocked_by"] == [batch]

    # The fleet view says the same, per service.
    status = _cli(capsys, monkeypatch, "status", repo)
    assert status.code == 0, status
    lines = status.out.splitlines()
    web_at = lines.index(next(x for x in lines if x.startswith(f"prod/{web}  revision ")))
    batch_at = lines.index(next(x for x in lines if x.startswith(f"prod/{batch}  revision ")))
    assert "fake/default: key " + fingerprint(new) + ", acknowledged" in lines[web_at + 1]
    assert "current key, current revision" in lines[web_at + 2] and "s ago" in lines[web_at + 2]
    assert "NOT acknowledged" in lines[batch_at + 1]
    assert f"OLD key {fingerprint(fleet.old)}" in lines[batch_at + 2]
    fleet_json = json.loads(_cli(capsys, monkeypatch, "status", repo, "--json").out)
    by = {s["service"]: s["slots"][0] for s in fleet_json["services"]}
    assert by[web]["acknowledged"] and not by[batch]["acknowledged"]
    assert isinstance(by[batch]["instances"][0]["age_seconds"], (int, float))
    assert fleet.old not in status.out + json.dumps(fleet_json) and new not in status.out

    # batch moves: its agent renders the new key, its next calls acknowledge it.
    fleet.start_agent(batch)
    assert wait_for(lambda: fleet.key_fp(batch) == fingerprint(new), timeout=30)
    assert fleet.calls_until([batch], lambda: fleet.acked(batch, new))
    time.sleep(0.6)
    done = fleet.rotate(resume=True)
    assert done.outcomes[0].status == "done", done.as_dict()


def test_status_without_openbao_is_one_line_and_exit_3(
        tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unreachable OpenBao is exit 3 in every command, `status` too (it was 2); the hint
    names BAO_ADDR when it is set, and `aigw dev up` only when it is not."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "aigw.yaml").write_text(yaml.safe_dump({
        "version": 1, "environments": {"prod": {}},
        "providers": {"p": {"api": "openai", "base_url": "http://127.0.0.1:9", "region": "us"}},
        "models": {"m": {"routes": [{"provider": "p", "model": "x"}]}},
        "services": {"s": {"environments": ["prod"], "models": ["m"]}}}))
    with BaoDevServer() as gone:
        addr = gone.addr
    monkeypatch.setenv("BAO_ADDR", addr)
    monkeypatch.setenv("BAO_TOKEN", "test-token")
    monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
    result = _cli(capsys, monkeypatch, "status", str(repo))
    assert result.code == 3, result
    assert result.err.strip().count("\n") == 0, result.err
    assert f"OpenBao unreachable at {addr}" in result.err
    assert f"(hint: BAO_ADDR is {addr}:" in result.err and "dev up" not in result.err
    monkeypatch.delenv("BAO_ADDR")  # and no dev server in AIGW_HOME
    result = _cli(capsys, monkeypatch, "status", str(repo))
    assert result.code == 3 and result.err.strip().count("\n") == 0, result
    assert "no OpenBao address configured" in result.err and "aigw dev up" in result.err
