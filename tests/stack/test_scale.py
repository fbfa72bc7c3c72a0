"""A stack of more than 3,000 dynamic resources with the real engine (no RecursionError)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.stack.spec import environment_spec
from tests.stack.conftest import StackRig
from tests.stack.stack_catalogs import write_catalog
from tests.stack.vaultstate import assert_holds_exactly, state_urns

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_3000_dynamic_resources(rig: StackRig, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "cat", 680, per_service_every=1)
    catalog = load_catalog(folder).catalog
    count = environment_spec(catalog, "bench").resource_count
    assert count >= 3000
    (result,) = rig.apply(folder)
    assert result.counts == {"create": count}
    assert len(state_urns(rig.backend, "bench")) == count + 2
    assert_holds_exactly(rig.client(), catalog, ["bench"])
    (again,) = rig.plan(folder)
    assert not again.changed and again.counts == {"same": count}
