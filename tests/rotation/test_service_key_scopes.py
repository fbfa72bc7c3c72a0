"""Where a service's own key lives: `projects: per-service` for the openai-admin driver (a
project of its own, found by name or created), and the service's Anthropic `workspace` for
the anthropic-admin driver. OpenAI is a stand-in (testing/openai_admin.py) on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

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


def test_a_services_anthropic_workspace_is_where_its_own_key_is_verified(tmp_path: Path) -> None:
    """`services.<s>.workspace` reaches the anthropic-admin driver of the service's own slot
    (it checks a pasted key belongs there); shared slots keep the provider's setting."""
    from aigw.catalog import load_catalog
    from aigw.rotation.runner import driver_spec
    from aigw.slots.targets import select_targets

    (tmp_path / "aigw.yaml").write_text("""\
environments: {prod: {}}
providers:
  claude:
    api: anthropic
    base_url: https://api.anthropic.com
    region: us
    rotation: {driver: anthropic-admin}
models:
  sonnet: {routes: [{provider: claude, model: claude-sonnet-4-5}]}
services:
  bot: {environments: [prod], models: [sonnet], keys: per-service, workspace: wrkspc_bot}
  web: {environments: [prod], models: [sonnet]}
""")
    cat = load_catalog(tmp_path).catalog
    params = {t.ref.slot: driver_spec(t).params for t in select_targets(cat, "prod")}
    assert params["svc-bot"].get("workspace_id") == "wrkspc_bot"
    assert "workspace_id" not in params["default"]
