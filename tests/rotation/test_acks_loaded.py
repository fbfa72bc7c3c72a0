"""Acknowledgements v2 end to end: a fallback-only consumer (issue 26).

`batch` reaches the rotated slot (fake/default) only as a fallback behind its own
provider (alt), and never calls it. Its runtime still reports the key it has
*loaded* from the file its agent renders; rotation takes that as evidence for a
slot the service never called, and completes on it, while `batch` never reports
a *use* it did not make.

Real OpenBao (the session dev server), real `bao agent` processes logging in with
AppRole in the folders `aigw render` wrote, the services' policies and roles from
the stack's own spec (as tests/rotation/test_acks.py). The LLM providers are
testing/fake_provider.py (OpenAI-compatible stand-ins) reached over real HTTP by
`aigw.client.Client`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from aigw.catalog import load_catalog
from aigw.client.acks import recorder
from aigw.client.keys import fingerprint
from aigw.render import render_all
from aigw.render_sync import sync
from aigw.stack.spec import environment_spec
from tests.helpers import wait_for
from tests.rotation.conftest import kv_mount
from tests.rotation.test_acks import Fleet

pytestmark = pytest.mark.integration
assert kv_mount  # fixture


class FallbackFleet(Fleet):
    """`web` calls m-fake (the rotated slot); `batch` calls m-alt (alt, then fake)."""

    alt: FakeProvider

    def call(self, svc: str, n: int = 3) -> None:
        model = "m-fake" if svc == self.services[0] else "m-alt"
        for _ in range(n):
            reply = self.client(svc).chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}])
            assert reply["choices"], reply

    def report(self, svc: str) -> dict[str, Any]:
        """batch's one instance report for fake/default ({} before any)."""
        doc = self.ack(svc) or {}
        instances = list((doc.get("instances") or {}).values())
        return instances[0] if len(instances) == 1 else {}


@pytest.fixture
def fleet(tmp_path: Path, bao: BaoDevServer, kv_mount: str,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[FallbackFleet]:
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path / "home"))
    old = f"sk-fake-old-{secrets.token_hex(8)}"
    alt_key = f"sk-alt-{secrets.token_hex(8)}"
    provider = FakeProvider("fake", [old]).start()
    alt = FakeProvider("alt", [alt_key]).start()
    tag = secrets.token_hex(3)
    web, batch = services = [f"web-{tag}", f"batch-{tag}"]
    models = {web: ["m-fake"], batch: ["m-alt"]}
    doc = {
        "version": 1,
        "environments": {"prod": {"mount": kv_mount, "agent_refresh": 1}},
        "providers": {
            "fake": {"api": "openai", "base_url": provider.base_url, "region": "us",
                     "rotation": {"driver": "manual", "grace": "2s"}},
            "alt": {"api": "openai", "base_url": alt.base_url, "region": "us"}},
        "models": {"m-fake": {"routes": [{"provider": "fake", "model": "test-model"}]},
                   "m-alt": {"routes": [{"provider": "alt", "model": "alt-model"},
                                        {"provider": "fake", "model": "test-model"}]}},
        "services": {svc: {"environments": ["prod"], "models": models[svc],
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
    for name, key in (("fake", old), ("alt", alt_key)):
        admin.secrets.kv.v2.create_or_update_secret(path=f"prod/providers/{name}/default",
                                                     secret={"api_key": key}, cas=0,
                                                     mount_point=kv_mount)
    sync(repo / "rendered", render_all(loaded))
    f = FallbackFleet(tmp_path, repo, admin, bao, kv_mount, provider, services, old)
    f.alt = alt
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
        alt.stop()
        for pol in spec.policies:
            admin.sys.delete_policy(pol.name)
        for role in spec.roles:
            admin.delete(f"auth/{role.mount}/role/{role.name}")


def test_rotation_completes_on_loaded_evidence_of_a_fallback_only_consumer(
        fleet: FallbackFleet) -> None:
    web, batch = fleet.services
    old_fp = fingerprint(fleet.old)
    fleet.call(web)
    fleet.call(batch)  # served by alt: batch never calls fake
    assert wait_for(lambda: fleet.report(batch).get("loaded") == old_fp, timeout=20), \
        fleet.ack(batch)
    assert fleet.report(batch)["used"] == "" and fleet.ack(batch)["fingerprint"] == ""
    assert fleet.ack(batch)["format"] == 2

    # batch's agent is down: its runtime keeps the old key loaded, and says so.
    fleet.stop_agent(batch)
    new = f"sk-fake-new-{secrets.token_hex(8)}"
    fleet.provider.add_key(new)
    started = fleet.rotate(new, provider="fake").outcomes
    assert [(o.slot, o.state) for o in started] == [("prod/fake/default", "promoted")]
    assert wait_for(lambda: fleet.key_fp(web) == fingerprint(new), timeout=30)
    assert fleet.calls_until([web], lambda: fleet.acked(web, new))
    time.sleep(0.6)  # the quiet period after promotion (Timing.quiet)
    blocked, = fleet.rotate(resume=True, provider="fake").outcomes
    assert blocked.status == "waiting" and batch in blocked.message, blocked

    # batch's agent renders the new key; the runtime loads it without a single call to fake.
    fleet.start_agent(batch)
    assert wait_for(lambda: fleet.key_fp(batch) == fingerprint(new), timeout=30)
    assert wait_for(lambda: fleet.report(batch).get("loaded") == fingerprint(new), timeout=20)
    done, = fleet.rotate(resume=True, provider="fake").outcomes
    assert done.status == "done", done
    # never a use batch did not make
    assert fleet.report(batch)["used"] == "" and fleet.ack(batch)["fingerprint"] == ""
    assert fleet.old not in str(fleet.ack(batch)) and new not in str(fleet.ack(batch))
