"""Graders: promptfoo's assertion types, one function each, in one registry.

A grader turns (assertion, answer) into a `Grade`: a score in [0, 1], pass or
fail, and a reason. `GRADERS` is the registry: the loader accepts exactly its
keys (with promptfoo's `not-` prefix for the text checks), and `check_assertion`
refuses a bad value at load time, so a typo is a file:line error before any
provider is called. `numeric` is aigw's one addition (promptfoo writes it as a
`javascript` assertion, which aigw does not run).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aigw.evals.cases import Assertion

Judge = Callable[[str, list[dict[str, str]]], str]  # (alias, messages) -> the judge's text


@dataclass(frozen=True)
class Answer:
    """What a route answered for one case."""

    text: str
    latency_ms: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None  # None: no price for this route's model
    currency: str | None = None  # the price's currency (a `cost` threshold is in it)


@dataclass(frozen=True)
class Grade:
    """One assertion's verdict; `score` None means "not applicable" (e.g. no price)."""

    score: float | None
    passed: bool
    reason: str = ""


def _text_value(a: Assertion) -> str:
    return a.value if isinstance(a.value, str) else json.dumps(a.value)


def _values(a: Assertion) -> list[str]:
    if isinstance(a.value, str):
        return [v.strip() for v in a.value.split(",")]
    return [str(v) for v in a.value]


def _verdict(ok: bool, why: str) -> Grade:
    return Grade(1.0 if ok else 0.0, ok, "" if ok else why)


def equals(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    if isinstance(a.value, dict | list):
        try:
            return _verdict(json.loads(ans.text) == a.value, "JSON differs")
        except ValueError:
            return _verdict(False, "answer is not JSON")
    return _verdict(ans.text == _text_value(a), f"expected exactly {_text_value(a)!r}")


def contains(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    return _verdict(_text_value(a) in ans.text, f"missing {_text_value(a)!r}")


def icontains(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    return _verdict(_text_value(a).lower() in ans.text.lower(), f"missing {_text_value(a)!r}")


def _many(any_of: bool, fold: bool) -> Callable[[Assertion, Answer, Judge | None], Grade]:
    def grade(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
        text = ans.text.lower() if fold else ans.text
        found = [v for v in _values(a) if (v.lower() if fold else v) in text]
        ok = bool(found) if any_of else len(found) == len(_values(a))
        return _verdict(ok, "none of the values" if any_of else
                        f"missing {sorted(set(_values(a)) - set(found))}")
    return grade


def starts_with(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    return _verdict(ans.text.startswith(_text_value(a)), f"does not start with {a.value!r}")


def regex(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    return _verdict(re.search(str(a.value), ans.text) is not None, f"no match for /{a.value}/")


def _schema_errors(value: Any, schema: Any) -> str | None:
    if not isinstance(schema, dict):
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema)
                                             .iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"schema: {where}: {error.message[:200]}"


def is_json(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    try:
        value = json.loads(ans.text)
    except ValueError:
        return _verdict(False, "answer is not JSON")
    problem = _schema_errors(value, a.value)
    return _verdict(problem is None, problem or "")


def contains_json(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    decoder = json.JSONDecoder()
    last = "answer holds no JSON"
    for m in re.finditer(r"[\[{]", ans.text):
        try:
            value, _ = decoder.raw_decode(ans.text, m.start())
        except ValueError:
            continue
        problem = _schema_errors(value, a.value)
        if problem is None:
            return _verdict(True, "")
        last = problem
    return _verdict(False, last)


_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def numeric(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    """The answer's number (the whole answer, else its first number) within ±threshold."""
    text = ans.text.strip().replace(",", "")
    try:
        got = float(text)
    except ValueError:
        m = _NUMBER.search(text)
        if m is None:
            return _verdict(False, "answer holds no number")
        got = float(m.group())
    tolerance = a.threshold or 0.0
    ok = math.isfinite(got) and abs(got - float(a.value)) <= tolerance
    return _verdict(ok, f"{got:g} is not {float(a.value):g} ± {tolerance:g}")


def latency(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    limit = float(a.threshold or 0)
    return _verdict(ans.latency_ms <= limit, f"{ans.latency_ms:.0f} ms > {limit:.0f} ms")


def cost(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    if ans.cost is None:
        return Grade(None, True, "no price for this route's model: cost not graded")
    limit = float(a.threshold or 0)
    return _verdict(ans.cost <= limit, f"cost {ans.cost:.6f} {ans.currency or ''} > {limit:g}")


RUBRIC_SYSTEM = (
    "You grade an output against a rubric. If the rubric's statement is true of the output, "
    "the output passes. Reply with only a JSON object: "
    '{"reason": "<one sentence>", "pass": true or false, "score": <number from 0.0 to 1.0>}')


def rubric_messages(rubric: str, output: str) -> list[dict[str, str]]:
    """What the judge alias is sent (promptfoo's llm-rubric contract)."""
    return [{"role": "system", "content": RUBRIC_SYSTEM},
            {"role": "user", "content": f"<Output>\n{output}\n</Output>\n<Rubric>\n{rubric}\n"
                                        "</Rubric>"}]


def llm_rubric(a: Assertion, ans: Answer, judge: Judge | None) -> Grade:
    if judge is None or not a.provider:
        return Grade(0.0, False, "no judge alias")
    reply = judge(a.provider, rubric_messages(str(a.value), ans.text))
    verdict = None
    m = re.search(r"\{.*\}", reply, re.DOTALL)
    if m:
        try:
            verdict = json.loads(m.group())
        except ValueError:
            verdict = None
    if not isinstance(verdict, dict):
        return Grade(0.0, False, f"the judge's answer is not a JSON verdict: {reply[:80]!r}")
    score = verdict.get("score")
    passed = verdict.get("pass")
    if not isinstance(score, int | float) or isinstance(score, bool):
        score = 1.0 if passed else 0.0
    score = min(1.0, max(0.0, float(score)))
    threshold = a.threshold if a.threshold is not None else 0.5
    ok = bool(passed) if isinstance(passed, bool) and a.threshold is None else score >= threshold
    return Grade(score, ok, "" if ok else str(verdict.get("reason") or "")[:200])


Grader = Callable[["Assertion", Answer, Judge | None], Grade]

# type -> (grader, what its `value` must be, whether it needs `threshold`)
GRADERS: dict[str, tuple[Grader, str, bool]] = {
    "equals": (equals, "any", False),
    "contains": (contains, "text", False),
    "icontains": (icontains, "text", False),
    "contains-any": (_many(True, False), "texts", False),
    "contains-all": (_many(False, False), "texts", False),
    "icontains-any": (_many(True, True), "texts", False),
    "icontains-all": (_many(False, True), "texts", False),
    "starts-with": (starts_with, "text", False),
    "regex": (regex, "regex", False),
    "is-json": (is_json, "schema", False),
    "contains-json": (contains_json, "schema", False),
    "numeric": (numeric, "number", False),
    "latency": (latency, "none", True),
    "cost": (cost, "none", True),
    "llm-rubric": (llm_rubric, "text", False),
}
_NOT_NEGATABLE = {"latency", "cost", "llm-rubric"}


def check_assertion(a: Assertion, raw: dict[str, Any]) -> tuple[str, str] | None:
    """(message, hint) when A's value cannot be graded; None when it is fine."""
    _, kind, needs_threshold = GRADERS[a.type]
    if a.negate and a.type in _NOT_NEGATABLE:
        return f"not-{a.type} is not supported", f"use {a.type} with a threshold"
    if needs_threshold and a.threshold is None:
        return f"{a.type} needs a numeric `threshold`", (
            "milliseconds, e.g. threshold: 3000" if a.type == "latency"
            else "the most one case may cost, e.g. threshold: 0.002")
    value = a.value
    if kind == "text" and not isinstance(value, str):
        return f"{a.type} needs a text `value`", "e.g. value: Paris"
    if kind == "texts" and not (isinstance(value, str) or (
            isinstance(value, list) and value and all(isinstance(v, str) for v in value))):
        return f"{a.type} needs a list of texts as `value`", "e.g. value: [Paris, paris]"
    if kind == "any" and value is None:
        return f"{a.type} needs a `value`", "the exact expected answer"
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return "numeric needs a number as `value` (threshold: the tolerance)", \
            "e.g. {type: numeric, value: 42, threshold: 0.5}"
    if kind == "regex":
        if not isinstance(value, str):
            return "regex needs a pattern as `value`", "e.g. value: '^\\d+$'"
        try:
            re.compile(value)
        except re.error as exc:
            return f"not a valid regular expression: {exc}", "check escapes and brackets"
    if kind == "schema" and value is not None:
        if not isinstance(value, dict):
            return f"{a.type}'s `value` must be a JSON Schema object", \
                "e.g. value: {type: object, required: [answer]}"
        import jsonschema

        try:
            jsonschema.Draft202012Validator.check_schema(value)
        except jsonschema.exceptions.SchemaError as exc:
            return f"not a valid JSON Schema: {exc.message[:200]}", "see json-schema.org"
    return None
