"""Eval files: promptfoo's format loads unchanged; a bad file is file:line errors, exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aigw.evals.graders import Answer
from aigw.evals.loader import EvalFileError, load_eval_set
from aigw.evals.runner import CaseResult, run_case
from tests.helpers import run_cli

# A promptfoo config as promptfoo's docs write it (providers included): it must run as is.
PROMPTFOO = """\
# yaml-language-server: $schema=https://promptfoo.dev/config-schema.json
description: Translation and extraction
prompts:
  - 'Translate to {{language}}: {{text}}'
providers:
  - openai:gpt-4.1-mini
defaultTest:
  assert:
    - type: not-contains
      value: As an AI
    - type: latency
      threshold: 5000
tests:
  - description: French greeting
    vars:
      language: French
      text: Hello world
    assert:
      - type: icontains-any
        value: [bonjour, salut]
      - type: starts-with
        value: Bonjour
      - type: regex
        value: '^Bonjour\\b'
  - vars:
      language: JSON
      text: 'a user named Ada, 36'
    assert:
      - type: is-json
        value:
          type: object
          required: [name, age]
          properties: {name: {type: string}, age: {type: integer}}
      - type: contains-all
        value: 'Ada, 36'
        weight: 2
        metric: fields
"""


def _answer(text: str) -> Answer:
    return Answer(text, 120.0, 10, 5)


class _Fixed:
    """A Caller stand-in that answers every case with one text (grading only)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def ask(self, alias: str, messages: list[dict[str, str]]) -> tuple[Answer, str, bool]:
        return _answer(self.text), "lab/m", False


def _grade(case: object, text: str) -> CaseResult:
    from aigw.evals.runner import Job

    return run_case(Job("a", "head", case, _Fixed(text)), _Fixed(text))  # type: ignore[arg-type]


def test_a_promptfoo_config_runs_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "evals" / "translate.yaml"
    path.parent.mkdir()
    path.write_text(PROMPTFOO)
    found = load_eval_set(path)
    french, person = found.cases
    assert french.messages == ({"role": "user", "content": "Translate to French: Hello world"},)
    assert [a.name for a in french.asserts] == ["not-contains", "latency", "icontains-any",
                                                "starts-with", "regex"]
    good = _grade(french, "Bonjour le monde")
    assert good.passed and good.score == 1.0
    bad = _grade(french, "As an AI, I say Bonjour")
    assert not bad.passed and bad.grades["not-contains"].passed is False
    assert bad.grades["starts-with"].reason == "does not start with 'Bonjour'"
    ok = _grade(person, '{"name": "Ada", "age": 36}')
    assert ok.passed
    wrong = _grade(person, '{"name": "Ada", "age": "36"}')
    assert wrong.grades["is-json"].reason == "schema: age: '36' is not of type 'integer'"
    # weights: not-contains 1, latency 1, is-json 1 (fails), fields 2 (passes) -> 4/5
    assert wrong.score == pytest.approx(0.8)


def test_jsonl_cases_and_chat_prompts(tmp_path: Path) -> None:
    (tmp_path / "qa.yaml").write_text(
        "prompts:\n  - '[{\"role\": \"system\", \"content\": \"Be brief.\"}, "
        "{\"role\": \"user\", \"content\": \"{{q}}\"}]'\ntests: file://qa.jsonl\n")
    (tmp_path / "qa.jsonl").write_text(
        '{"vars": {"q": "6 x 7?"}, "assert": [{"type": "numeric", "value": 42, '
        '"threshold": 0.5}]}\n\n{"vars": {"q": "pi?"}, "assert": [{"type": "numeric", '
        '"value": 3.1416, "threshold": 0.001}]}\n')
    found = load_eval_set(tmp_path / "qa.yaml")
    assert [c.id for c in found.cases] == ["qa#1", "qa#2"]
    assert found.cases[0].messages[0] == {"role": "system", "content": "Be brief."}
    assert found.cases[0].mark.line == 1 and found.cases[1].mark.line == 3
    assert _grade(found.cases[0], "The answer is 42.").passed
    assert _grade(found.cases[1], "3.14159").passed
    far = _grade(found.cases[1], "3.2")
    assert far.grades["numeric"].reason == "3.2 is not 3.1416 ± 0.001"


BAD_LINES = [
    '{"vars": {"q": "a"}, "assert": [{"type": "contans", "value": "x"}]}',
    '{"vars": {"q": "b"}, "assert": [{"type": "regex", "value": "(unclosed"}]}',
    "{not json",
    '{"vars": {"q": "c"}, "assert": [{"type": "is-json", "value": {"type": 12}}]}',
    '{"vars": {}, "assert": [{"type": "contains", "value": "x"}]}',
    '{"vars": {"q": "d"}, "assert": [{"type": "latency"}]}',
    '{"vars": {"q": "e"}, "asert": []}',
]


def test_bad_eval_files_give_file_line_errors_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "qa.yaml").write_text("prompts: ['{{q}}']\ntests: file://qa.jsonl\n")
    (tmp_path / "evals" / "qa.jsonl").write_text("\n".join(BAD_LINES) + "\n")
    with pytest.raises(EvalFileError) as caught:
        load_eval_set(tmp_path / "evals" / "qa.yaml")
    lines = [str(p) for p in caught.value.problems]
    shown = str(tmp_path / "evals" / "qa.jsonl")
    assert lines[0] == (f"{shown}:1:1: tests[0].assert[0].type: unknown assertion type "
                        "'contans' (hint: did you mean 'contains'?)")
    assert lines[1].startswith(f"{shown}:2:1: tests[1].assert[0].value: not a valid regular "
                               "expression")
    assert lines[2].startswith(f"{shown}:3:2: tests[2]: not valid JSON")
    assert lines[3].startswith(f"{shown}:4:1: tests[3].assert[0].value: not a valid JSON Schema")
    assert lines[4].startswith(f"{shown}:5:1: tests[4].vars: prompt 1: 'q' is undefined")
    assert lines[5] == (f"{shown}:6:1: tests[5].assert[0].value: latency needs a numeric "
                        "`threshold` (hint: milliseconds, e.g. threshold: 3000)")
    assert lines[6] == (f"{shown}:7:1: tests[6].asert: unknown field (hint: did you mean "
                        "'assert'?)")

    # Through the CLI: one line per problem, exit 2, no traceback, no call made.
    (tmp_path / "aigw.yaml").write_text(
        "environments: {staging: {}}\nproviders:\n  p: {api: openai, base_url: "
        "'http://127.0.0.1:9', region: eu}\nmodels:\n  qa:\n    routes: [{provider: p, "
        "model: m}]\n    eval: {set: qa}\nservices:\n  s: {environments: [staging], "
        "models: [qa]}\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "eval", ".", "--alias", "qa", "--keys", str(tmp_path))
    assert result.code == 2
    assert "evals/qa.jsonl:1:1: tests[0].assert[0].type: unknown assertion type" in result.err
    assert "Traceback" not in result.err
    assert result.err.strip().endswith("7 problem(s) in the eval files")


def test_a_yaml_header_problem_points_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "qa.yaml").write_text("prompts: ['{{q}}']\ndefaultTest:\n  assert:\n"
                                      "    - type: llm-rubric\n      value: 3\n"
                                      "tests: [{vars: {q: x}}]\nprovider: x\n")
    with pytest.raises(EvalFileError) as caught:
        load_eval_set(tmp_path / "qa.yaml")
    lines = [str(p).split("qa.yaml:", 1)[1] for p in caught.value.problems]
    assert lines == ["5:7: defaultTest.assert[0].value: llm-rubric needs a text `value` "
                     "(hint: e.g. value: Paris)",
                     "7:1: provider: unknown field (hint: did you mean 'providers'?)"]


def test_a_judge_must_be_an_alias_of_the_catalog(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "qa.yaml").write_text(
        "prompts: ['{{q}}']\ntests: file://qa.jsonl\n")
    (tmp_path / "evals" / "qa.jsonl").write_text(json.dumps(
        {"vars": {"q": "x"}, "assert": [{"type": "llm-rubric", "value": "is polite",
                                         "provider": "openai:gpt-4o"}]}) + "\n")
    (tmp_path / "aigw.yaml").write_text(
        "environments: {staging: {}}\nproviders:\n  p: {api: openai, base_url: "
        "'http://127.0.0.1:9', region: eu}\nmodels:\n  qa:\n    routes: [{provider: p, "
        "model: m}]\n    eval: {set: qa}\nservices:\n  s: {environments: [staging], "
        "models: [qa]}\n")
    monkeypatch.chdir(tmp_path)
    result = run_cli(capsys, "eval", ".", "--alias", "qa", "--keys", str(tmp_path))
    assert result.code == 2
    assert ("evals/qa.jsonl:1:1: qa#1.assert: llm-rubric judge 'openai:gpt-4o' is not an alias "
            "of the catalog") in result.err
    (tmp_path / "aigw.yaml").write_text((tmp_path / "aigw.yaml").read_text()
                                        .replace("{set: qa}", "{set: qa, judge: nope}"))
    bad = run_cli(capsys, "validate", ".", "--no-policy")
    assert bad.code == 2
    assert "models.qa.eval.judge: unknown model alias 'nope'" in bad.err


def test_the_catalog_binding_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    (tmp_path / "aigw.yaml").write_text(
        "environments: {staging: {}}\nproviders:\n  p: {api: openai, base_url: "
        "'http://127.0.0.1:9', region: eu}\nmodels:\n  qa:\n    routes: [{provider: p, "
        "model: m}]\n    eval: {set: '../x', judge: qa, floor: 2, margin: 1}\n"
        "services:\n  s: {environments: [staging], models: [qa]}\n")
    result = run_cli(capsys, "validate", str(tmp_path), "--no-policy")
    assert result.code == 2
    assert "aigw.yaml:7:36: models.qa.eval.floor: Input should be less than or equal to 1" \
        in result.err
    assert "models.qa.eval.margin: " in result.err
    (tmp_path / "aigw.yaml").write_text((tmp_path / "aigw.yaml").read_text()
                                        .replace(", floor: 2, margin: 1", ""))
    again = run_cli(capsys, "validate", str(tmp_path), "--no-policy")
    assert "models.qa.eval.judge: an alias cannot judge itself" in again.err
    assert "models.qa.eval.set: unsafe name '../x'" in again.err


def test_the_promptfoo_config_runs_unchanged_through_aigw_eval(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the promptfoo file above, byte for byte, bound to an alias and run
    through `aigw eval` against a stand-in provider (testing/eval_provider.py) whose
    model translates as the cases expect."""
    from testing.eval_provider import ScriptedProvider

    def translate(model: str, messages: list[dict[str, Any]]) -> str:
        asked = str(messages[-1]["content"])
        return "Bonjour le monde" if "French" in asked else '{"name": "Ada", "age": 36}'


    with ScriptedProvider("lab", ["sk-pf"], translate) as fake:
        (tmp_path / "evals").mkdir()
        (tmp_path / "evals" / "translate.yaml").write_text(PROMPTFOO)
        (tmp_path / "aigw.yaml").write_text(
            "environments: {staging: {}}\nproviders:\n  lab: {api: openai, base_url: "
            f"'{fake.base_url}', region: eu, slots: [default, eval]}}\nmodels:\n  tr:\n"
            "    routes: [{provider: lab, model: m}]\n    eval: {set: translate}\n"
            "services:\n  s: {environments: [staging], models: [tr]}\n")
        (tmp_path / "lab.eval.key").write_text("sk-pf")
        (tmp_path / "lab.eval.key").chmod(0o600)
        monkeypatch.chdir(tmp_path)
        result = run_cli(capsys, "eval", ".", "--keys", str(tmp_path), "--json")
    assert result.code == 0, result.err
    tr = json.loads(result.out)["aliases"][0]
    assert tr["head"]["score"] == 1.0 and tr["head"]["passed"] == 2
    assert sorted(tr["head"]["graders"]) == ["fields", "icontains-any", "is-json", "latency",
                                             "not-contains", "regex", "starts-with"]


def test_cases_stay_beside_the_eval_set_and_javascript_is_refused(tmp_path: Path) -> None:
    (tmp_path / "evals").mkdir()
    (tmp_path / "secret.jsonl").write_text('{"vars": {}}\n')
    (tmp_path / "evals" / "qa.yaml").write_text("tests: file://../secret.jsonl\n")
    with pytest.raises(EvalFileError) as outside:
        load_eval_set(tmp_path / "evals" / "qa.yaml")
    assert "file://../secret.jsonl: outside the eval set's folder" in str(outside.value.problems[0])
    (tmp_path / "evals" / "qa.yaml").write_text(
        "tests:\n  - vars: {prompt: x}\n    assert:\n      - {type: javascript, value: 'true'}\n"
        "      - {type: contains, value: x, transform: output.trim()}\n")
    with pytest.raises(EvalFileError) as js:
        load_eval_set(tmp_path / "evals" / "qa.yaml")
    lines = [str(p) for p in js.value.problems]
    assert "unknown assertion type 'javascript'" in lines[0]
    assert "tests[0].assert[1].transform: unknown field" in lines[1]
