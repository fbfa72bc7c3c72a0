"""Provider rate limits converged by the stack: OpenAI project limits, Anthropic workspace
overrides, drift in `plan --refresh`, and admin keys that never leave the environment.

Real OpenBao dev server and the real Pulumi engine (tests/stack/conftest.py). OpenAI and
Anthropic are stand-ins (testing/openai_admin.py, testing/anthropic_admin.py: their
admin APIs as the public references describe them), served on 127.0.0.1.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testing.anthropic_admin import AnthropicAdminServer
from testing.openai_admin import OpenAIAdminServer

from aigw.errors import EngineError
from tests.helpers import run_cli
from tests.stack.conftest import StackRig
from tests.test_json_contract import check

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OPENAI_VAR, ANTHROPIC_VAR = "AIGW_TEST_OPENAI_ADMIN", "AIGW_TEST_ANTHROPIC_ADMIN"
ORG_GPT4O = {"max_requests_per_1_minute": 10000, "max_tokens_per_1_minute": 2000000}


@pytest.fixture
def admins(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OpenAIAdminServer,
                                                              AnthropicAdminServer]]:
    """Both stand-ins, their admin keys (canaries made now) in the variables the catalog
    names, as an operator's CI would set them."""
    openai_key = "canary-oa-" + secrets.token_hex(12)
    anthropic_key = "canary-an-" + secrets.token_hex(12)
    monkeypatch.setenv(OPENAI_VAR, openai_key)
    monkeypatch.setenv(ANTHROPIC_VAR, anthropic_key)
    with OpenAIAdminServer(admin_key=openai_key) as oa, \
            AnthropicAdminServer(admin_key=anthropic_key) as an:
        yield oa, an


def catalog(folder: Path, oa: OpenAIAdminServer, an: AnthropicAdminServer, limits: str,
            projects: str = "", keys: str = "shared") -> Path:
    """A one-service catalog whose `limits:` block is LIMITS (YAML, indented 6)."""
    folder.mkdir(exist_ok=True)
    (folder / "aigw.yaml").write_text(f"""\
environments:
  prod: {{}}
providers:
  openai:
    api: openai
    base_url: {oa.url}
    region: us
    rotation:
      driver: openai-admin
      params: {{project_id: proj_shared, admin_base_url: {oa.url},
               admin_key_env: {OPENAI_VAR}{projects}}}
  claude:
    api: anthropic
    base_url: {an.url}
    region: us
    rotation: {{driver: anthropic-admin, params: {{admin_key_env: {ANTHROPIC_VAR}}}}}
  deepseek: {{api: openai, base_url: https://api.deepseek.example, region: us}}
models:
  chat:
    routes:
      - {{provider: openai, model: gpt-4o}}
      - {{provider: deepseek, model: deepseek-chat}}
  sonnet:
    routes:
      - {{provider: claude, model: claude-sonnet-4-5}}
services:
  bot:
    environments: [prod]
    models: [chat, sonnet]
    keys: {keys}
    workspace: wrkspc_bot
    outputs: [env]
    limits:
{limits}""")
    return folder


def test_openai_limits_are_set_changed_and_restored(
        rig: StackRig, tmp_path: Path, admins: Any) -> None:
    oa, an = admins
    folder = catalog(tmp_path / "c", oa, an, "      chat: {rpm: 500, tpm: 200000}\n")
    rig.apply(folder)
    assert oa.limits_of("proj_shared")["gpt-4o"] == {"max_requests_per_1_minute": 500,
                                                     "max_tokens_per_1_minute": 200000}
    # DeepSeek has no limit API: plan and apply say so for the alias's route there.
    assert any("limits of bot (chat) at deepseek/deepseek-chat: no provider limit API" in ln
               for ln in rig.lines)

    # The fast plan (no engine) holds only while the limits are unchanged.
    rig.lines.clear()
    [same] = rig.plan(folder)
    assert same.planner == "fingerprint" and not same.changed

    # Changed, and one field no longer managed: it gets its original value back.
    catalog(tmp_path / "c", oa, an, "      chat: {rpm: 400}\n")
    [pending] = rig.plan(folder)
    assert pending.planner == "engine"
    assert [(c.op, c.kind) for c in pending.changes] == [("update", "limit")]
    rig.apply(folder)
    assert oa.limits_of("proj_shared")["gpt-4o"] == {"max_requests_per_1_minute": 400,
                                                     "max_tokens_per_1_minute": 2000000}

    # Changed by hand at OpenAI: `plan --refresh` shows the drift, plain plan does not.
    oa.set_limit("proj_shared", "gpt-4o", max_requests_per_1_minute=123)
    rig.lines.clear()
    [quiet] = rig.plan(folder)
    assert not quiet.changed
    [drift] = rig.plan(folder, refresh=True)
    assert [(c.op, c.kind, c.target) for c in drift.changes] == [
        ("update", "limit", "openai/gpt-4o (project proj_shared)")]
    assert "max_requests_per_1_minute: 123 -> 400" in "\n".join(rig.lines)

    # Removed from the catalog: the value recorded before aigw's first change comes back.
    catalog(tmp_path / "c", oa, an, "      {}\n")
    rig.apply(folder)
    assert oa.limits_of("proj_shared")["gpt-4o"] == ORG_GPT4O


def test_anthropic_workspace_overrides_are_set_and_cleared(
        rig: StackRig, tmp_path: Path, admins: Any) -> None:
    oa, an = admins
    folder = catalog(tmp_path / "c", oa, an, "      sonnet: {rpm: 50, output_tpm: 8000}\n")
    rig.apply(folder)
    assert an.workspace_limits("wrkspc_bot", "claude-sonnet-4-5") == {
        "requests_per_minute": 50, "output_tokens_per_minute": 8000}
    assert any("within about an hour" in ln for ln in rig.lines)

    an.set_workspace_limit("wrkspc_bot", "claude-sonnet-4-5", requests_per_minute=9)
    [drift] = rig.plan(folder, refresh=True)
    assert [(c.op, c.target) for c in drift.changes] == [
        ("update", "claude/claude-sonnet-4-5 (workspace wrkspc_bot)")]

    catalog(tmp_path / "c", oa, an, "      sonnet: {rpm: 60}\n")
    rig.apply(folder)  # output_tpm no longer managed: cleared (the organization's applies)
    assert an.workspace_limits("wrkspc_bot", "claude-sonnet-4-5") == {"requests_per_minute": 60}
    catalog(tmp_path / "c", oa, an, "      {}\n")
    rig.apply(folder)
    assert an.workspace_limits("wrkspc_bot", "claude-sonnet-4-5") == {}


def test_admin_keys_never_reach_state_output_or_errors(
        rig: StackRig, tmp_path: Path, admins: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    oa, an = admins
    home = tmp_path / "pulumi-home"  # the engine's own folder, its debug logs included
    monkeypatch.setenv("PULUMI_HOME", str(home))
    folder = catalog(tmp_path / "c", oa, an,
                     "      chat: {rpm: 500}\n      sonnet: {rpm: 50}\n")
    applied = run_cli(capsys, "apply", str(folder), "--yes")
    assert applied.code == 0, applied.err
    oa.set_limit("proj_shared", "gpt-4o", max_requests_per_1_minute=77)  # drift, by hand
    planned = run_cli(capsys, "plan", str(folder), "--refresh", "--json")
    doc = check("plan", planned, 1)
    assert [(c["op"], c["kind"], c["detail"]) for s in doc["stacks"] for c in s["changes"]] == [
        ("update", "limit", ["values.max_requests_per_1_minute: 77 -> 500"])]
    # A refused admin key: one line, the key masked.
    monkeypatch.setenv(OPENAI_VAR, oa.admin_key + "-wrong")
    catalog(tmp_path / "c", oa, an, "      chat: {rpm: 501}\n      sonnet: {rpm: 50}\n")
    refused = run_cli(capsys, "apply", str(folder), "--yes")
    assert refused.code == 3 and "HTTP 401" in refused.err, refused.err
    # An unset one: exit 2 before the engine starts.
    monkeypatch.delenv(OPENAI_VAR)
    unset = run_cli(capsys, "apply", str(folder), "--yes")
    assert unset.code == 2 and f"${OPENAI_VAR}" in unset.err, unset.err
    texts = [applied.out, applied.err, planned.out, planned.err, refused.out, refused.err,
             unset.out, unset.err, *rig.lines]
    stored = [p.read_bytes().decode(errors="replace")
              for p in [*rig.backend.rglob("*"), *home.rglob("*")] if p.is_file()]
    assert any("gpt-4o" in t for t in stored)  # the state was read
    for canary in (oa.admin_key, an.admin_key):
        assert not any(canary in t for t in texts + stored)


def test_per_service_projects_get_their_own_limits(
        rig: StackRig, tmp_path: Path, admins: Any) -> None:
    oa, an = admins
    folder = catalog(tmp_path / "c", oa, an, "      chat: {rpm: 70}\n",
                     projects=", projects: per-service", keys="per-service")
    rig.apply(folder)
    project = oa.project_named("aigw-prod-bot")
    assert project is not None
    assert oa.limits_of(project)["gpt-4o"]["max_requests_per_1_minute"] == 70
    assert oa.limits_of("proj_shared")["gpt-4o"] == ORG_GPT4O  # the shared one untouched


def test_a_limit_the_provider_refuses_fails_in_one_line(
        rig: StackRig, tmp_path: Path, admins: Any) -> None:
    oa, an = admins
    folder = catalog(tmp_path / "c", oa, an, "      chat: {rpm: 20000}\n")  # above the org's
    with pytest.raises(EngineError) as info:
        rig.apply(folder)
    assert "equal to or lower than the organization's rate limit" in info.value.message
    assert "\n" not in info.value.message
