"""The key variables a rendered litellm.yaml reads are the names `aigw keys import` takes."""

from __future__ import annotations

import re
from pathlib import Path

from aigw.catalog import load_catalog
from aigw.render import render_all
from aigw.slots.put import import_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_litellm_key_variables_are_what_keys_import_accepts() -> None:
    """Every `os.environ/...` of prod's litellm.yaml files (Bedrock's `_AWS_*` pairs too)
    maps to a slot and field of `aigw keys import`, and each field of each slot once."""
    loaded = load_catalog(EXAMPLES)
    files = render_all(loaded, env="prod")
    wanted = sorted({name for path, data in files.items() if path.endswith("/litellm.yaml")
                     for name in re.findall(r'"os\.environ/([A-Z0-9_]+)"', data.decode())})
    assert any(name.endswith("_AWS_SECRET_ACCESS_KEY") for name in wanted)
    plan = import_plan(loaded.catalog, "prod", wanted)
    mapped = sorted(name for _, fields in plan for name in fields.values())
    assert mapped == wanted
