"""The lab's checks flag what request-level "ok" and a grep for "done" hide (no servers).

Synthetic request records in the shape testing.demo_service writes: these
show each check of testing.lab can fail, cheaply, for the reason it names.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from testing.demo_service import request_record
from testing.lab import (
    Traffic,
    _rotation_summary,
    failover_problems,
    first_routes,
    live_problems,
)


def att(provider: str, route: int, outcome: str, t: float, ms: float = 2.0) -> dict[str, Any]:
    return {"provider": provider, "route": route, "outcome": outcome, "fp": "f" * 12,
            "t": t, "ms": ms}


def req(alias: str, t: float, *attempts: dict[str, Any], error: str | None = None
        ) -> dict[str, Any]:
    return request_record(alias, t, list(attempts), error)


def traffic(**by_service: list[dict[str, Any]]) -> Traffic:
    return Traffic(0.0, 10.0, {svc.replace("_", "-"): reqs for svc, reqs in by_service.items()})


def test_clean_traffic_passes() -> None:
    tr = traffic(svc_1=[req("chat-ab", 1, att("alpha", 0, "ok", 1.01))],
                 svc_2=[req("chat-ba", 1, att("beta", 0, "ok", 1.01))])
    assert tr.clean_problems() == []
    assert tr.counts() == {"requests": 2, "failed": 0, "attempts": 2, "failed_attempts": 0,
                           "auth_failures": 0, "second_route": 0}


def test_a_401_answered_by_the_fallback_is_a_problem() -> None:
    # The request is "ok" (beta answered) - exactly what the old check accepted.
    hidden = req("chat-ab", 1, att("alpha", 0, "http_401", 1.01), att("beta", 1, "ok", 1.02))
    assert hidden["ok"] is True
    problems = traffic(svc_1=[hidden]).clean_problems()
    assert any(p.startswith("1 attempts got http_401/http_403") for p in problems), problems
    assert any("needed a second route" in p for p in problems), problems
    assert traffic(svc_1=[hidden]).counts()["auth_failures"] == 1


def test_a_retry_after_a_reload_on_the_same_route_is_a_problem() -> None:
    retried = req("chat-ab", 1, att("alpha", 0, "http_401", 1.01), att("alpha", 0, "ok", 1.02))
    problems = traffic(svc_1=[retried]).clean_problems()
    assert len(problems) == 2, problems


def test_a_cooling_route_served_by_the_fallback_first_is_a_problem() -> None:
    problems = traffic(svc_1=[req("chat-ab", 1, att("beta", 1, "ok", 1.01))]).clean_problems()
    assert problems and "second route" in problems[0]


def test_empty_window_and_failed_requests_are_problems() -> None:
    assert traffic(svc_1=[]).clean_problems() == ["no requests at all in the window"]
    failed = req("chat-ab", 1, att("alpha", 0, "timeout", 3), att("beta", 1, "http_503", 3.1),
                 error="all routes failed")
    problems = traffic(svc_1=[failed]).clean_problems()
    assert any(p.startswith("1 requests failed") for p in problems), problems


def test_rates_are_compared_with_the_service_itself() -> None:
    base = Traffic(0, 10, {"svc-1": [req("chat-ab", t, att("alpha", 0, "ok", t))
                                     for t in range(100)], "svc-2": []})
    slow = Traffic(0, 10, {"svc-1": [req("chat-ab", t, att("alpha", 0, "ok", t))
                                     for t in range(20)], "svc-2": []})
    assert base.slower_than(base) == []
    assert slow.slower_than(base) == ["svc-1: 2.0/s here, 10.0/s in the baseline"]


def failover_traffic(*svc1: dict[str, Any], svc3: list[dict[str, Any]] | None = None,
                     svc2: list[dict[str, Any]] | None = None) -> Traffic:
    ok3 = [req("chat-ab", 2, att("alpha", 0, "connect_error", 2.01), att("beta", 1, "ok", 2.02))]
    ok2 = [req("chat-ba", 2, att("beta", 0, "ok", 2.01))]
    return Traffic(1.0, 10.0, {"svc-1": list(svc1), "svc-2": ok2 if svc2 is None else svc2,
                               "svc-3": ok3 if svc3 is None else svc3})


def test_failover_as_expected() -> None:
    tr = failover_traffic(
        req("chat-ab", 2, att("alpha", 0, "connect_error", 2.01), att("beta", 1, "ok", 2.02)),
        req("chat-ab", 3, att("beta", 1, "ok", 3.01)),        # alpha cooling down
        req("chat-ab", 6, att("alpha", 0, "ok", 6.01)))       # alpha back (up at 5)
    assert failover_problems(tr, "alpha", down=1.0, up=5.0) == []


def test_failover_problems() -> None:
    def check(*svc1: dict[str, Any], **kw: Any) -> list[str]:
        return failover_problems(failover_traffic(*svc1, **kw), "alpha", down=1.0, up=5.0)

    fine = req("chat-ab", 2, att("alpha", 0, "connect_error", 2.01), att("beta", 1, "ok", 2.02))
    # the stopped provider answered 401 instead of refusing connections
    assert any("did not fail with connect_error" in p for p in check(
        req("chat-ab", 2, att("alpha", 0, "http_401", 2.01), att("beta", 1, "ok", 2.02))))
    # the "stopped" provider still answered
    assert any("answered by stopped alpha" in p for p in check(
        req("chat-ab", 2, att("alpha", 0, "ok", 2.01))))
    # svc-1 never tried the dead provider
    assert check(req("chat-ab", 2, att("beta", 1, "ok", 2.01))) == [
        "no attempt on stopped alpha from ['svc-1']"]
    # the fallback failed too: the request failed
    assert any(p.startswith("1 requests failed") for p in check(
        fine, req("chat-ab", 3, att("alpha", 0, "connect_error", 3.01),
                  att("beta", 1, "http_503", 3.02), error="all routes failed")))
    # alpha failed after it came back
    assert any("failed after it was back" in p for p in check(
        fine, req("chat-ab", 6, att("alpha", 0, "connect_error", 6.01),
                  att("beta", 1, "ok", 6.02))))
    # an alias that starts with beta needed a second route
    assert any("not starting with alpha" in p for p in check(
        fine, svc2=[req("chat-ba", 2, att("beta", 0, "timeout", 2.01),
                        att("alpha", 1, "connect_error", 2.02), att("beta", 0, "ok", 2.03))]))


def _rotated(*slots: tuple[str, str], exit_code: int = 0) -> subprocess.CompletedProcess[str]:
    doc = {"run_id": "r1", "exit_code": exit_code,
           "slots": [{"slot": s, "status": st, "state": None, "run_id": "r1", "message": "",
                      "notes": []} for s, st in slots]}
    return subprocess.CompletedProcess(["aigw"], 0, json.dumps(doc), "")


def test_rotation_summary_needs_every_slot_done() -> None:
    done = (("prod/alpha/default", "done"), ("prod/beta/default", "done"))
    assert _rotation_summary(_rotated(*done))["run_id"] == "r1"
    # exit 0 and "done" somewhere in the output is not enough (what the lab grepped for)
    for bad in [_rotated(("prod/alpha/default", "waiting"), ("prod/beta/default", "done")),
                _rotated(("prod/beta/default", "done")),
                _rotated(*done, exit_code=1)]:
        with pytest.raises(RuntimeError, match="did not rotate every slot"):
            _rotation_summary(bad)


# -- live config: live_problems ---------------------------------------------

def _config(service: str, *routes: tuple[str, str, int | None], alias: str = "chat-ab"
            ) -> dict[str, Any]:
    return {"service": service, "aliases": {alias: {"routes": [
        {"provider": p, "model": m, "weight": w} for p, m, w in routes]}}}


CONFIGS = {
    "r1": _config("svc-1", ("alpha", "m-alpha", None), ("beta", "m-beta", None)),
    "r2": _config("svc-1", ("beta", "m-beta", None), ("alpha", "m-alpha", None)),  # reordered
    "r3": _config("svc-1", ("beta", "m-beta", 90), ("alpha", "m-alpha", 10)),      # weighted
    "o1": _config("svc-2", ("alpha", "m-alpha", None)),                            # svc-2's
}


def live(t: float, rev: str, provider: str, route: int, model: str | None = None,
         outcome: str = "ok", *more: dict[str, Any], alias: str = "chat-ab") -> dict[str, Any]:
    first = att(provider, route, outcome, t + 0.01) | {"rev": rev}
    attempts = [first, *more]
    ok = attempts[-1]["outcome"] == "ok"
    return request_record(alias, t, attempts, None if ok else "all routes failed",
                          (model or f"m-{attempts[-1]['provider']}") if ok else None)


def live_check(*reqs: dict[str, Any], before: str = "r1", after: str = "r2") -> list[str]:
    return live_problems(Traffic(0, 10, {"svc-1": list(reqs)}), CONFIGS,
                         {"svc-1": before}, {"svc-1": after})


def test_a_clean_switch_passes() -> None:
    assert live_check(live(1, "r1", "alpha", 0), live(2, "r1", "alpha", 0),
                      live(3, "r2", "beta", 0), live(4, "r2", "beta", 0)) == []
    # an untouched service: before == after, every request on it
    assert live_check(live(1, "r1", "alpha", 0), before="r1", after="r1") == []


def test_live_problems_flag_each_failure() -> None:
    def flagged(*reqs: dict[str, Any], **kw: str) -> str:
        problems = live_check(*reqs, **kw)
        assert len(problems) >= 1, problems
        return " | ".join(problems)

    end = live(9, "r2", "beta", 0)
    # a 401 answered by the fallback: a failed attempt and a second attempt
    hidden = live(2, "r1", "alpha", 0, None, "http_401", att("beta", 1, "ok", 2.02) | {"rev": "r1"})
    assert "failed attempts" in flagged(hidden, end)
    assert "more than one attempt" in flagged(hidden, end)
    # a request that failed outright
    assert "requests failed" in flagged(live(2, "r1", "alpha", 0, None, "timeout"), end)
    # a revision nobody published, another service's revision
    assert "never published" in flagged(live(2, "zz", "alpha", 0), end)
    assert "svc-2's config" in flagged(live(2, "o1", "alpha", 0), end)
    # the provider answered for another model than the revision's route names
    assert "says beta/m-beta" in flagged(live(3, "r2", "beta", 0, "m-old"))
    # the first attempt went to the fallback route (no weights): not a first route
    assert "not a first route" in flagged(live(3, "r2", "alpha", 1))
    # an alias the revision does not have (called before its revision was live)
    assert "not in revision r1" in flagged(live(2, "r1", "alpha", 0, alias="chat-new"), end)
    # back to the old revision after the new one, or never reaching it
    assert "went back to r1" in flagged(live(2, "r2", "beta", 0), live(3, "r1", "alpha", 0),
                                        end)
    assert "still on r1 at the end" in flagged(live(2, "r1", "alpha", 0))
    # a revision that is neither the one before nor the one after
    assert "neither r1 nor r3" in flagged(live(2, "r2", "beta", 0), live(3, "r3", "beta", 0),
                                          after="r3")
    assert "no requests in the window" in flagged()


def test_weighted_first_routes() -> None:
    assert first_routes(CONFIGS["r1"]["aliases"]["chat-ab"]) == {0}
    assert first_routes(CONFIGS["r3"]["aliases"]["chat-ab"]) == {0, 1}
    paused = _config("s", ("beta", "m", 100), ("alpha", "m", 0), ("gamma", "m", None))
    assert first_routes(paused["aliases"]["chat-ab"]) == {0}
    # the 10% route may take a first attempt once weights are live
    assert live_check(live(1, "r1", "alpha", 0), live(2, "r3", "alpha", 1),
                      live(3, "r3", "beta", 0), after="r3") == []
