"""A Node.js service in the lab, through the official `openai` SDK over @aigw/client.

The lab (testing/lab.py) with svc-3 running as testing/node_service.mjs instead of
the Python demo service: real OpenBao dev server, real Pulumi engine (`aigw
apply`), real `bao agent` processes writing key files and the live
aigw-client.json, real HTTP. The LLM providers are local OpenAI stand-ins
(testing.openai_admin), because the real APIs are out of reach from tests.

Under load: every key rotated (`aigw rotate-keys`, old keys revoked), a model
switch applied live, OpenBao stopped, a provider stopped and brought back.
Checked attempt by attempt from the Node service's own log (the same JSON lines
the Python services write): no failed request, no attempt answered 401/403, the
same PID throughout. Key and config propagation times are printed, never asserted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from testing.lab import Lab

ROOT = Path(__file__).resolve().parents[2]
NODE = "svc-3"  # calls both aliases, so it sees both providers first


def switch_model(doc: dict[str, Any]) -> None:
    """chat-ba's first route (beta) asks for another model."""
    doc["models"]["chat-ba"]["routes"][0]["model"] = "m-beta-2"


def _build_node_client() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed (the Node service needs Node >= 20)")
    subprocess.run(["bash", str(ROOT / "scripts" / "install-node-client.sh")], check=True,
                   timeout=600)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT / "clients" / "typescript",
                   check=True, timeout=600)


@pytest.mark.integration
@pytest.mark.slow
def test_node_service_through_rotation_switch_outage_and_failover(tmp_path: Path) -> None:
    _build_node_client()
    with Lab(tmp_path / "lab", say=lambda _: None, runtimes={NODE: "node"}) as lab:
        pid = lab.services[NODE].pid
        start = next(r for r in lab.records(NODE) if r.get("event") == "start")
        assert start["pid"] == pid  # the node process itself logs
        started = min(r["t"] for r in lab.requests(NODE))
        lab.wait_served(30)

        rot = lab.rotate_all(wait="60s")
        assert [s["status"] for s in rot["summary"]["slots"]] == ["done", "done"], rot["summary"]
        node_prop = {k: v for k, v in rot["propagation"].items() if k.startswith(NODE)}
        assert sorted(node_prop) == [f"{NODE}->alpha", f"{NODE}->beta"], rot["propagation"]
        settled = lab.wait_served(40)  # old keys revoked: a stale key would get a 401 here
        rotation = lab.traffic(rot["window"][0], settled)
        assert rotation.clean_problems() == [], rotation.clean_problems()

        change = lab.change_catalog("switch chat-ba to another beta model", switch_model)
        assert NODE in change.changed, change.changed
        live = lab.wait_live(change)
        settled = lab.wait_served(30)
        assert lab.live_check(change, settled) == []
        models = {r["model"] for r in lab.requests(NODE, change.started)
                  if r["ok"] and r["alias"] == "chat-ba" and r.get("rev") == change.after[NODE]}
        assert models == {"m-beta-2"}, models

        outage = lab.openbao_outage(seconds=4, count=30)
        assert outage["traffic"].clean_problems() == [], outage["traffic"].clean_problems()

        fo = lab.failover("alpha", count=10)
        assert fo["problems"] == [], fo["problems"]

        whole = lab.traffic(started, time.time())
        node = whole.by_service[NODE]
        node_attempts = [a for r in node for a in r["attempts"]]
        print("node service:", json.dumps({
            "requests": len(node), "failed": sum(1 for r in node if not r["ok"]),
            "auth_failures": sum(1 for a in node_attempts if a["outcome"] in ("http_401", "http_403")),
            "key_propagation_s": node_prop, "config_propagation_s": live.get(NODE),
            "failover_recovered_after_s": fo["recovered_after"].get(NODE)}))
        assert node and all(r["ok"] for r in node), [r for r in node if not r["ok"]][:3]
        assert not [a for a in node_attempts if a["outcome"] in ("http_401", "http_403")]
        assert lab.service_pids()[NODE] == pid
        assert lab.services[NODE].poll() is None
