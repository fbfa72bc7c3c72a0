"""Fixtures for slot storage tests: a KV v2 mount as the stack makes it.

The stack (cli/aigw/stack) is not used: tests create the KV v2 mount themselves
with the settings the stack gives it (cas_required, 10 versions). Rotation's
tests (tests/rotation) use the same fixture.
"""

from __future__ import annotations

import pytest
from testing.bao import BaoDevServer


@pytest.fixture
def kv_mount(bao: BaoDevServer, vault_mount: str) -> str:
    """A fresh KV v2 mount configured like the stack makes it (check-and-set required)."""
    bao.client().secrets.kv.v2.configure(max_versions=10, cas_required=True,
                                         mount_point=vault_mount)
    return vault_mount
