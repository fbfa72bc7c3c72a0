"""The whole story under load, with real parts: rotation, outage, failover.

Real OpenBao dev server, real Pulumi engine (`aigw apply`), real `bao agent`
processes, real HTTP. The LLM providers are local OpenAI stand-ins
(testing.openai_admin: inference plus the admin API the openai-admin
driver uses), because the real APIs are out of reach from tests.

Checked attempt by attempt (testing.demo_service logs every try of every
request): every alias has two providers, so a request that was answered by
the fallback after a 401 is a broken rotation, not a success. No wall-clock
thresholds: every wait is event-based with a generous timeout, rates are
compared with each service's own rate, and propagation times are printed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from testing.lab import CONSUMERS, SERVICES, Lab


@pytest.mark.integration
@pytest.mark.slow
def test_rotation_under_load_outage_and_failover(tmp_path: Path) -> None:
    with Lab(tmp_path / "lab", say=lambda _: None) as lab:
        started = min(r["t"] for svc in SERVICES for r in lab.requests(svc))
        warmed = lab.wait_served(40)
        baseline = lab.traffic(started, warmed)
        assert baseline.clean_problems() == [], baseline.clean_problems()

        rot = lab.rotate_all(wait="60s")  # raises unless exit 0 and every slot "done"
        print("rotation:", json.dumps({"summary": rot["summary"], "seconds": rot["seconds"],
                                       "propagation": rot["propagation"]}))
        assert [s["status"] for s in rot["summary"]["slots"]] == ["done", "done"], rot["summary"]
        # Same processes before and after: nothing restarted.
        assert rot["pids_before"] == rot["pids_after"] and len(rot["pids_after"]) == 3
        # The old keys are revoked at the provider; exactly one new key each.
        for name, live in rot["live_keys"].items():
            assert len(live) == 1 and live[0] != lab.initial_fps[name], (name, live)
        # Every consumer was served by each new key (times measured, printed above).
        assert sorted(rot["propagation"]) == sorted(f"{s}->{p}" for s, p in CONSUMERS)
        # Keep the load up after the old keys are gone: a consumer still holding
        # one would get a 401 (and be answered by the fallback) here.
        settled = lab.wait_served(60)
        after = lab.traffic(rot["window"][0], settled)
        print("rotation traffic:", after.line())
        assert after.clean_problems() == [], after.clean_problems()
        assert after.slower_than(baseline) == [], (after.rates(), baseline.rates())

        outage = lab.openbao_outage(seconds=6, count=40)
        print("outage traffic:", outage["traffic"].line())
        assert outage["traffic"].clean_problems() == [], outage["traffic"].clean_problems()
        assert outage["traffic"].slower_than(baseline) == [], outage["traffic"].rates()

        # Everything before the failover, attempt by attempt: nothing noticed anything.
        assert lab.traffic(started, time.time()).clean_problems() == []

        fo = lab.failover("alpha")
        print("failover traffic:", fo["traffic"].line(), "back after", fo["recovered_after"])
        assert fo["problems"] == [], fo["problems"]
        outcomes = fo["traffic"].outcomes()
        assert outcomes["alpha"]["connect_error"] >= len(fo["hit"]), outcomes
        assert set(outcomes["beta"]) == {"ok"}, outcomes
        assert lab.failures() == []
        assert all(p.poll() is None for p in lab.services.values())
