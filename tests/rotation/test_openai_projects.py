"""`projects: per-service` for the openai-admin driver: a service's own slot lives in a project
of its own, which the driver finds by name or creates. OpenAI is a stand-in
(testing/openai_admin.py), served on 127.0.0.1."""

from __future__ import annotations

import pytest
from testing.openai_admin import OpenAIAdminServer

from aigw.errors import RotationError
from aigw.rotation.drivers.base import DriverSpec, build_driver
from tests.rotation.conftest import ADMIN_KEY, PROJECT

pytestmark = pytest.mark.integration


def _spec(server: OpenAIAdminServer, slot: str, **params: str) -> DriverSpec:
    return DriverSpec("prod", "openai", slot, "openai", server.url,
                      {"admin_base_url": server.url, "verify_delay": "0", **params})


def test_a_per_service_slot_mints_in_the_services_own_project(
        admin_server: OpenAIAdminServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", ADMIN_KEY)
    spec = _spec(admin_server, "svc-bot", projects="per-service", project_id=PROJECT)
    minted = build_driver("openai-admin", spec, lambda p, f: {}).mint("aigw-prod-x-1", [])
    project = admin_server.project_named("aigw-prod-bot")
    assert project is not None and project != PROJECT
    assert admin_server.accounts[str(minted.key_id)]["project"] == project
    # The next rotation finds the same project (no second one), and lists its keys there.
    again = build_driver("openai-admin", spec, lambda p, f: {})
    assert again.find_minted("aigw-prod-x-", []) == [minted.key_id]
    assert len(admin_server.projects) == 1
    # A shared slot stays in project_id; without it, it is refused.
    shared = build_driver("openai-admin", _spec(admin_server, "default", projects="per-service",
                                                project_id=PROJECT), lambda p, f: {})
    assert admin_server.accounts[str(shared.mint("aigw-prod-y-1", []).key_id)]["project"] \
        == PROJECT
    with pytest.raises(RotationError, match="project_id is required"):
        build_driver("openai-admin", _spec(admin_server, "default", projects="per-service"),
                     lambda p, f: {})
