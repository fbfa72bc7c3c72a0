"""Route weights: range, type and the sum rule, each reported with file:line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments
from aigw.errors import CatalogError
from tests.helpers import run_cli

BASE = """\
environments:
  prod: {}
providers:
  deepseek: {api: openai, base_url: https://api.deepseek.com, region: cn}
  volc: {api: openai, base_url: https://ark.example.com/v3, region: cn}
models:
  chat:
    routes:
      - {provider: deepseek, model: deepseek-chat, weight: 95}
      - {provider: volc, model: deepseek-v3, weight: 5}
      - {provider: deepseek, model: deepseek-reasoner}
services:
  bot:
    environments: [prod]
    models: [chat]
"""

CASES = [
    ("over 100", BASE.replace("weight: 95}", "weight: 150}"),
     "9:52", "models.chat.routes[0].weight", "less than or equal to 100"),
    ("negative", BASE.replace("weight: 5}", "weight: -5}"),
     "10:46", "models.chat.routes[1].weight", "greater than or equal to 0"),
    ("not a whole number", BASE.replace("weight: 5}", "weight: 5.5}"),
     "10:46", "models.chat.routes[1].weight", "valid integer"),
    ("a percent string", BASE.replace("weight: 5}", "weight: 5%}"),
     "10:46", "models.chat.routes[1].weight", "valid integer"),
    ("true is no weight", BASE.replace("weight: 5}", "weight: true}"),
     "10:46", "models.chat.routes[1].weight", "valid integer"),
    ("sum below 100", BASE.replace("weight: 95}", "weight: 90}"),
     "9:52", "models.chat.routes[0].weight", "add up to 95 (90 + 5), not 100"),
    ("sum above 100", BASE.replace("weight: 5}", "weight: 50}"),
     "9:52", "models.chat.routes[0].weight", "add up to 145 (95 + 50), not 100"),
    ("all zero", BASE.replace("weight: 95}", "weight: 0}").replace("weight: 5}", "weight: 0}"),
     "9:52", "models.chat.routes[0].weight", "add up to 0"),
]


@pytest.mark.parametrize(("name", "text", "where", "key", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_weights_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                 text: str, where: str, key: str, words: str) -> None:
    (tmp_path / "aigw.yaml").write_text(text)
    result = run_cli(capsys, "validate", str(tmp_path))
    assert result.code == 2, result.out
    lines = [ln for ln in result.err.splitlines() if f"aigw.yaml:{where}:" in ln and key in ln]
    assert lines, result.err
    assert words in lines[0] and "hint" in lines[0]


def test_weights_that_add_up_are_valid_and_reach_the_routes(tmp_path: Path) -> None:
    (tmp_path / "aigw.yaml").write_text(BASE)
    dep = deployments(load_catalog(tmp_path).catalog)[0]
    assert [r.weight for r in dep.aliases["chat"]] == [95, 5, None]


def test_one_route_may_take_everything_and_zero_pauses_a_canary(tmp_path: Path) -> None:
    text = BASE.replace("weight: 95}", "weight: 100}").replace("weight: 5}", "weight: 0}")
    (tmp_path / "aigw.yaml").write_text(text)
    load_catalog(tmp_path)


def test_no_weights_is_plain_fallback_order(tmp_path: Path) -> None:
    (tmp_path / "aigw.yaml").write_text(BASE.replace(", weight: 95", "").replace(", weight: 5", ""))
    dep = deployments(load_catalog(tmp_path).catalog)[0]
    assert [r.weight for r in dep.aliases["chat"]] == [None, None, None]


def test_every_weight_problem_in_one_run(tmp_path: Path) -> None:
    text = BASE.replace("weight: 95}", "weight: 101}").replace(
        "  chat:\n", "  other:\n    routes:\n      - {provider: volc, model: m, weight: 50}\n"
        "  chat:\n")
    (tmp_path / "aigw.yaml").write_text(text)
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    keys = {p.key for p in info.value.problems}  # type: ignore[attr-defined]
    assert {"models.chat.routes[0].weight", "models.other.routes[0].weight"} <= keys
