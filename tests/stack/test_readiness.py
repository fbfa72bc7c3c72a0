"""Keys ready, the pure parts: policy grants, the verdict of one deployment, its lines and
JSON, the config-change summary, and the words a plan prints (no server here; the
behaviour against OpenBao and the engine is tests/stack/test_keys_ready.py)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from aigw import cli
from aigw.stack.readiness import DeploymentReadiness, grants_read
from aigw.stack.report import TYPE_PREFIX, config_summary, kind_of

POLICY = """
path "aigw/data/prod/providers/deepseek/svc-web" {
  capabilities = ["read"]
}

path "aigw/data/prod/providers/+/shared" {
  capabilities = ["read"]
}

path "aigw/data/prod/_aigw/*" {
  capabilities = ["create", "update"]
}

path "aigw/data/prod/providers/openai/*" {
  capabilities = ["read"]
}

path "aigw/data/prod/providers/openai/secret" {
  capabilities = ["deny"]
}
"""


def test_grants_read_follows_openbao_paths() -> None:
    assert grants_read(POLICY, "aigw/data/prod/providers/deepseek/svc-web")
    assert not grants_read(POLICY, "aigw/data/prod/providers/deepseek/default")
    assert grants_read(POLICY, "aigw/data/prod/providers/bailian/shared")  # `+`: one segment
    assert not grants_read(POLICY, "aigw/data/prod/providers/a/b/shared")
    assert grants_read(POLICY, "aigw/data/prod/providers/openai/default")  # `*`: a prefix
    assert not grants_read(POLICY, "aigw/data/prod/providers/openai/secret")  # deny wins
    assert not grants_read(POLICY, "aigw/data/prod/_aigw/config/web")  # no read capability


def verdict(**kw: object) -> DeploymentReadiness:
    base: dict[str, object] = {"service": "web-app", "environment": "staging",
                               "live_revision": "aaaa", "new_revision": "bbbb"}
    return DeploymentReadiness(**{**base, **kw})  # type: ignore[arg-type]


def test_a_changed_published_deployment_reading_an_empty_slot_is_held() -> None:
    d = verdict(empty=("deepseek/default",))
    assert d.held and d.blocked
    assert d.lines(ahead=True) == [
        "slot deepseek/default is empty and would be read by web-app in staging: apply will "
        "hold: keeps revision aaaa, its policy, role and slots; fill: `aigw keys put "
        "deepseek/default --env staging`, then rerun `aigw apply`"]
    assert d.as_dict() == {
        "service": "web-app", "environment": "staging", "live_revision": "aaaa",
        "new_revision": "bbbb", "empty_slots": ["deepseek/default"], "unreadable_slots": [],
        "held": True, "allowed": False, "agent_restart": False,
        "fill": ["aigw keys put deepseek/default --env staging"]}


def test_what_is_not_held() -> None:
    assert not verdict().held  # every slot filled
    assert not verdict(empty=("a/b",), new_revision="aaaa").held  # unchanged: left alone
    first = verdict(empty=("a/b",), live_revision=None)
    assert not first.held and "first config: published" in first.lines(ahead=False)[0]
    allowed = verdict(empty=("a/b",), allowed=True)
    assert not allowed.held and "--allow-empty-slots, audited" in allowed.lines(ahead=False)[0]
    unreadable = verdict(unreadable=("a/b", "c/d"))
    assert unreadable.held
    assert unreadable.lines(ahead=False)[0].startswith(
        "web-app in staging: slots a/b, c/d are not readable by its policy: held")


def test_an_agent_whose_key_files_change_is_told_to_restart() -> None:
    assert verdict(agent_changed=True).lines(ahead=True) == [
        "web-app in staging: the key files its agent writes change: restart the agent of "
        "web-app (re-render it first; the live aigw-client.json needs no restart)"]
    held = verdict(agent_changed=True, empty=("a/b",))
    assert not any("restart" in line for line in held.lines(ahead=False))  # not yet


def _config(**aliases: list[dict[str, object]]) -> str:
    return json.dumps({"version": 1, "key_dir": "/k", "revision": "x",
                       "aliases": {a: {"family": "openai", "routes": r}
                                   for a, r in aliases.items()}})


def test_a_config_change_is_summarized_by_alias_and_route() -> None:
    a = {"provider": "deepseek", "model": "deepseek-chat", "timeout": 30.0}
    b = {"provider": "bailian", "model": "deepseek-v3", "timeout": 30.0}
    old = _config(chat=[a, b], gone=[a])
    assert config_summary(old, _config(chat=[b, a], new=[a])) == (
        "+alias new; -alias gone; chat: routes deepseek/deepseek-chat, bailian/deepseek-v3 "
        "-> bailian/deepseek-v3, deepseek/deepseek-chat")
    assert config_summary(old, _config(chat=[a, {**b, "timeout": 45.0}], gone=[a])) == (
        "chat: route bailian/deepseek-v3 timeout changed")
    assert config_summary("{not json", old) == ""


def test_a_plan_never_prints_an_engine_type_name() -> None:
    assert kind_of(f"{TYPE_PREFIX}AuthMethodConfig") == "authconfig"
    assert kind_of(f"{TYPE_PREFIX}ClientConfig") == "config"
    assert kind_of(f"{TYPE_PREFIX}SomethingNew") == "somethingnew"
    assert kind_of("pulumi:providers:vault") == "vault"


def test_apply_help_says_what_it_publishes() -> None:
    cli._register()
    out = CliRunner().invoke(cli.app, ["apply", "--help"], terminal_width=200).output
    assert "running services switch to a published config within" in " ".join(out.split())
    assert "--allow-empty-slots" in out and "--json" in out
