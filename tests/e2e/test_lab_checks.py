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
from testing.lab import Traffic, _rotation_summary, failover_problems


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
