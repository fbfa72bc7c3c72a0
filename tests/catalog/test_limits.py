"""`services.<s>.limits` and `workspace`: validation at file:line, per-environment overrides,
and what each limit reaches (aigw.catalog.limits)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aigw.catalog import environment_view, load_catalog
from aigw.catalog.limits import resolved, unenforced
from aigw.errors import CatalogError
from tests.helpers import run_cli

BASE = """\
environments:
  staging:
    overrides: {}
  prod: {}
providers:
  openai:
    api: openai
    base_url: https://api.openai.com/v1
    region: us
    rotation: {driver: openai-admin, params: {project_id: proj_shared}}
  claude: {api: anthropic, base_url: https://api.anthropic.com, region: us}
  deepseek: {api: openai, base_url: https://api.deepseek.com, region: cn}
models:
  chat:
    routes:
      - {provider: openai, model: gpt-4o}
      - {provider: deepseek, model: deepseek-chat}
  mini:
    routes:
      - {provider: openai, model: gpt-4o-mini}
  claude:
    routes:
      - {provider: claude, model: claude-sonnet-4-5}
services:
  bot:
    environments: [staging, prod]
    models: [chat, mini, claude]
    workspace: wrkspc_bot
    limits:
      chat: {rpm: 500, tpm: 200000}
      openai/gpt-4o-mini: {rpm: 60, rpd: 10000}
      claude: {rpm: 50, output_tpm: 8000}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "aigw.yaml").write_text(text)
    return tmp_path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(CatalogError) as info:
        load_catalog(write(tmp_path, text))
    return [f"{p.mark.line}: {p.key}: {p.message}" for p in info.value.problems]


def test_limits_reach_each_route_at_a_provider_with_a_limit_api(tmp_path: Path) -> None:
    cat = load_catalog(write(tmp_path, BASE)).catalog
    got = {(t.provider, t.model): (scope, values) for scope, t, values
           in resolved(cat, "prod", "bot")}
    assert got == {
        ("openai", "gpt-4o"): (("id", "proj_shared"), {"rpm": 500, "tpm": 200000}),
        ("openai", "gpt-4o-mini"): (("id", "proj_shared"), {"rpm": 60, "rpd": 10000}),
        ("claude", "claude-sonnet-4-5"): (("workspace", "wrkspc_bot"),
                                          {"rpm": 50, "output_tpm": 8000}),
    }
    # DeepSeek has no limit API: the alias limit skips it, and plan says so.
    assert [(t.provider, t.model) for t in unenforced(cat, "bot")] == [("deepseek",
                                                                         "deepseek-chat")]


def test_a_model_entry_wins_over_its_alias_entry(tmp_path: Path) -> None:
    text = BASE.replace("      openai/gpt-4o-mini: {rpm: 60, rpd: 10000}\n",
                        "      openai/gpt-4o: {rpm: 7}\n")
    cat = load_catalog(write(tmp_path, text)).catalog
    got = {t.model: values for _, t, values in resolved(cat, "prod", "bot")}
    assert got["gpt-4o"] == {"rpm": 7}


def test_limits_differ_per_environment_by_the_override_rule(tmp_path: Path) -> None:
    text = BASE.replace("    overrides: {}\n", (
        "    overrides:\n      services:\n        bot:\n          limits:\n"
        "            chat: {rpm: 5}\n            openai/gpt-4o-mini: null\n"))
    cat = load_catalog(write(tmp_path, text)).catalog
    staging = {t.model: v for _, t, v in resolved(environment_view(cat, "staging"),
                                                 "staging", "bot")}
    prod = {t.model: v for _, t, v in resolved(environment_view(cat, "prod"), "prod", "bot")}
    assert staging["gpt-4o"] == {"rpm": 5, "tpm": 200000}  # maps merge
    assert "gpt-4o-mini" not in staging  # null removes
    assert prod["gpt-4o"] == {"rpm": 500, "tpm": 200000} and prod["gpt-4o-mini"]["rpm"] == 60


@pytest.mark.parametrize(("edit", "expected"), [
    (("chat: {rpm: 500, tpm: 200000}", "chat: {rpm: -5}"),
     "30: services.bot.limits.chat.rpm: Input should be greater than or equal to 1"),
    (("chat: {rpm: 500, tpm: 200000}", "chatt: {rpm: 5}"),
     "30: services.bot.limits.chatt: 'chatt' is not an alias the service calls"),
    (("openai/gpt-4o-mini:", "openai/gpt-5:"),
     "31: services.bot.limits.openai/gpt-5: the service does not call model 'gpt-5' at "
     "'openai'"),
    (("openai/gpt-4o-mini: {rpm: 60, rpd: 10000}", "deepseek/deepseek-chat: {rpm: 60}"),
     "31: services.bot.limits.deepseek/deepseek-chat: provider 'deepseek' has no rate-limit "
     "API aigw can set"),
    (("claude: {rpm: 50, output_tpm: 8000}", "claude: {rpm: 50, tpm: 8000}"),
     "32: services.bot.limits.claude.tpm: Anthropic workspace rate limits have no `tpm` "
     "(route claude/claude-sonnet-4-5)"),
    (("    workspace: wrkspc_bot\n", ""),
     "31: services.bot.limits.claude: limits at 'claude' need the service's `workspace`"),
    (("params: {project_id: proj_shared}", "params: {project_id: proj_shared, projects: each}"),
     "10: providers.openai.rotation.params.projects: projects must be one of single, "
     "per-service, got 'each'"),
    (("chat: {rpm: 500, tpm: 200000}", "chat: {rpm: 5, burst: 3}"),
     "30: services.bot.limits.chat.burst: unknown field"),
])
def test_bad_limits_are_located(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    assert expected in problems(tmp_path, BASE.replace(*edit))


def test_an_override_error_points_at_the_override(tmp_path: Path) -> None:
    text = BASE.replace("    overrides: {}\n", (
        "    overrides:\n      services:\n        bot:\n          limits:\n"
        "            chat: {rpm: 0}\n"))
    assert ("7: environments.staging.overrides.services.bot.limits.chat.rpm: Input should "
            "be greater than or equal to 1") in problems(tmp_path, text)


def test_two_services_in_one_shared_project_must_agree(tmp_path: Path) -> None:
    text = BASE + ("  web:\n    environments: [prod]\n    models: [mini]\n"
                   "    limits: {mini: {rpm: 99}}\n")
    found = problems(tmp_path, text)
    assert any("services.web.limits.mini: service 'bot' sets other limits for "
               "openai/gpt-4o-mini in the same project 'proj_shared' (prod)" in p
               for p in found), found
    # With one project per service (and per-service keys) each has its own.
    per = text.replace("params: {project_id: proj_shared}",
                       "params: {project_id: proj_shared, projects: per-service}")
    per = per.replace("    workspace: wrkspc_bot\n", "    workspace: wrkspc_bot\n"
                      "    keys: per-service\n").replace(
        "    limits: {mini: {rpm: 99}}\n", "    keys: per-service\n    limits: {mini: {rpm: 99}}\n")
    cat = load_catalog(write(tmp_path, per)).catalog
    scopes = {s: next(sc for sc, t, _ in resolved(cat, "prod", s) if t.model == "gpt-4o-mini")
              for s in ("bot", "web")}
    assert scopes == {"bot": ("name", "aigw-prod-bot"), "web": ("name", "aigw-prod-web")}


def test_validate_cli_exits_2_with_one_line_per_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, BASE.replace("chat: {rpm: 500, tpm: 200000}", "chat: {rpm: -1}"))
    result = run_cli(capsys, "validate", str(tmp_path))
    text = result.out + result.err
    assert result.code == 2, text
    assert "aigw.yaml:30" in text and "limits.chat.rpm" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("catalog", ["examples/aigw.yaml", "cli/aigw/scaffold/files/aigw.yaml"])
def test_the_commented_limits_example_is_valid_once_uncommented(
        catalog: str, tmp_path: Path) -> None:
    """The example and the scaffold carry `limits` commented out (applying them needs the
    providers' admin keys); uncommented, they validate and reach OpenAI and Anthropic."""
    text = (Path(__file__).resolve().parents[2] / catalog).read_text()
    live, n = re.subn(r"^    # (workspace: .*|limits:|  [\w/.-]+: \{.*)$", r"    \1", text,
                      flags=re.MULTILINE)
    assert n == 5
    (tmp_path / "aigw.yaml").write_text(live)
    cat = load_catalog(tmp_path).catalog
    reached = sorted((scope, t.provider, t.model, tuple(sorted(values.items())))
                     for scope, t, values in resolved(cat, "prod", "research-assistant"))
    assert reached == [
        (("id", "proj_example"), "openai", "gpt-4o-2024-08-06",
         (("rpm", 500), ("tpm", 200000))),
        (("id", "proj_example"), "openai", "gpt-4o-mini", (("rpd", 10000), ("rpm", 60))),
        (("workspace", "wrkspc_01ExampleResearch"), "anthropic", "claude-sonnet-4-5",
         (("output_tpm", 8000), ("rpm", 50))),
    ]
    assert [(t.provider, t.key) for t in unenforced(cat, "research-assistant")] == [
        ("bedrock-us", "claude-sonnet")]
