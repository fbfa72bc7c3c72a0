"""One wire family per alias: `aigw validate` rejects a mixed alias with file:line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.apis import APIS, FAMILIES
from aigw.catalog import load_catalog
from aigw.catalog.models import APIS as CATALOG_APIS
from aigw.errors import CatalogError
from tests.helpers import run_cli

BASE = """\
environments:
  prod: {}
providers:
  anthropic: {api: anthropic, base_url: https://api.anthropic.com, region: us}
  openai: {api: openai, base_url: https://api.openai.com/v1, region: us}
  bedrock-us: {api: bedrock, region: us, extra: {aws_region_name: us-east-1}}
models:
  claude:
    routes:
      - {provider: anthropic, model: claude-sonnet-4-5}
      - {provider: bedrock-us, model: us.anthropic.claude-sonnet-4-5-20250929-v1:0}
services:
  bot:
    environments: [prod]
    models: [claude]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aigw.yaml"
    path.write_text(text)
    return path


def test_anthropic_and_bedrock_share_a_family(tmp_path: Path) -> None:
    """Claude on Bedrock is anthropic-family: this alias is valid."""
    assert list(load_catalog(_write(tmp_path, BASE)).catalog.models) == ["claude"]


def test_mixed_alias_is_rejected_with_location_and_hint(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    text = BASE.replace("      - {provider: bedrock-us, model: us.anthropic.claude-sonnet-4-5-"
                        "20250929-v1:0}", "      - {provider: openai, model: gpt-4o}")
    path = _write(tmp_path, text)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    (line,) = [p for p in info.value.lines() if "mixes wire families" in p]
    assert "aigw.yaml:11:10:" in line  # the second route's `provider:`
    assert "models.claude.routes[1].provider" in line
    assert "route 1 (anthropic) speaks anthropic, route 2 (openai, api openai) speaks openai" \
        in line
    assert "(hint: every route of an alias must speak one family" in line
    result = run_cli(capsys, "validate", str(path))
    assert result.code == 2
    assert "mixes wire families" in result.err


def test_bedrock_without_region_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace(", extra: {aws_region_name: us-east-1}", "")
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    (line,) = [p for p in info.value.lines() if "needs the AWS region" in p]
    assert "providers.bedrock-us.extra" in line and "aws_region_name" in line


def test_every_catalog_api_has_a_family() -> None:
    """The catalog's allowed `api` values are exactly the table's (one place)."""
    assert CATALOG_APIS == tuple(APIS)
    assert {a.family for a in APIS.values()} == set(FAMILIES)
