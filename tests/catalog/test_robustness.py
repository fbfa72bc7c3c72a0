"""No bad input gives a traceback: every one is a located one-line error and exit 2."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "aigw.yaml"

BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)

BAD_INPUTS = {
    "empty": b"",
    "only comments": b"# nothing here\n",
    "not yaml": b"providers: [unclosed\n  - : :\n",
    "binary": bytes(range(256)) * 4,
    "nul byte": b"providers: {}\x00\n",
    "latin-1": "providers: {caf\xe9: {}}\n".encode("latin-1"),
    "alias bomb": b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + BOMB.encode(),
    "list at top": b"- providers\n- services\n",
    "scalar at top": b"42\n",
    "wrong types": b"environments: 3\nproviders: [a, b]\nmodels: x\nservices: {a: 1}\n",
    "services as list": b"environments: {prod: {}}\nservices:\n  - name: bot\n",
    "deep nesting": b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "merge key": b"base: &b {api: openai}\nproviders:\n  x:\n    <<: *b\n",
    "complex key": b"? [a, b]\n: 1\n",
    "huge file": b"# " + b"x" * (70 * 1024 * 1024) + b"\n",
    "custom tag": b"providers: !!python/object:os.system {}\n",
    "null names": b"environments: {~: {}}\n",
    "numbers as names": b"environments: {1: {}}\nservices: {2: {environments: [1], models: []}}\n",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      name: str) -> None:
    path = tmp_path / "aigw.yaml"
    path.write_bytes(BAD_INPUTS[name])
    result = run_cli(capsys, "validate", "--no-policy", str(path))
    assert result.code == 2, result.err
    assert "Traceback" not in result.err and "unexpected error" not in result.err
    *problems, summary = result.err.splitlines()
    assert summary == f"error: {len(problems)} problem(s) in the catalog", result.err
    assert problems, result.err
    for line in problems:  # one line per problem: file:line:col: field: message (hint: ...)
        assert re.fullmatch(r".*aigw\.yaml:\d+:\d+: [^:]+: .+ \(hint: .+\)", line), line


def test_examples_validate(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "validate", "--no-policy", str(EXAMPLES.parent))  # rules: OPA
    assert result.code == 0, result.err
    assert "4 services" in result.out


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "validate", str(tmp_path / "nope"))
    assert result.code == 2
    assert "no such file or folder" in result.err


def test_json_output_lists_problems(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    path = tmp_path / "aigw.yaml"
    path.write_text("environments: {prod: {}}\nservices:\n  bot: {environments: [qa], models: []}\n")
    result = run_cli(capsys, "validate", "--json", str(path))
    assert result.code == 2
    doc = json.loads(result.out)
    assert doc["ok"] is False
    assert {p["key"] for p in doc["errors"]} >= {"services.bot.environments[0]"}
    assert all(p["line"] >= 1 for p in doc["errors"])


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=30,
)


def _check_exit(capsys: pytest.CaptureFixture[str], path: Path) -> None:
    result = run_cli(capsys, "validate", "--no-policy", str(path))
    assert result.code in (0, 2), result.err
    assert "Traceback" not in result.err and "unexpected error" not in result.err
    if result.code == 2:
        assert result.err.strip(), "exit 2 without a message"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=yaml_values)
def test_random_yaml_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   doc: object) -> None:
    path = tmp_path / "aigw.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _check_exit(capsys, path)


def _mutate(data: object, rnd: random.Random, replacement: object) -> object:
    """Replace one randomly chosen value somewhere inside DATA."""
    if isinstance(data, dict) and data:
        key = rnd.choice(sorted(data, key=str))
        if rnd.random() < 0.3:
            return {k: v for k, v in data.items() if k != key}
        return {**data, key: _mutate(data[key], rnd, replacement)}
    if isinstance(data, list) and data:
        i = rnd.randrange(len(data))
        return [*data[:i], _mutate(data[i], rnd, replacement), *data[i + 1:]]
    return replacement


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32), replacement=yaml_values)
def test_mutated_examples_never_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      seed: int, replacement: object) -> None:
    data = yaml.safe_load(EXAMPLES.read_text())
    mutated = _mutate(data, random.Random(seed), replacement)
    path = tmp_path / "aigw.yaml"
    path.write_text(yaml.safe_dump(mutated, allow_unicode=True))
    _check_exit(capsys, path)
