"""`aigw rotate-keys` / `keys status` scope: an unknown --env or provider is one line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.errors import UsageError
from aigw.slots.targets import select_targets

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_unknown_names_get_the_closest_known_one() -> None:
    cat = load_catalog(EXAMPLES).catalog
    with pytest.raises(UsageError, match="unknown environment 'prdo'") as env:
        select_targets(cat, env="prdo")
    assert env.value.hint == "did you mean 'prod'?"
    with pytest.raises(UsageError, match="unknown provider 'deepsek'") as provider:
        select_targets(cat, provider="deepsek")
    assert provider.value.hint == "did you mean 'deepseek'?"
    assert {t.env_name for t in select_targets(cat, env="prod")} == {"prod"}
