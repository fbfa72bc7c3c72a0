"""Keys ready, under load: a switch to slots nobody filled is held, and nothing fails.

The issue's replay: one service of the lab switched to per-service slots that no
one filled gave 154 failed requests and 308 `no_key` attempts, because `aigw apply`
published its config at once. Here, with the lab's three services calling their
aliases (testing.lab: real OpenBao dev server, real Pulumi engine, one real
`bao agent` per service, every aigw step run as the CLI), the same switch is
applied together with an unrelated model switch. `aigw apply` holds svc-1 and
exits 1 naming the `aigw keys put` commands; the model switch reaches svc-2 and
svc-3; attempt by attempt, the lab logs 0 failed requests and 0 `no_key`
attempts. After `aigw keys put` of the two new slots, a rerun publishes svc-1.
The LLM providers are local OpenAI stand-ins (testing.openai_admin), because
the real APIs are out of reach.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from testing.lab import Lab

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def per_service_svc1_and_new_beta_model(doc: dict[str, Any]) -> None:
    """svc-1 moves to its own (empty) slots; chat-ba's beta route asks for another model."""
    doc["services"]["svc-1"]["keys"] = "per-service"
    doc["models"]["chat-ba"]["routes"][0]["model"] = "m-beta-2"


def test_a_switch_to_empty_slots_under_load_is_held_with_zero_failures(tmp_path: Path) -> None:
    with Lab(tmp_path / "lab") as lab:
        root = str(lab.root)

        def apply_held() -> str:
            proc = lab.run_aigw("apply", root, "--yes", check=False)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            return proc.stdout

        change = lab.change_catalog("svc-1 to empty per-service slots, chat-ba to m-beta-2",
                                    per_service_svc1_and_new_beta_model, apply=apply_held)
        assert ("svc-1 in prod: slots alpha/svc-svc-1, beta/svc-svc-1 are empty: held: keeps "
                f"revision {change.before['svc-1']}") in change.output
        assert "`aigw keys put alpha/svc-svc-1 --env prod`; " \
               "`aigw keys put beta/svc-svc-1 --env prod`" in change.output
        assert change.after["svc-1"] == change.before["svc-1"]  # held
        assert sorted(change.changed) == ["svc-2", "svc-3"]  # the rest applied
        lab.wait_live(change)
        until = time.time() + 3.0  # a few more seconds of traffic on the held config
        lab.wait_until(lambda: time.time() > until, "traffic after the change")
        traffic = lab.traffic(change.started, until)
        counts = traffic.counts()
        no_key = [a for a in traffic.attempts if a["outcome"] == "no_key"]
        lab.say(f"held switch: {traffic.line()}; no_key attempts: {len(no_key)}")
        assert counts["requests"] > 0 and counts["failed"] == 0, traffic.line()
        assert not no_key, traffic.line()
        assert lab.live_check(change, until) == []

        for name, server in lab.providers.items():  # fill the new slots, from stdin
            _, value = server.create_account(f"proj-{name}", "svc-1")
            lab.aigw("keys", "put", f"{name}/svc-svc-1", "--env", "prod", root, stdin=value)
        published_at = time.time()
        rerun = lab.run_aigw("apply", root, "--yes", check=False)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert "restart the agent of svc-1" in rerun.stdout
        published = lab.record_published()["svc-1"].revision
        assert published != change.before["svc-1"]
        # What apply asked for: re-render and restart svc-1's agent (its key files changed).
        # Between the publish and the restart svc-1's new config names key files its old
        # agent does not write: counted and printed (the gap docs/safe-changes.md names).
        lab.aigw("render", root, "--out", str(lab.root / "rendered"))
        lab.restart_agent("svc-1")
        live_at = lab.wait_until(lambda: lab.first_on("svc-1", published, published_at)
                                 is not None and (lab.key_dir("svc-1") / "alpha.svc-svc-1.key")
                                 .is_file(), "svc-1 serving on its own keys")
        after = lab.traffic(published_at, live_at + 2.0)
        lab.say(f"after the rerun, until svc-1's agent restarted: {after.line()}")
        assert lab.first_on("svc-1", published, published_at) is not None
