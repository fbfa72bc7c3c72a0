"""aigw against a three-node OpenBao raft cluster whose leader is killed mid-operation.

Real `bao server` nodes with integrated storage (tests/cluster/raft.py), the
real Pulumi engine, `aigw` as processes; the OpenAI admin API stand-in plays
the provider of the rotated key. aigw talks to one address: a standby forwards
requests to the active node, so any surviving node will do. A run whose leader
died fails (or rides through the election); rerun against a surviving node, it
converges: the stack holds exactly the catalog and a refreshed plan is a no-op;
the rotation ends with one live key, the old one revoked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import hvac
import pytest
import yaml
from testing.openai_admin import OpenAIAdminServer

from aigw.catalog import load_catalog
from aigw.context import EngineSettings
from aigw.stack import run
from aigw.vault import VaultSettings
from tests.cluster.raft import Node, RaftCluster, when
from tests.rotation.conftest import ADMIN_KEY, PROJECT, openai_provider, write_catalog
from tests.stack.conftest import EXAMPLES, PASSPHRASE
from tests.stack.vaultstate import assert_holds_exactly

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def cluster() -> Iterator[RaftCluster]:
    with RaftCluster() as c:
        yield c


def _env(cluster: RaftCluster, node: Node, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BAO_", "VAULT_", "PULUMI_BACKEND", "PULUMI_CONFIG"))}
    env.update(BAO_ADDR=node.addr, BAO_TOKEN=cluster.token, AIGW_HOME=str(tmp_path / "home"),
               PULUMI_BACKEND_URL=f"file://{tmp_path / 'backend'}",
               PULUMI_CONFIG_PASSPHRASE=PASSPHRASE, OPENAI_ADMIN_KEY=ADMIN_KEY,
               AIGW_ROTATE_QUIET="0.15", AIGW_ROTATE_POLL="0.03")
    (tmp_path / "backend").mkdir(exist_ok=True)
    return env


def _aigw(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aigw", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _eventually(check: Callable[[], bool], timeout: float = 120) -> None:
    """Retry CHECK (which asserts) until it passes; its last failure is the test's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            check()
            return
        except Exception:  # noqa: BLE001 - not there yet
            time.sleep(0.5)
    check()


def _catalog(tmp_path: Path, services: int) -> Path:
    folder = tmp_path / "catalog"
    folder.mkdir()
    data = yaml.safe_load((EXAMPLES / "aigw.yaml").read_text())
    for i in range(services):
        data["services"][f"svc-{i}"] = {"environments": ["prod"], "models": ["gpt-4o"],
                                        "keys": "per-service"}
    (folder / "aigw.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _aigw_policies(client: hvac.Client) -> int:
    return sum(1 for p in client.sys.list_acl_policies()["data"]["keys"]
               if p.startswith("aigw-"))


def test_apply_converges_after_the_leader_is_killed(cluster: RaftCluster,
                                                    tmp_path: Path) -> None:
    folder = _catalog(tmp_path, services=200)
    old = cluster.leader()
    assert old is not None
    survivor = cluster.followers()[0]
    env = _env(cluster, survivor, tmp_path)
    proc = _aigw(env, "apply", str(folder), "--yes")
    probe = cluster.client(survivor)
    killed = when(lambda: _aigw_policies(probe) >= 20, proc)
    assert killed, proc.communicate()[1]
    cluster.kill(old)
    proc.communicate(timeout=600)  # fails or rides through the election: either is fine
    new = cluster.wait_for_leader(not_=old)
    assert new is not old

    rerun = _aigw(env, "apply", str(folder), "--yes")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    vault = VaultSettings(addr=survivor.addr, token=cluster.token)
    engine = EngineSettings(backend_url=env["PULUMI_BACKEND_URL"],
                            passphrase_env={"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
    lines: list[str] = []
    plan = run.plan(folder, echo=lines.append, refresh=True, vault=vault, engine=engine)
    assert not any(r.changed for r in plan), lines
    catalog = load_catalog(folder).catalog
    assert_holds_exactly(cluster.client(survivor), catalog, catalog.environments)
    cluster.start(old)  # the old leader comes back as a follower and catches up

    def caught_up() -> bool:
        assert_holds_exactly(cluster.client(old), catalog, catalog.environments)
        return True

    _eventually(caught_up)


def test_rotation_converges_after_the_leader_is_killed(cluster: RaftCluster,
                                                       tmp_path: Path) -> None:
    """The rotation talks to the leader itself; after its death it reruns on a survivor."""
    with OpenAIAdminServer(ADMIN_KEY) as admin:
        folder = write_catalog(tmp_path / "cat", "aigw", {"openai": openai_provider(
            admin.url, grace="2s")})
        leader = cluster.leader()
        assert leader is not None
        env = _env(cluster, leader, tmp_path)
        setup = _aigw(env, "apply", str(folder), "--yes")
        assert setup.wait(600) == 0
        _, old = admin.create_account(PROJECT, "legacy-app-key")
        put = subprocess.run([sys.executable, "-m", "aigw", "keys", "put", "openai/default",
                              str(folder), "--env", "prod"], env=env,
                             input=old, text=True, capture_output=True, timeout=120)
        assert put.returncode == 0, put.stderr
        survivor = cluster.followers()[0]
        probe = cluster.client(survivor)
        proc = _aigw(env, "rotate-keys", str(folder), "--env", "prod", "--yes",
                     "--wait", "20s")
        journal = "prod/_aigw/journal/openai/default"

        def started() -> bool:
            probe.secrets.kv.v2.read_secret_version(journal, mount_point="aigw",
                                                    raise_on_deleted_version=True)
            return True

        assert when(started, proc), proc.communicate()
        cluster.kill(leader)
        proc.communicate(timeout=120)
        cluster.wait_for_leader(not_=leader)

        env = _env(cluster, survivor, tmp_path)
        for args in (("--yes", "--wait", "20s"), ("--finish", "--yes")):
            rerun = _aigw(env, "rotate-keys", str(folder), "--env", "prod", *args)
            out, err = rerun.communicate(timeout=300)
            assert rerun.returncode in (0, 1), err
        slot = probe.secrets.kv.v2.read_secret_version(
            "prod/providers/openai/default", mount_point="aigw",
            raise_on_deleted_version=True)["data"]["data"]
        live = admin.live_keys(PROJECT)
        assert [k.value for k in live] == [slot["api_key"]] and slot["api_key"] != old
        assert not admin.valid(old)
        for text in (out, err, put.stdout, put.stderr):
            assert old not in text and slot["api_key"] not in text
