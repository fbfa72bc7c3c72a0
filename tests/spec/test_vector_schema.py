"""Every vector file follows spec/vector.schema.json (and a vector that breaks it fails)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from .player import SPEC, VECTORS

SCHEMA = json.loads((SPEC / "vector.schema.json").read_text(encoding="utf-8"))


def errors(doc: object) -> list[str]:
    """The schema's complaints about `doc`, as `path: message` lines."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def test_the_schema_is_a_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_follows_the_schema(path: Path) -> None:
    assert errors(json.loads(path.read_text(encoding="utf-8"))) == []


def test_a_misspelt_field_is_refused() -> None:
    doc = json.loads(VECTORS[0].read_text(encoding="utf-8"))
    doc["calls"][0]["expect"]["attempt"] = []
    assert any("attempt" in e for e in errors(doc))
