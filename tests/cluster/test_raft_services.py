"""Services under load against a three-node OpenBao raft cluster whose leader is killed.

One lab (testing.lab: two OpenAI stand-ins, `aigw apply` through the real Pulumi
engine, `aigw keys put`, `aigw render`, one real `bao agent` per service, three
services calling through `aigw.client` and logging every attempt) runs on a
real raft cluster (tests/cluster/raft.py) instead of its dev server; the
scenarios share it, in order:

- config change: the leader is SIGKILLed during `aigw apply` of a catalog change
  (chat-ba's model; apply publishes every service's config, so this is also the
  "config change" case); apply is rerun against a survivor and must exit 0, the
  new revision must reach every service it touches, and `live_check` must find
  nothing wrong; a rotation afterwards reaches every service too;
- rotation: the leader is SIGKILLed during `aigw rotate-keys`, once before the
  new key is promoted and once after (the state is read from the alpha slot's
  journal on a surviving node); rotate-keys is rerun (no `--finish`: the old key
  goes on evidence that consumers moved) until it exits 0; then exactly one key
  per provider is live, the old one is revoked and every service runs on the
  new one; a config change applied afterwards reaches every service too.

Reruns run on the two survivors; once a scenario converged there (new keys or
config in every service's files) the killed node is restarted (it rejoins as a
follower), so the next step has three nodes again.

The lab, its agents and every aigw command address ONE node, kept out of the
leader's seat before each kill (`move_leader_off`), so it is never the node
killed. A real deployment puts the nodes behind one address (a load balancer or
DNS name); a raft standby forwards every request to the active node. "Agents
follow the new leader" therefore means: an agent keeps rendering, through its
node, after the election; each kill is followed by a new config (the rerun
apply, or the change after a rotation) and new keys (the rerun rotation, or the
rotation after the apply) in every service's files. No
request may fail and no attempt may get a 401/403 (`Traffic.clean_problems`
over the whole run, after each scenario).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from testing.lab import CONSUMERS, PROVIDERS, SERVICES, Lab

from aigw.catalog import load_catalog
from aigw.slots.targets import select_targets
from tests.cluster.raft import Node, RaftCluster, when

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RERUNS = 5  # a rerun right after an election may still find the cluster settling
BEFORE_PROMOTION = ("minted", "staged", "verified")
AFTER_PROMOTION = ("promoted", "propagated")


@dataclass
class Rig:
    """The cluster, the node the lab talks to, the lab, and what each scenario killed."""

    cluster: RaftCluster
    node: Node
    lab: Lab
    started: float
    kills: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with RaftCluster() as cluster:
        node = cluster.followers()[0]
        root = tmp_path_factory.mktemp("raft-services") / "lab"
        with Lab(root, say=lambda _: None, bao=cluster.endpoint(node)) as lab:
            started = min(r["t"] for svc in SERVICES for r in lab.requests(svc))
            rig = Rig(cluster, node, lab, started)
            yield rig
            print("kills:", rig.kills)
            print("whole run:", lab.traffic(started, time.time()).line())


def _heal(rig: Rig) -> None:
    """Start any node a failed scenario left dead: each scenario begins with three nodes."""
    for node in rig.cluster.nodes:
        if not node.running:
            rig.cluster.start(node)
    rig.lab.wait_until(lambda: len(rig.cluster.peers()) == 3, "three raft voters")


def _kill_leader_when(rig: Rig, what: str, proc: subprocess.Popen[bytes],
                      trigger: Callable[[], bool]) -> dict[str, Any]:
    """SIGKILL the leader once TRIGGER holds while PROC runs; wait for PROC and a new leader.
    What happened, for the report; the killed node stays down until `_heal`."""
    leader = rig.cluster.leader()
    assert leader is not None and leader is not rig.node
    assert when(trigger, proc), f"{what}: the process ended before the leader was killed"
    rig.cluster.kill(leader)
    code = proc.wait(600)  # it fails or rides through the election: either is fine
    new = rig.cluster.wait_for_leader(not_=leader)
    kill = {"during": what, "killed": f"node{leader.index}", "new_leader": f"node{new.index}",
            "first_run_exit": code, "reruns": 0}
    rig.kills.append(kill)
    return kill


def _rerun(kill: dict[str, Any], lab: Lab,
           args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Rerun aigw until it exits 0 (at most RERUNS times); the last run."""
    for _ in range(RERUNS):
        kill["reruns"] += 1
        proc = lab.run_aigw(*args, check=False)
        if proc.returncode == 0:
            return proc
    raise AssertionError(f"aigw {args[0]} never exited 0 on rerun: {proc.stderr[-2000:]}")


def _switch_model(tag: str) -> Callable[[dict[str, Any]], None]:
    """An edit: chat-ba's first route (beta) asks for model m-beta-TAG (svc-2, svc-3 change;
    every alias keeps its first provider, so each slot keeps its consumers)."""
    def edit(doc: dict[str, Any]) -> None:
        doc["models"]["chat-ba"]["routes"][0]["model"] = f"m-beta-{tag}"
    return edit


def _files_follow(rig: Rig) -> None:
    """Every service's files hold the key each slot holds now and its published config."""
    lab = rig.lab
    slots = lab.slot_fps()
    lab.wait_until(lambda: all(fps == slots for fps in lab.file_fps().values()),
                   f"key files never reached {slots}: {lab.file_fps()}")
    published = {svc: p.revision for svc, p in lab.published().items()}
    lab.wait_until(lambda: lab.file_revisions() == published,
                   f"live configs never reached {published}: {lab.file_revisions()}")


def _config_follows(rig: Rig, what: str, tag: str) -> None:
    """A catalog change applied after the kill reaches every service it touches."""
    lab = rig.lab
    change = lab.change_catalog(what, _switch_model(tag))
    lab.wait_live(change)
    assert change.changed == ["svc-2", "svc-3"], change
    end = lab.wait_served(10)
    assert lab.live_check(change, end) == [], lab.live_check(change, end)
    _files_follow(rig)


def _live_keys(lab: Lab) -> dict[str, list[str]]:
    """Each provider's live key values at the fake provider."""
    return {name: [k.value for k in server.live_keys(f"proj-{name}")]
            for name, server in lab.providers.items()}


def _rotated(rig: Rig, rot: dict[str, Any], old: dict[str, list[str]]) -> None:
    """One live key per provider, the slot's; every old one revoked; every service on it."""
    lab = rig.lab
    assert sorted(rot["propagation"]) == sorted(f"{s}->{p}" for s, p in CONSUMERS)
    new = lab.slot_fps()
    for name, server in lab.providers.items():
        assert rot["live_keys"][name] == [new[name]], (name, rot["live_keys"])
        assert not any(server.valid(value) for value in old[name]), name
    _files_follow(rig)


def _keys_follow(rig: Rig) -> None:
    """A rotation after the kill (no fault) reaches every service's key files."""
    old = _live_keys(rig.lab)
    _rotated(rig, rig.lab.rotate_all("60s"), old)


def _no_failures(rig: Rig) -> None:
    lab = rig.lab
    whole = lab.traffic(rig.started, lab.wait_served(10))
    assert whole.clean_problems() == [], whole.clean_problems()
    assert lab.failures() == []


def test_apply_converges_after_the_leader_is_killed(rig: Rig) -> None:
    lab, cluster = rig.lab, rig.cluster
    _heal(rig)
    cluster.move_leader_off(rig.node)
    args = ("apply", str(lab.root), "--yes")

    def apply() -> str:
        proc = lab.spawn_aigw("apply-killed", *args)
        out = lab.root / "logs" / "apply-killed.out"
        # "applying" is printed before the engine refreshes and writes anything
        kill = _kill_leader_when(rig, "apply", proc, lambda: "applying" in out.read_text())
        return _rerun(kill, lab, args).stdout

    change = lab.change_catalog("switch chat-ba's model during a leader kill",
                                _switch_model("killed"), apply=apply)
    lab.wait_live(change)
    assert change.changed == ["svc-2", "svc-3"], change
    end = lab.wait_served(20)
    assert lab.live_check(change, end) == [], lab.live_check(change, end)
    _files_follow(rig)
    _heal(rig)
    _keys_follow(rig)
    _no_failures(rig)


@pytest.mark.parametrize("states", [BEFORE_PROMOTION, AFTER_PROMOTION],
                         ids=["before-promotion", "after-promotion"])
def test_rotation_converges_after_the_leader_is_killed(rig: Rig,
                                                       states: tuple[str, ...]) -> None:
    lab, cluster = rig.lab, rig.cluster
    _heal(rig)
    cluster.move_leader_off(rig.node)
    old = _live_keys(lab)
    alpha = next(t for t in select_targets(load_catalog(lab.root).catalog, "prod")
                 if t.ref.provider == PROVIDERS[0])
    probe = cluster.client(rig.node)  # a survivor: the lab's node is never the one killed
    seen: list[str] = []

    def state() -> bool:
        entry = probe.secrets.kv.v2.read_secret_version(
            alpha.journal_path, mount_point=alpha.mount, raise_on_deleted_version=True)
        seen.append(str(entry["data"]["data"]["state"]))
        return seen[-1] in states

    def run(args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        proc = lab.spawn_aigw(f"rotate-killed-{states[0]}", *args)
        kill = _kill_leader_when(rig, "rotate-keys", proc, state)
        kill["journal_state"] = seen[-1]
        return _rerun(kill, lab, args)

    rot = lab.rotate_all("60s", run=run)
    assert seen[-1] in states
    _rotated(rig, rot, old)
    _heal(rig)
    _config_follows(rig, f"switch chat-ba's model after a kill at {seen[-1]}", seen[-1])
    _no_failures(rig)
