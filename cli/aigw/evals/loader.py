"""Read an eval set: `evals/<name>.yaml` (a promptfoo config) and its JSONL test file.

The format is promptfoo's, so a team's existing cases run unchanged::

    # evals/support-qa.yaml
    description: Support answers
    prompts:
      - "Answer in one word: {{question}}"
    defaultTest:
      assert:
        - {type: latency, threshold: 5000}
    tests: file://support-qa.jsonl      # or the list of cases inline

    # evals/support-qa.jsonl, one promptfoo test case per line
    {"vars": {"question": "Capital of France?"}, "assert": [{"type": "icontains", "value": "paris"}]}

`providers:` is accepted and ignored: aigw supplies the alias's routes. Every
problem is reported as `file:line:column: key: message (hint)`, exit 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from aigw.catalog.loader import Mark, PathKey, Problem, parse_file
from aigw.catalog.view import did_you_mean
from aigw.errors import EXIT_INVALID, AigwError
from aigw.evals.cases import (
    Assertion,
    Case,
    Locate,
    Reader,
    messages_of,
    parse_asserts,
    with_provider,
)

__all__ = ["EvalFileError", "EvalSet", "eval_set_path", "load_eval_set"]

EVALS_DIR = "evals"
# promptfoo config keys aigw reads, and those it accepts and ignores (it brings its own routes).
_READ = {"description", "prompts", "tests", "defaultTest"}
_IGNORED = {"providers", "tags", "outputPath", "evaluateOptions", "env", "sharing",
            "extensions", "scenarios", "metadata", "writeLatestResults", "nunjucksFilters"}
_CASE_KEYS = {"description", "vars", "assert", "options", "metadata", "threshold"}


class EvalFileError(AigwError):
    """An eval file is invalid; carries every problem found, each at its file:line."""

    exit_code = EXIT_INVALID

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the eval files")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems] + [self.message]


@dataclass
class EvalSet:
    """An eval set, ready to run."""

    name: str
    description: str
    cases: list[Case] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


_JINJA = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                              keep_trailing_newline=True)


def eval_set_path(catalog_dir: Path, name: str) -> Path:
    """`<catalog>/evals/<name>.yaml` (`.yml` when that is the one present)."""
    for suffix in (".yaml", ".yml"):
        path = catalog_dir / EVALS_DIR / f"{name}{suffix}"
        if path.is_file():
            return path
    return catalog_dir / EVALS_DIR / f"{name}.yaml"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_eval_set(path: Path, name: str | None = None) -> EvalSet:
    """Parse the eval set at PATH (its YAML header and the cases it names).

    Raises EvalFileError listing every problem, each at its file:line.
    """
    shown = _shown(path)
    name = name or path.stem
    if not path.is_file():
        raise EvalFileError([Problem(Mark(shown, 1, 1), "(file)", "no such eval set",
                                     f"create {shown} (docs/safe-changes.md#2-evals-in-the-pr)")])
    doc, problems = parse_file(path, shown)
    if doc is None or problems:
        raise EvalFileError(problems)
    r = Reader()
    data = doc.data

    def at(key: PathKey) -> Mark:
        marks = doc.marks
        while key and key not in marks:
            key = key[:-1]
        return marks.get(key, Mark(shown, 1, 1))

    if not isinstance(data, dict):
        raise EvalFileError([Problem(Mark(shown, 1, 1), "(top level)", "expected a mapping",
                                     "start with `prompts:` and `tests:`")])
    for key in sorted(set(data) - _READ - _IGNORED):
        r.bad(at((key,)), (key,), "unknown field", did_you_mean(key, _READ | _IGNORED))
    prompts = data.get("prompts", ["{{prompt}}"])
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        r.bad(at(("prompts",)), ("prompts",), "expected a list of prompt strings",
              "e.g. prompts: ['Answer briefly: {{question}}']")
        prompts = []
    default = data.get("defaultTest") or {}
    default_asserts: list[Assertion] = []
    default_provider = None
    if not isinstance(default, dict):
        r.bad(at(("defaultTest",)), ("defaultTest",), "expected a mapping with `assert:`")
    else:
        default_asserts = parse_asserts(r, default.get("assert"), ("defaultTest", "assert"), at)
        default_provider = _judge_option(default)
    out = EvalSet(name, str(data.get("description") or ""), files=[shown])
    for case, key, locate in _raw_cases(r, data.get("tests"), path, at, out):
        _add_case(r, out, case, key, locate, prompts, default_asserts, default_provider)
    if r.problems:
        raise EvalFileError(sorted(r.problems, key=lambda p: (p.mark.file != shown, p.mark.line,
                                                              p.mark.column)))
    if not out.cases:
        raise EvalFileError([Problem(at(("tests",)), "tests", "the eval set has no cases",
                                     "add test cases (one JSON object per line of the .jsonl)")])
    return out


def _raw_cases(r: Reader, tests: Any, path: Path, at: Locate,
               out: EvalSet) -> list[tuple[Any, PathKey, Locate]]:
    """(case object, its key, where its parts are) from inline `tests:` or `file://x.jsonl`."""
    if isinstance(tests, list):
        return [(t, ("tests", i), at) for i, t in enumerate(tests)]
    if isinstance(tests, str) and tests.startswith("file://"):
        target = (path.parent / tests.removeprefix("file://")).resolve()
        if not target.is_relative_to(path.parent.resolve()):
            r.bad(at(("tests",)), ("tests",), f"{tests}: outside the eval set's folder",
                  "keep the cases beside the eval set, e.g. file://cases.jsonl")
            return []
        if target.suffix != ".jsonl":
            r.bad(at(("tests",)), ("tests",), f"{tests}: aigw reads test files in JSONL",
                  "one JSON test case per line, e.g. file://cases.jsonl")
            return []
        if not target.is_file():
            r.bad(at(("tests",)), ("tests",), f"{tests}: no such file")
            return []
        return _jsonl_cases(r, target, out)
    r.bad(at(("tests",)), ("tests",), "expected a list of test cases or file://<name>.jsonl")
    return []


def _jsonl_cases(r: Reader, target: Path, out: EvalSet) -> list[tuple[Any, PathKey, Locate]]:
    shown = _shown(target)
    out.files.append(shown)
    cases: list[tuple[Any, PathKey, Locate]] = []
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        r.bad(Mark(shown, 1, 1), ("(file)",), f"cannot read: {exc}")
        return []
    n = 0
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        mark = Mark(shown, line_no, 1)
        try:
            obj = json.loads(line)
        except ValueError as exc:
            r.bad(Mark(shown, line_no, getattr(exc, "colno", 1)), ("tests", n),
                  f"not valid JSON: {getattr(exc, 'msg', exc)}",
                  "one JSON object per line (JSONL)")
            obj = None
        cases.append((obj, ("tests", n), _fixed(mark)))
        n += 1
    return cases


def _fixed(mark: Mark) -> Locate:
    """A locator for a JSONL case: every part of it is on its line."""
    return lambda _key: mark


def _judge_option(obj: dict[str, Any]) -> str | None:
    options = obj.get("options")
    provider = options.get("provider") if isinstance(options, dict) else None
    return provider if isinstance(provider, str) else None


def _add_case(r: Reader, out: EvalSet, case: Any, key: PathKey, locate: Locate,
              prompts: list[str], default_asserts: list[Assertion],
              default_provider: str | None) -> None:
    mark = locate(key)
    if case is None:
        return  # its JSON problem is reported
    if not isinstance(case, dict):
        r.bad(mark, key, "expected a test case object with `vars` and `assert`")
        return
    for extra in sorted(set(case) - _CASE_KEYS):
        r.bad(locate((*key, extra)), (*key, extra), "unknown field",
              did_you_mean(extra, _CASE_KEYS))
    variables = case.get("vars") or {}
    if not isinstance(variables, dict):
        r.bad(mark, (*key, "vars"), "expected a mapping of variables")
        return
    asserts = parse_asserts(r, case.get("assert"), (*key, "assert"), locate)
    judge = _judge_option(case) or default_provider
    asserts = [a if a.type != "llm-rubric" or a.provider else with_provider(a, judge)
               for a in [*default_asserts, *asserts]]
    number = int(key[-1]) + 1 if isinstance(key[-1], int) else len(out.cases) + 1
    for p, prompt in enumerate(prompts):
        try:
            text = _JINJA.from_string(prompt).render(**variables)
        except TemplateError as exc:
            r.bad(mark, (*key, "vars"), f"prompt {p + 1}: {exc.message or exc}",
                  "give every {{variable}} the prompt uses in `vars`")
            continue
        suffix = f".{p + 1}" if len(prompts) > 1 else ""
        out.cases.append(Case(f"{out.name}#{number}{suffix}",
                              str(case.get("description") or ""), messages_of(text),
                              tuple(asserts), mark))


