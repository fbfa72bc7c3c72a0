"""plan/apply/destroy with the real engine and a real OpenBao: exact plans, exact results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw.catalog import load_catalog
from aigw.stack.session import StackResult
from tests.helpers import run_cli
from tests.stack.conftest import EXAMPLES, StackRig
from tests.stack.vaultstate import assert_holds_exactly

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENVS = ["prod", "staging"]


def changes(results: list[StackResult]) -> set[tuple[str, str, str]]:
    return {(c.op, c.kind, c.target) for r in results for c in r.changes}


def edit_services(folder: Path, edit: Any) -> None:
    path = folder / "aigw.yaml"
    doc = yaml.safe_load(path.read_text())
    edit(doc["services"])
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_apply_examples_then_plan_says_no_changes(rig: StackRig, capsys: Any) -> None:
    applied = run_cli(capsys, "apply", str(EXAMPLES), "--yes")
    assert applied.code == 0, applied.err
    # 19 objects, plus the Kubernetes auth method and the roles of its two k8s deployments
    assert "aigw/prod: 22 created" in applied.out and "[22/22]" in applied.out
    for extra in ((), ("--refresh",)):  # against the state, and against OpenBao itself
        planned = run_cli(capsys, "plan", str(EXAMPLES), *extra)
        assert planned.code == 0, planned.err
        assert [ln for ln in planned.out.splitlines()
                if ": planned " not in ln and ": read back " not in ln] == [
            "aigw/staging: no changes (28 resources up to date)",  # the catalog's order
            "aigw/prod: no changes (22 resources up to date)",
        ]
    client = rig.client()
    assert_holds_exactly(client, load_catalog(EXAMPLES).catalog, ENVS)
    config = client.secrets.kv.v2.read_configuration(mount_point="aigw")["data"]
    assert config["cas_required"] is True and config["max_versions"] == 10
    assert client.sys.list_auth_methods()["data"]["approle/"]["type"] == "approle"


def test_adding_changing_and_removing_a_service_plans_exactly_that(
        rig: StackRig, catalog_dir: Path, capsys: Any) -> None:
    rig.apply(catalog_dir)
    edit_services(catalog_dir, lambda s: s.update({"new-svc": {
        "environments": ["prod"], "models": ["gpt-4o"], "keys": "per-service"}}))
    planned = run_cli(capsys, "plan", str(catalog_dir))
    assert planned.code == 1
    assert changes(rig.plan(catalog_dir)) == {
        ("create", "policy", "aigw-prod-new-svc"),
        ("create", "role", "auth/approle/role/aigw-prod-new-svc"),
        ("create", "slot", "aigw/prod/providers/openai/svc-new-svc"),
        ("create", "config", "aigw/prod/_aigw/config/new-svc"),
    }
    rig.apply(catalog_dir)
    assert_holds_exactly(rig.client(), load_catalog(catalog_dir).catalog, ENVS)

    edit_services(catalog_dir, lambda s: s["new-svc"].update(models=["gpt-4o", "claude-sonnet"]))
    plan = rig.plan(catalog_dir)
    assert [d.service for r in plan for d in r.held] == ["new-svc"]  # its new slots are empty
    assert changes(plan) == {  # so apply would only create them
        ("create", "slot", "aigw/prod/providers/anthropic/svc-new-svc"),
        ("create", "slot", "aigw/prod/providers/bedrock-us/svc-new-svc"),
    }
    rig.fill(catalog_dir, "prod")
    plan = rig.plan(catalog_dir)
    assert changes(plan) == {
        ("update", "policy", "aigw-prod-new-svc"),
        ("create", "slot", "aigw/prod/providers/anthropic/svc-new-svc"),
        ("create", "slot", "aigw/prod/providers/bedrock-us/svc-new-svc"),  # its Bedrock fallback
        ("update", "config", "aigw/prod/_aigw/config/new-svc"),
    }
    policy_diff = next(c for r in plan for c in r.changes if c.kind == "policy").detail()
    assert '+path "aigw/data/prod/providers/anthropic/svc-new-svc" {' in policy_diff
    rig.apply(catalog_dir)
    assert_holds_exactly(rig.client(), load_catalog(catalog_dir).catalog, ENVS)

    edit_services(catalog_dir, lambda s: s.pop("new-svc"))
    assert changes(rig.plan(catalog_dir)) == {
        ("delete", "policy", "aigw-prod-new-svc"),
        ("delete", "role", "auth/approle/role/aigw-prod-new-svc"),
        ("delete", "slot", "aigw/prod/providers/openai/svc-new-svc"),
        ("delete", "slot", "aigw/prod/providers/anthropic/svc-new-svc"),
        ("delete", "slot", "aigw/prod/providers/bedrock-us/svc-new-svc"),
        ("delete", "config", "aigw/prod/_aigw/config/new-svc"),
    }
    for provider in ("openai", "anthropic", "bedrock-us"):  # the values fill() stored (an
        rig.client().secrets.kv.v2.delete_metadata_and_all_versions(  # entry that held one
            f"prod/providers/{provider}/svc-new-svc", mount_point="aigw")  # is kept)
    rig.apply(catalog_dir)
    assert_holds_exactly(rig.client(), load_catalog(catalog_dir).catalog, ENVS)
    assert not any(r.changed for r in rig.plan(catalog_dir))


def test_drift_made_by_hand_shows_in_plan_and_apply_reverts_it(
        rig: StackRig, capsys: Any) -> None:
    rig.apply(EXAMPLES)
    client = rig.client()
    client.sys.create_or_update_acl_policy("aigw-prod-support-bot",
                                           'path "aigw/data/prod/*" {\n  capabilities = ["read"]\n}\n')
    client.adapter.delete("/v1/auth/approle/role/aigw-staging-nightly-batch")
    client.adapter.post("/v1/aigw/metadata/staging/providers/openai/batch",
                        json={"custom_metadata": {"max_age": "1d"}})
    planned = run_cli(capsys, "plan", str(EXAMPLES), "--refresh")
    assert planned.code == 1
    assert '-path "aigw/data/prod/*" {' in planned.out  # the live text against the catalog's
    assert changes(rig.plan(EXAMPLES, refresh=True)) == {
        ("update", "policy", "aigw-prod-support-bot"),
        ("create", "role", "auth/approle/role/aigw-staging-nightly-batch"),
        ("update", "slot", "aigw/staging/providers/openai/batch"),
    }
    assert not any(r.changed for r in rig.plan(EXAMPLES))  # the state alone cannot see it
    rig.apply(EXAMPLES)  # apply refreshes by default: it repairs the drift
    assert_holds_exactly(client, load_catalog(EXAMPLES).catalog, ENVS)
    assert run_cli(capsys, "plan", str(EXAMPLES), "--refresh").code == 0


def test_destroy_removes_what_the_stacks_own_and_keeps_values(
        rig: StackRig, capsys: Any) -> None:
    rig.apply(EXAMPLES)
    client = rig.client()
    client.secrets.kv.v2.create_or_update_secret("prod/providers/openai/default",
                                                 {"api_key": "sk-keep"}, cas=0,
                                                 mount_point="aigw")
    refused = run_cli(capsys, "destroy", "--env", "prod")  # stdin is not a terminal here
    assert refused.code == 2 and "--yes" in refused.err
    done = run_cli(capsys, "destroy", "--yes")
    assert done.code == 0, done.err
    assert "aigw/prod: destroyed" in done.out and "aigw/staging: destroyed" in done.out
    # One count through the whole stack ([k/22], not [k/k]); shared objects say they stay.
    prod = done.out.split("aigw/prod: destroyed")[0].splitlines()
    assert [ln.split("]")[0].strip() for ln in prod] == [f"[{k}/22" for k in range(1, 23)]
    assert "  [22/22] kept (shared) mount aigw/" in prod or any(
        ln.endswith("kept (shared) mount aigw/") for ln in prod)
    assert any(ln.endswith("kept (shared) auth auth/approle/") for ln in prod)
    assert not any("deleted mount" in ln or "deleted auth" in ln for ln in done.out.splitlines())
    assert any(ln.endswith("kept (shared) auth auth/kubernetes/") for ln in prod)
    assert ("aigw/prod: destroyed (19 objects deleted; the mount and the auth methods stay, "
            "shared by every environment)") in done.out
    assert [p for p in client.sys.list_acl_policies()["data"]["keys"] if p.startswith("aigw-")] == []
    assert client.list("auth/approle/role") is None
    assert client.list("aigw/metadata/prod/providers/openai")["data"]["keys"] == ["default"]
    kept = client.secrets.kv.v2.read_secret_version("prod/providers/openai/default",
                                                    mount_point="aigw",
                                                    raise_on_deleted_version=True)
    assert kept["data"]["data"] == {"api_key": "sk-keep"}
    assert "aigw/" in client.sys.list_mounted_secrets_engines()["data"]


def test_usage_errors_exit_2(rig: StackRig, capsys: Any) -> None:
    unknown = run_cli(capsys, "plan", str(EXAMPLES), "--env", "qa")
    assert unknown.code == 2 and "unknown environment 'qa'" in unknown.err
    no_yes = run_cli(capsys, "apply", str(EXAMPLES))
    assert no_yes.code == 2 and "--yes" in no_yes.err


def test_apply_without_yes_shows_the_plan_and_asks(rig: StackRig) -> None:
    from aigw.stack import run

    questions: list[str] = []

    def say(answer: bool) -> Any:
        return lambda q: questions.append(q) or answer

    kw = {"echo": rig.lines.append, "vault": rig.vault, "engine": rig.engine}
    (skipped,) = run.apply(EXAMPLES, "prod", confirm=say(False), **kw)
    assert questions == ["apply these changes to aigw/prod?"] and not skipped.applied
    assert "aigw/prod: skipped" in rig.lines and "aigw/prod: 22 to create, 0 to update, " \
        "0 to delete, 0 unchanged" in rig.lines
    assert rig.client().sys.list_acl_policies()["data"]["keys"] == ["default", "root"]
    (done,) = run.apply(EXAMPLES, "prod", confirm=say(True), **kw)
    assert done.applied and done.counts == {"create": 22}
    (again,) = run.apply(EXAMPLES, "prod", confirm=say(True), **kw)
    assert not again.applied and len(questions) == 2  # nothing to change: not asked
