"""The pure half of provider limits (aigw.stack.limits): what each environment's stack
declares, and that the fast plan's fingerprint covers it."""

from __future__ import annotations

from pathlib import Path

from aigw.catalog import load_catalog
from aigw.stack.fastplan import spec_digest
from aigw.stack.limits import LimitSpec, limit_specs
from aigw.stack.spec import environment_spec
from tests.catalog.test_limits import BASE


def _specs(tmp_path: Path, text: str, env: str = "prod") -> tuple[LimitSpec, ...]:
    (tmp_path / "aigw.yaml").write_text(text)
    return limit_specs(load_catalog(tmp_path).catalog, env)


def test_one_resource_per_model_and_scope_in_the_apis_own_fields(tmp_path: Path) -> None:
    got = {s.resource_name: (s.values, s.admin_key_env) for s in _specs(tmp_path, BASE)}
    assert got == {
        "limit.claude.wrkspc_bot.claude-sonnet-4-5": (
            {"output_tokens_per_minute": 8000, "requests_per_minute": 50},
            "ANTHROPIC_ADMIN_KEY"),
        "limit.openai.proj_shared.gpt-4o": (
            {"max_requests_per_1_minute": 500, "max_tokens_per_1_minute": 200000},
            "OPENAI_ADMIN_KEY"),
        "limit.openai.proj_shared.gpt-4o-mini": (
            {"max_requests_per_1_day": 10000, "max_requests_per_1_minute": 60},
            "OPENAI_ADMIN_KEY"),
    }


def test_services_agreeing_on_a_shared_project_share_one_resource(tmp_path: Path) -> None:
    text = BASE + ("  web:\n    environments: [prod]\n    models: [mini]\n"
                   "    limits: {openai/gpt-4o-mini: {rpm: 60, rpd: 10000}}\n")
    [mini] = [s for s in _specs(tmp_path, text) if s.model == "gpt-4o-mini"]
    assert mini.services == ("bot", "web")


def test_a_changed_limit_changes_the_fast_plan_fingerprint(tmp_path: Path) -> None:
    """So `aigw plan` starts the engine for it instead of answering "no changes"."""
    digests = []
    for text in (BASE, BASE.replace("chat: {rpm: 500,", "chat: {rpm: 499,")):
        (tmp_path / "aigw.yaml").write_text(text)
        spec = environment_spec(load_catalog(tmp_path).catalog, "prod")
        digests.append(spec_digest(spec, "http://127.0.0.1:1", "cluster"))
    assert digests[0] != digests[1]
