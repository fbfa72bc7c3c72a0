"""One duration syntax: a route's `timeout: 30s` reads like `max_age: 30d` (issue 23 item 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import run_cli


def _catalog(folder: Path, route: dict[str, Any], defaults: dict[str, Any]) -> Path:
    folder.mkdir()
    (folder / "aigw.yaml").write_text(yaml.safe_dump({
        "version": 1, "environments": {"prod": {}},
        "providers": {"p": {"api": "openai", "base_url": "https://p.example", "region": "us",
                            "rotation": {"driver": "manual", "max_age": "30d"}}},
        "models": {"m": {"routes": [{"provider": "p", "model": "x", **route}]}},
        "services": {"s": {"environments": ["prod"], "models": ["m"], "defaults": defaults,
                           "outputs": ["aigw-client"]}}}))
    return folder


def _client_config(capsys: pytest.CaptureFixture[str], folder: Path) -> dict[str, Any]:
    result = run_cli(capsys, "render", str(folder))
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads((folder / "rendered/prod/s/aigw-client.json").read_text())
    return doc


def test_units_render_what_plain_seconds_render(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`timeout: 30s` and `timeout: 30` give the same file, so the same revision: writing
    units changes no config revision. Fractions stay allowed, with or without a unit."""
    plain = _client_config(capsys, _catalog(tmp_path / "plain", {"timeout": 2.5, "cooldown": 90},
                                            {"timeout": 30, "cooldown": 30}))
    units = _client_config(capsys, _catalog(tmp_path / "units",
                                            {"timeout": "2.5s", "cooldown": "1.5m"},
                                            {"timeout": "30s", "cooldown": "0.5m"}))
    assert units == plain
    route = units["aliases"]["m"]["routes"][0]
    assert (route["timeout"], route["cooldown"]) == (2.5, 90.0)


@pytest.mark.parametrize(("value", "message"), [("soon", "expected a duration such as"),
                                                ("0s", "greater than 0"),
                                                ("-1s", "expected a duration such as")])
def test_a_bad_timeout_is_one_located_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           value: str, message: str) -> None:
    folder = _catalog(tmp_path / "bad", {"timeout": value}, {})
    result = run_cli(capsys, "validate", "--no-policy", str(folder))
    assert result.code == 2
    assert "models.m.routes[0].timeout" in result.err and message in result.err, result.err
