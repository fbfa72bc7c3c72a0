"""Two runs can never rotate one slot; an OpenBao restart mid-rotation resumes.

Processes are real (forked from the zygote, see zygote.py). The provider is the
OpenAI stand-in (testing/openai_admin.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import hvac
import pytest
from testing.bao import BaoDevServer
from testing.openai_admin import OpenAIAdminServer

from aigw.slots.audit import AuditLog
from aigw.slots.journal import Journal
from aigw.slots.kv import KV
from tests.rotation.conftest import (
    PROJECT,
    Consumer,
    child_env,
    openai_provider,
    read_slot,
    seed,
    write_catalog,
)
from tests.rotation.persistent_bao import PersistentBao
from tests.rotation.test_crash import check_bookkeeping

SLOT = "prod/providers/openai/default"
JOURNAL = "prod/_aigw/journal/openai/default"


@pytest.mark.integration
def test_twenty_concurrent_runs_one_rotates(zygote: Any, bao: BaoDevServer, kv_mount: str,
                                            admin_server: OpenAIAdminServer,
                                            tmp_path: Path) -> None:
    client = bao.client()
    folder = write_catalog(tmp_path / "cat", kv_mount,
                           {"openai": openai_provider(admin_server.url)})
    old_acct, old = admin_server.create_account(PROJECT, "legacy")
    seed(client, kv_mount, SLOT, {"api_key": old})
    env = child_env(bao.addr, bao.token, tmp_path)
    argv = ["rotate-keys", str(folder), "--env", "prod", "--yes", "--wait", "60s"]
    runs = [zygote.start(argv, env) for _ in range(20)]
    # The winner holds the lock while it waits for evidence (no consumer yet): every
    # other run ends meanwhile. Then a consumer moves and the winner finishes.
    deadline = time.monotonic() + 60
    while sum(r.ended.is_set() for r in runs) < 19 and time.monotonic() < deadline:
        time.sleep(0.05)
    losers = [r.wait(1) for r in runs if r.ended.is_set()]
    assert len(losers) == 19
    for r in losers:
        assert r.code == 1, r.err
        assert "rotation in progress by run" in r.err and "lock until" in r.err
    with Consumer(client, kv_mount, SLOT,
                  lambda d: admin_server.use(d["api_key"]) == 200) as consumer:
        winner = next(r for r in runs if not r.ended.is_set()).wait(60)
    assert winner.code == 0, winner.err
    consumer.assert_clean()
    new = (read_slot(client, kv_mount, SLOT) or {})["api_key"]
    live = admin_server.live_keys(PROJECT)
    assert [k.value for k in live] == [new]
    assert len(admin_server.accounts) == 1
    records = AuditLog(KV(client, kv_mount), "prod/_aigw").verify().records
    assert len({r["run_id"] for r in records}) == 1
    assert sum(r["to_state"] == "minted" for r in records) == 1
    check_bookkeeping(client, kv_mount, "openai", new, str(live[0].account_id), old_acct)


@pytest.mark.integration
@pytest.mark.slow
def test_openbao_restart_mid_rotation_resumes(zygote: Any, admin_server: OpenAIAdminServer,
                                              tmp_path: Path) -> None:
    """A disk-backed (non-dev, raft) OpenBao goes away while a run waits, and comes back."""
    with PersistentBao(tmp_path / "bao") as server:
        client = server.client()
        client.sys.enable_secrets_engine("kv", path="aigw", options={"version": "2"})
        for _ in range(100):  # a new KV v2 mount upgrades itself for a moment first
            try:
                client.secrets.kv.v2.configure(max_versions=10, cas_required=True,
                                               mount_point="aigw")
                break
            except hvac.exceptions.InvalidRequest:
                time.sleep(0.1)
        folder = write_catalog(tmp_path / "cat", "aigw",
                               {"openai": openai_provider(admin_server.url)})
        old_acct, old = admin_server.create_account(PROJECT, "legacy")
        seed(client, "aigw", SLOT, {"api_key": old})
        env = child_env(server.addr, server.token, tmp_path)
        argv = ["rotate-keys", str(folder), "--env", "prod", "--yes", "--wait", "60s"]
        first = zygote.start(argv, env)
        deadline = time.monotonic() + 30
        kv = KV(client, "aigw")
        while time.monotonic() < deadline:
            entry = Journal(kv, JOURNAL, "x").load()
            if entry is not None and entry.state == "promoted":
                break
            time.sleep(0.05)
        server.stop()  # the run is waiting for evidence: its next poll fails
        crashed = first.wait(30)
        assert crashed.code == 3, crashed.err
        assert "OpenBao" in crashed.err and old not in crashed.err
        server.start()
        client = server.client()
        entry = Journal(KV(client, "aigw"), JOURNAL, "x").load()
        assert entry is not None and entry.state == "promoted"  # the data survived
        with Consumer(client, "aigw", SLOT,
                      lambda d: admin_server.use(d["api_key"]) == 200) as consumer:
            resumed = zygote.run(argv + ["--resume"], env, timeout=60)
        assert resumed.code == 0, resumed.err
        consumer.assert_clean()
        assert "took over a stale lock (holder died" in resumed.err
        new = (read_slot(client, "aigw", SLOT) or {})["api_key"]
        live = admin_server.live_keys(PROJECT)
        assert [k.value for k in live] == [new] and not admin_server.valid(old)
        check_bookkeeping(client, "aigw", "openai", new, str(live[0].account_id), old_acct)
