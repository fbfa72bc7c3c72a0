"""Live config end to end: catalog changes reach running services, nothing restarts or fails.

Real OpenBao dev server, real Pulumi engine (`aigw apply` through the CLI, as
the lab runs every aigw step), one real `bao agent` per service writing the
live `aigw-client.json` that apply publishes, and three service processes
(testing.demo_service) calling through `aigw.client` at 50 requests/s each.
The LLM providers are local OpenAI stand-ins (testing.openai_admin, which
echoes the model it was asked for), because the real APIs are out of reach.

Under that load the catalog changes six times, one after another. After each,
checked attempt by attempt (testing.lab.live_problems): no request failed, no
attempt failed or got a 401/403, no request needed a second attempt or route;
every request ran on its service's revision before or after the change (never
back), and was served by the provider and model that revision's route names;
each service touched by the change ends on its new revision; the services'
PIDs (and the agents') are the same. The time from `aigw apply` returning to
each service's first request on the new revision is printed, never asserted
(speed is measured by benchmarks/propagation.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from testing.lab import SERVICES, Change, Lab, live_problems, request_revision

Edit = Callable[[dict[str, Any]], None]


def _routes(doc: dict[str, Any], alias: str) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = doc["models"][alias]["routes"]
    return routes


def reorder(doc: dict[str, Any]) -> None:
    """chat-ab: alpha, beta -> beta, alpha."""
    _routes(doc, "chat-ab").reverse()


def switch_model(doc: dict[str, Any]) -> None:
    """chat-ba's first route (beta) asks for another model."""
    _routes(doc, "chat-ba")[0]["model"] = "m-beta-2"


def add_alias(doc: dict[str, Any]) -> None:
    """A new alias chat-new (beta, then alpha), allowed to every service."""
    doc["models"]["chat-new"] = {"routes": [{"provider": "beta", "model": "m-beta-new"},
                                            {"provider": "alpha", "model": "m-alpha"}]}
    for svc in doc["services"].values():
        svc["models"].append("chat-new")


def remove_route(doc: dict[str, Any]) -> None:
    """chat-ab loses its first route (beta, serving it since the reorder)."""
    doc["models"]["chat-ab"]["routes"] = [r for r in _routes(doc, "chat-ab")
                                          if r["provider"] != "beta"]


def weigh(doc: dict[str, Any]) -> None:
    """chat-ba: 90% of first attempts to beta, 10% to alpha."""
    first, second = _routes(doc, "chat-ba")
    first["weight"], second["weight"] = 90, 10


# what, edit, the services whose config it changes (those using the alias)
CHANGES: list[tuple[str, Edit, list[str]]] = [
    ("1 reorder chat-ab's fallback chain", reorder, ["svc-1", "svc-3"]),
    ("2 switch chat-ba to another beta model", switch_model, ["svc-2", "svc-3"]),
    ("3 add alias chat-new", add_alias, ["svc-1", "svc-2", "svc-3"]),
    ("4 remove chat-ab's route in use (beta)", remove_route, ["svc-1", "svc-3"]),
    ("5 set a 10% weight on chat-ba", weigh, ["svc-2", "svc-3"]),
]


def _calls(lab: Lab, svc: str, since: float, alias: str, *, revision: str,
           route: int | None = None) -> list[dict[str, Any]]:
    return [r for r in lab.requests(svc, since) if r["ok"] and r["alias"] == alias
            and request_revision(r) == revision
            and (route is None or r["attempts"][0]["route"] == route)]


def wait_called(lab: Lab, change: Change, services: Iterable[str], alias: str,
                routes: Iterable[int | None] = (None,)) -> None:
    """Wait until each service called ALIAS on its new revision (first attempt on each
    of ROUTES; None: any route)."""
    need = [(s, r) for s in services for r in routes]
    lab.wait_until(lambda: all(_calls(lab, s, change.started, alias, revision=change.after[s],
                                      route=r) for s, r in need),
                   f"{change.what}: not every service called {alias} on routes {list(routes)}")


def _rejected(event: dict[str, Any]) -> bool:
    """A config event whose `Client.config_status` reports a rejected config."""
    status = event.get("status") or {}
    return status.get("rejected", 0) >= 1 and bool(status.get("rejection"))


def _warnings(lab: Lab, svc: str) -> list[str]:
    return [line for line in lab.stderr_path(svc).read_text().splitlines()
            if " WARNING " in line]


@pytest.mark.integration
@pytest.mark.slow
def test_catalog_changes_reach_running_services_without_restart(tmp_path: Path) -> None:
    with Lab(tmp_path / "lab", rate=60,  # paced above 50/s: a loaded machine measured 47/s at rate=50
              say=lambda _: None) as lab:
        started = min(r["t"] for svc in SERVICES for r in lab.requests(svc))
        warmed = lab.wait_served(50)
        agents = {svc: p.pid for svc, p in lab.agents.items()}
        print("baseline:", lab.traffic(started, warmed).line())
        propagation: dict[str, dict[str, dict[str, float]]] = {}

        for what, edit, touched in CHANGES:
            change = lab.change_catalog(what, edit)
            # apply published a new revision for exactly the services using the alias
            assert change.changed == touched, (what, change.before, change.after)
            propagation[what] = lab.wait_live(change)
            if edit is add_alias:  # each service starts calling it once its revision is live
                wait_called(lab, change, SERVICES, "chat-new")
            if edit is remove_route:
                # Expected: requests that started on the old revision finish on beta
                # (it is still up); from the new revision on, chat-ab is served by
                # alpha as route 0. No failure, no second route (live_problems).
                wait_called(lab, change, touched, "chat-ab")
            if edit is weigh:  # both weighted routes take first attempts
                wait_called(lab, change, touched, "chat-ba", routes=(0, 1))
            settled = lab.wait_served(50)
            problems = lab.live_check(change, settled)
            print(f"{what}: {lab.traffic(change.started, settled).line()}")
            assert problems == [], (what, problems)
            assert lab.service_pids() == change.pids and len(change.pids) == 3, what

        # The requests of the new revision went where it says: spot-check change 5's split.
        last = lab.configs[lab.published()["svc-2"].revision]
        assert [r.get("weight") for r in last["aliases"]["chat-ba"]["routes"]] == [90, 10]

        # 6: corrupt configs stored by hand, straight into OpenBao (root token).
        good = lab.published()
        serving = {svc: pub.revision for svc, pub in good.items()}
        bumped = json.loads(good["svc-3"].text) | {"version": 999}
        corrupt = {
            "svc-1": good["svc-1"].text[: len(good["svc-1"].text) // 2],   # not JSON
            "svc-2": good["svc-3"].text,                                   # another service's
            "svc-3": json.dumps(bumped, indent=2, sort_keys=True) + "\n",  # unsupported version
        }
        bad = lab.put_config_by_hand("6 corrupt configs written into OpenBao by hand", corrupt)
        lab.wait_until(lambda: all(lab.live_config_path(s).read_text() == corrupt[s]
                                   for s in SERVICES), "agents did not write the corrupt files")
        lab.wait_until(lambda: all(any(_rejected(e) for e in lab.config_events(s, bad.started))
                                   for s in SERVICES), "a rejection was not observable")
        settled = lab.wait_served(50)
        # The old revision keeps serving: before == after == what served.
        problems = live_problems(lab.traffic(bad.started, settled), lab.configs, serving, serving)
        assert problems == [], problems
        for svc in SERVICES:  # the one warning, naming the file
            warned = _warnings(lab, svc)
            assert len(warned) == 1 and str(lab.live_config_path(svc)) in warned[0], warned
        print("rejections:", {s: lab.config_events(s, bad.started)[-1]["status"]
                              for s in SERVICES})

        # `aigw apply` writes the catalog's configs back (the hand edit is drift).
        restore = lab.change_catalog("aigw apply restores them", lambda doc: None)
        assert {s: p.text for s, p in lab.published().items()} == {
            s: p.text for s, p in good.items()}
        lab.wait_until(lambda: all(lab.live_config_path(s).read_text() == good[s].text
                                   for s in SERVICES), "agents did not restore the files")
        settled = lab.wait_served(50)
        problems = lab.live_check(replace(restore, before=serving), settled)
        assert problems == [], problems
        assert lab.service_pids() == bad.pids and len(bad.pids) == 3

        # The whole run, attempt by attempt; nothing restarted, agents included.
        whole = lab.traffic(started, settled)
        counts = whole.counts()
        print("whole run:", whole.line(), "rates:",
              {s: round(r, 1) for s, r in whole.rates().items()})
        assert counts["failed"] == 0 and counts["failed_attempts"] == 0, counts
        assert {svc: p.pid for svc, p in lab.agents.items()} == agents
        assert all(p.poll() is None for p in [*lab.services.values(), *lab.agents.values()])

        print("propagation (s from `aigw apply` returning / from the KV write, to the first "
              "request on the new revision):")
        for what, per in propagation.items():
            print(f"  {what}: " + ", ".join(
                f"{s} {t['after_apply']:.2f} / {t['after_write']:.2f}"
                for s, t in sorted(per.items())))
