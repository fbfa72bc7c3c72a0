"""Small catalogs for the governance tests: one compliant, and one edit per rule to break it."""

from __future__ import annotations

from pathlib import Path

from aigw.catalog import LoadedCatalog
from aigw.catalog.loader import parse_file
from aigw.catalog.merge import merge_docs
from aigw.catalog.models import Catalog

# Compliant with every default rule: per-service keys, two providers per alias,
# a price for every route, routes inside the service's regions (one wire family: anthropic Messages, then Bedrock
# Claude; the first provider keeps the name `openai` the rule tests refer to), max_age <= 90d, automatic rotation drivers,
# limits at the provider with a limit API (openai-admin: OpenAI project rate limits).
GOOD = """\
version: 1
environments:
  staging: {}
  prod: {}
providers:
  openai:
    api: anthropic
    base_url: https://api.anthropic.com
    region: eu
    rotation: {driver: openai-admin, max_age: 30d, params: {project_id: p}}
    prices:
      gpt-4o: {currency: USD, as_of: 2026-11-01, input: "2.50", output: "10"}
  bedrock:
    api: bedrock
    region: eu
    rotation: {driver: aws-iam, max_age: 7d, params: {user_name: u}}
    extra: {aws_region_name: eu-central-1}
    prices:
      claude: {currency: USD, as_of: 2026-11-01, input: "3", output: "15"}
models:
  chat:
    routes:
      - {provider: openai, model: gpt-4o}
      - {provider: bedrock, model: claude}
services:
  bot:
    description: answers customers
    budget: {monthly: "100", currency: USD}
    limits: {chat: {rpm: 100}}
    environments: [staging, prod]
    models: [chat]
    regions: [eu]
    keys: per-service
  helper:
    description: helps the bot
    budget: {monthly: "50", currency: EUR}
    limits: {chat: {rpm: 100}}
    environments: [prod]
    models: [chat]
    regions: [eu]
    keys: per-service
"""


def write(folder: Path, text: str = GOOD, *, replace: tuple[str, str] | None = None) -> Path:
    """Write a catalog (optionally with one text replacement) as FOLDER/aigw.yaml."""
    if replace is not None:
        assert replace[0] in text, replace[0]
        text = text.replace(replace[0], replace[1], 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aigw.yaml").write_text(text)
    return folder


def line_of(folder: Path, needle: str, start: int = 0) -> int:
    """The 1-based line of the first line after START containing NEEDLE."""
    lines = (folder / "aigw.yaml").read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if i >= start and needle in line)


def load_unchecked(folder: Path) -> LoadedCatalog:
    """Load without aigw's semantic checks (which already refuse a residency breach),
    to show that the residency rule holds on its own."""
    path = folder / "aigw.yaml"
    doc, problems = parse_file(path, str(path))
    assert doc is not None and not problems
    merged, marks, problems, _broken = merge_docs([doc])
    assert not problems
    return LoadedCatalog(Catalog.model_validate(merged), [path], marks)
