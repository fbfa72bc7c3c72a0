"""Every aigw-client.json that `aigw render` writes for examples/ follows
spec/aigw-client.schema.json, and a config that breaks the schema fails the check."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from aigw.catalog import load_catalog
from aigw.render import render_all

from .player import ROOT, SPEC

SCHEMA = json.loads((SPEC / "aigw-client.schema.json").read_text(encoding="utf-8"))


def problems(doc: Any) -> list[str]:
    """The schema's complaints about a config, as `dotted.path: message` lines."""
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(doc)]


def rendered() -> dict[str, Any]:
    """Each deployment's aigw-client.json rendered from examples/."""
    return {rel: json.loads(data) for rel, data in render_all(load_catalog(ROOT / "examples"))
            .items() if rel.endswith("/aigw-client.json")}


def test_the_schema_is_a_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_rendered_example_config_follows_the_schema() -> None:
    configs = rendered()
    assert len(configs) >= 7
    for rel, doc in configs.items():
        assert problems(doc) == [], rel


def _first(doc: dict[str, Any]) -> dict[str, Any]:
    return next(iter(doc["aliases"].values()))["routes"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "breaks", "complaint"), [
    ("a misspelt route field", lambda d: _first(d).update(cooldwn=1), "cooldwn"),
    ("a route without a model", lambda d: _first(d).pop("model"), "'model' is a required"),
    ("a weight above 100", lambda d: _first(d).update(weight=150), "150"),
    ("another version", lambda d: d.update(version=2), "1 was expected"),
    ("a null base_url on an openai route", lambda d: _first(d).update(base_url=None),
     "None is not of type 'string'"),
    ("a revision that is not 16 hex digits", lambda d: d.update(revision="r1"), "r1"),
])
def test_a_config_that_breaks_the_schema_fails(name: str, breaks: Any, complaint: str) -> None:
    doc = copy.deepcopy(rendered()["prod/support-bot/aigw-client.json"])
    assert problems(doc) == []
    breaks(doc)
    assert any(complaint in p for p in problems(doc)), (name, problems(doc))


def test_the_vectors_configs_are_version_1_configs(tmp_path: Path) -> None:
    """The vectors' configs, filled in as a runner fills them, follow the schema, except
    the forward-compatibility vectors, which carry what a newer writer might write."""
    from .player import CONFIG_DEFAULTS, VECTORS

    for path in VECTORS:
        if path.stem.startswith(("forward-compat", "skip-unsupported", "weights-unusable",
                                 "acks-failed-calls")):
            continue
        vector = json.loads(path.read_text(encoding="utf-8"))
        assert problems({**CONFIG_DEFAULTS, **vector["config"]}) == [], path.stem


def test_the_schemas_price_classes_are_the_clients() -> None:
    """The billed token classes a route's price may name are the ones the runtime counts
    (client/usage.py), so a price the schema accepts is one the clients can use."""
    from aigw.client.usage import CLASSES

    schema = json.loads((Path(__file__).parents[2] / "spec" / "aigw-client.schema.json").read_text())
    route = schema["properties"]["aliases"]["additionalProperties"]["properties"]["routes"]["items"]
    names = route["properties"]["price"]["properties"]["per_million"]["propertyNames"]["enum"]
    assert sorted(names) == sorted(CLASSES)
