"""The parts of an eval set: assertions and cases, and how raw test cases become them.

`Reader` collects every problem (located) while a file is read, so one bad case
does not hide the others; `parse_asserts` turns promptfoo `assert:` lists into
`Assertion`s checked against the grader registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aigw.catalog.loader import Mark, PathKey, Problem, dotted
from aigw.catalog.view import did_you_mean
from aigw.evals.graders import GRADERS, check_assertion

# promptfoo's assertion fields aigw reads (`transform` is JavaScript: refused, not ignored).
ASSERT_KEYS = {"type", "value", "threshold", "weight", "metric", "provider"}
Locate = Callable[[PathKey], Mark]


@dataclass(frozen=True)
class Assertion:
    """One promptfoo assertion: `type` (without a `not-` prefix), value and options."""

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    metric: str | None = None
    provider: str | None = None  # llm-rubric: the judge alias
    negate: bool = False

    @property
    def name(self) -> str:
        """What the report calls this grader: its `metric`, else its type (`not-` kept)."""
        return self.metric or ("not-" if self.negate else "") + self.type


@dataclass(frozen=True)
class Case:
    """One test case with its prompt rendered: the messages sent, and the assertions."""

    id: str  # `<set>#<n>` (n: 1-based, in file order; with several prompts `#n.p`)
    description: str
    messages: tuple[dict[str, str], ...]
    asserts: tuple[Assertion, ...]
    mark: Mark


class Reader:
    """Collects problems while building an EvalSet (one bad case does not hide another)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, mark: Mark, key: PathKey, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(mark, dotted(key), message, hint))


def with_provider(a: Assertion, provider: str | None) -> Assertion:
    return Assertion(a.type, a.value, a.threshold, a.weight, a.metric, provider, a.negate)


def messages_of(text: str) -> tuple[dict[str, str], ...]:
    """promptfoo's rule: a prompt that is a JSON list of chat messages is sent as such."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except ValueError:
            value = None
        if isinstance(value, list) and value and all(
                isinstance(m, dict) and isinstance(m.get("role"), str)
                and isinstance(m.get("content"), str) for m in value):
            return tuple({"role": m["role"], "content": m["content"]} for m in value)
    return ({"role": "user", "content": text},)


def parse_asserts(r: Reader, raw: Any, key: PathKey, at: Locate) -> list[Assertion]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        r.bad(at(key), key, "expected a list of assertions", "assert: [{type: contains, value: x}]")
        return []
    out = []
    for i, item in enumerate(raw):
        where = (*key, i)
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            r.bad(at(where), where, "expected an assertion with a `type`",
                  "e.g. {type: contains, value: Paris}")
            continue
        for extra in sorted(set(item) - ASSERT_KEYS):
            r.bad(at((*where, extra)), (*where, extra), "unknown field",
                  did_you_mean(extra, ASSERT_KEYS))
        kind, negate = item["type"], False
        if kind.startswith("not-") and kind[4:] in GRADERS:
            kind, negate = kind[4:], True
        if kind not in GRADERS:
            r.bad(at((*where, "type")), (*where, "type"), f"unknown assertion type '{kind}'",
                  did_you_mean(kind, GRADERS))
            continue
        a = Assertion(kind, item.get("value"), _number(item.get("threshold")),
                      _number(item.get("weight"), 1.0) or 0.0,
                      item.get("metric") if isinstance(item.get("metric"), str) else None,
                      item.get("provider") if isinstance(item.get("provider"), str) else None,
                      negate)
        problem = check_assertion(a, item)
        if problem:
            r.bad(at((*where, "value")), (*where, "value"), *problem)
        else:
            out.append(a)
    return out


def _number(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)
