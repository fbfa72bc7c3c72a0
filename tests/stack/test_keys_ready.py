"""Keys ready before a config is published: apply holds, plan and diff warn, the override audits.

Real OpenBao dev server and the real Pulumi engine (tests/stack/conftest.py); the
catalog is a copy of examples/. Slots are filled with canary values written
straight into KV v2 (what `aigw keys put` stores); no output may show one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml

from tests.helpers import run_cli
from tests.stack.conftest import StackRig
from tests.test_json_contract import check

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CANARY = "sk-canary-keys-ready-7f3a"


def live(client: hvac.Client, env: str, service: str) -> str:
    """The revision of a service's published config."""
    entry = client.secrets.kv.v2.read_secret_version(
        path=f"{env}/_aigw/config/{service}", mount_point="aigw",
        raise_on_deleted_version=True)["data"]
    return str(yaml.safe_load(entry["data"]["config"])["revision"])


def policy(client: hvac.Client, name: str) -> str:
    return str(client.read(f"sys/policies/acl/{name}")["data"]["policy"])


def edit(folder: Path, change: Any) -> None:
    path = folder / "aigw.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_a_switch_to_empty_slots_is_held_and_the_rest_applies(
        rig: StackRig, catalog_dir: Path, capsys: Any) -> None:
    client = rig.client()
    first = run_cli(capsys, "apply", str(catalog_dir), "--yes")
    assert first.code == 0, first.err  # first configs: published, even with empty slots
    assert "first config: published" in first.out
    # environments in the catalog's order (staging is declared first), not alphabetically
    assert first.out.index("aigw/staging: applying") < first.out.index("aigw/prod: applying")
    for env in ("staging", "prod"):
        rig.fill(catalog_dir, env, value=CANARY)
    before = {env: live(client, env, "support-bot") for env in ("staging", "prod")}
    research = live(client, "prod", "research-assistant")
    old_policy = policy(client, "aigw-prod-support-bot")

    def switch(doc: dict[str, Any]) -> None:
        doc["services"]["support-bot"]["keys"] = "shared"  # prod has no `default` keys
        doc["services"]["research-assistant"]["defaults"] = {"timeout": 45}

    edit(catalog_dir, switch)
    planned = run_cli(capsys, "plan", str(catalog_dir))
    assert planned.code == 1, planned.err
    assert ("slots bailian/default, deepseek/default, volcengine/default are empty and would "
            "be read by support-bot in prod: "
            f"apply will hold: keeps revision {before['prod']}") in planned.out
    assert "`aigw keys put deepseek/default --env prod`" in planned.out
    assert "restart the agent of support-bot" in planned.out  # staging: its key files change
    # a config change is summarized (aliases and routes), never an engine type name
    assert "gpt-4o: route openai/gpt-4o-2024-08-06 timeout changed" in planned.out
    assert "pulumi-python" not in planned.out

    held = run_cli(capsys, "apply", str(catalog_dir), "--yes", "--json")
    doc = check("apply", held, 1)
    assert [(d["service"], d["environment"]) for d in doc["held"]] == [("support-bot", "prod")]
    assert doc["held"][0]["empty_slots"] == ["bailian/default", "deepseek/default",
                                             "volcengine/default"]
    assert doc["held"][0]["fill"][1] == "aigw keys put deepseek/default --env prod"
    assert "support-bot in prod: slots bailian/default, deepseek/default, volcengine/default " \
        "are empty: held: keeps revision" in held.err
    assert CANARY not in held.out + held.err
    # held: the live config, policy and old slots of support-bot in prod are untouched
    assert live(client, "prod", "support-bot") == before["prod"]
    assert policy(client, "aigw-prod-support-bot") == old_policy
    assert client.read("aigw/metadata/prod/providers/deepseek/svc-support-bot")
    # the rest applied: staging's switch (its default slots hold keys), research-assistant,
    # and the new slot entries, so `keys put` can fill them
    assert live(client, "staging", "support-bot") != before["staging"]
    assert live(client, "prod", "research-assistant") != research
    assert client.read("aigw/metadata/prod/providers/deepseek/default")

    assert run_cli(capsys, "plan", str(catalog_dir)).code == 1  # still pending
    rig.fill(catalog_dir, "prod", ["deepseek/default", "volcengine/default",
                                       "bailian/default"])
    rerun = run_cli(capsys, "apply", str(catalog_dir), "--yes")
    assert rerun.code == 0, rerun.out + rerun.err
    assert live(client, "prod", "support-bot") != before["prod"]
    assert "restart the agent of support-bot" in rerun.out
    assert policy(client, "aigw-prod-support-bot") != old_policy
    assert run_cli(capsys, "plan", str(catalog_dir)).code == 0


def test_allow_empty_slots_publishes_and_leaves_an_audit_record(
        rig: StackRig, catalog_dir: Path, capsys: Any) -> None:
    client = rig.client()
    assert run_cli(capsys, "apply", str(catalog_dir), "--env", "prod", "--yes").code == 0
    rig.fill(catalog_dir, "prod")
    before = live(client, "prod", "eu-contracts")
    edit(catalog_dir, lambda d: d["services"]["eu-contracts"].update(keys="shared"))
    planned = run_cli(capsys, "plan", str(catalog_dir), "--env", "prod", "--json")
    doc = check("plan", planned, 1)
    assert [d["service"] for d in doc["held"]] == ["eu-contracts"]
    assert "would be read by eu-contracts in prod" in planned.err

    allowed = run_cli(capsys, "apply", str(catalog_dir), "--env", "prod", "--yes",
                      "--allow-empty-slots")
    assert allowed.code == 0, allowed.err
    assert "published anyway (--allow-empty-slots, audited)" in allowed.out
    assert live(client, "prod", "eu-contracts") != before
    audit = client.secrets.kv.v2.list_secrets(path="prod/_aigw/audit", mount_point="aigw")
    records = [client.secrets.kv.v2.read_secret_version(
        path=f"prod/_aigw/audit/{k}", mount_point="aigw",
        raise_on_deleted_version=True)["data"]["data"] for k in audit["data"]["keys"]
        if k[0].isdigit()]
    overrides = [r for r in records if r.get("action") == "allow-empty-slots"]
    held = doc["held"][0]
    assert sorted(r["slot"] for r in overrides) == held["empty_slots"]  # one per slot
    assert {(r["detail"]["service"], r["detail"]["from_revision"], r["from_state"])
            for r in overrides} == {("eu-contracts", before, "empty")}
    audit = run_cli(capsys, "audit", "--env", "prod", "--verify", str(catalog_dir))
    assert audit.code == 0, audit.err
    assert f"prod/{held['empty_slots'][0]} allow-empty-slots: empty -> published" in audit.out


def test_diff_flags_empty_slots_and_agent_restarts_without_the_engine(
        rig: StackRig, catalog_dir: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    assert run_cli(capsys, "apply", str(catalog_dir), "--env", "prod", "--yes").code == 0
    rig.fill(catalog_dir, "prod")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t",
                                                 "commit", "-qm", "base"]):
        subprocess.run(["git", *args], cwd=catalog_dir, check=True)
    edit(catalog_dir, lambda d: d["services"]["support-bot"].update(keys="shared"))
    monkeypatch.chdir(catalog_dir)
    out = run_cli(capsys, "diff", ".", "--base", "HEAD", "--env", "prod", "--no-plan",
                  "--format", "json")
    doc = check("diff", out, 0)
    effects = {e["kind"]: e for e in doc["services"]["support-bot"]["effects"]}
    assert "deepseek/default, volcengine/default are empty and would be read by support-bot " \
        "in prod" in effects["keys-not-ready"]["text"]
    assert "restart the agent of support-bot" in effects["agent-restart"]["text"]
    assert "bao-agent.hcl" in effects["agent-restart"]["after"]
