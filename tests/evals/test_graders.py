"""Each grader on answers a user would recognise: pass, fail, and the reason shown."""

from __future__ import annotations

from typing import Any

import pytest

from aigw.evals.cases import Assertion
from aigw.evals.graders import GRADERS, Answer, Grade, check_assertion, rubric_messages


def grade(kind: str, text: str, value: Any = None, threshold: float | None = None, *,
          judge: Any = None, latency: float = 100.0, cost: float | None = None) -> Grade:
    a = Assertion(kind, value, threshold, provider="judge")
    assert check_assertion(a, {}) is None
    return GRADERS[kind][0](a, Answer(text, latency, 3, 4, cost), judge)


@pytest.mark.parametrize(("kind", "value", "good", "bad"), [
    ("equals", "Paris", "Paris", "Paris."),
    ("equals", {"a": 1}, '{"a": 1}', '{"a": 2}'),
    ("contains", "Paris", "It is Paris.", "It is paris."),
    ("icontains", "PARIS", "It is paris.", "It is Rome."),
    ("contains-any", ["Paris", "Lyon"], "Lyon", "Rome"),
    ("icontains-all", "paris, lyon", "PARIS and LYON", "Paris only"),
    ("starts-with", "Yes", "Yes, it is", "Well, yes"),
    ("regex", r"^\d{4}-\d{2}-\d{2}$", "2026-12-06", "6 Dec 2026"),
    ("is-json", {"type": "object", "required": ["id"]}, '{"id": 1}', '{"name": 1}'),
    ("contains-json", {"type": "array"}, 'Here: [1, 2] done', 'Here: {"a": 1}'),
    ("numeric", 42, "42.3", "41"),
])
def test_text_graders(kind: str, value: Any, good: str, bad: str) -> None:
    tolerance = 0.5 if kind == "numeric" else None
    assert grade(kind, good, value, tolerance).passed
    failed = grade(kind, bad, value, tolerance)
    assert not failed.passed and failed.score == 0.0 and failed.reason


def test_latency_and_cost() -> None:
    assert grade("latency", "x", threshold=200, latency=150).passed
    slow = grade("latency", "x", threshold=200, latency=250)
    assert slow.reason == "250 ms > 200 ms"
    unpriced = grade("cost", "x", threshold=0.01)
    assert unpriced.score is None and "no price" in unpriced.reason  # not graded, never $0
    assert not grade("cost", "x", threshold=0.01, cost=0.02).passed


def test_llm_rubric_asks_the_judge_alias() -> None:
    asked: list[tuple[str, list[dict[str, str]]]] = []

    def judge(alias: str, messages: list[dict[str, str]]) -> str:
        asked.append((alias, messages))
        return 'Sure: {"reason": "too rude", "pass": false, "score": 0.2}'

    verdict = grade("llm-rubric", "Go away.", "is polite", judge=judge)
    assert (verdict.passed, verdict.score, verdict.reason) == (False, 0.2, "too rude")
    assert asked == [("judge", rubric_messages("is polite", "Go away."))]
    lenient = grade("llm-rubric", "Go away.", "is polite", 0.1, judge=judge)
    assert lenient.passed  # a threshold overrides the judge's own pass
    garbled = grade("llm-rubric", "x", "is polite", judge=lambda a, m: "I think so")
    assert not garbled.passed and "not a JSON verdict" in garbled.reason


def test_bad_values_are_refused_before_any_call() -> None:
    assert check_assertion(Assertion("numeric", "42"), {})[0].startswith("numeric needs a number")
    assert check_assertion(Assertion("contains", None), {})[0] == "contains needs a text `value`"
    assert check_assertion(Assertion("latency", None, None, negate=True), {})[0] == \
        "not-latency is not supported"
