"""The default rules: a passing and a failing catalog each, located at the right file:line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.governance import check_policies, evaluate_policies, policy_input
from aigw.scaffold import FILES
from tests.governance.catalogs import GOOD, line_of, load_unchecked, write
from tests.governance.conftest import ROOT
from tests.helpers import run_cli

pytestmark = pytest.mark.usefixtures("opa")

# rule -> (severity, edit breaking it, (text on the offending line, search from line))
BREAKS: dict[str, tuple[str, tuple[str, str], tuple[str, int]]] = {
    "prod-per-service-keys": ("deny", ("    keys: per-service\n  helper:",
                                       "    keys: shared\n  helper:"), ("keys: shared", 0)),
    "prod-two-providers": ("deny", ("      - {provider: bedrock, model: claude}\n", ""),
                           ("routes:", 0)),
    "key-max-age": ("deny", ("max_age: 7d", "max_age: 120d"), ("max_age: 120d", 0)),
    "prod-route-price": ("deny", ("      claude: {currency: USD", "      claude-3: {currency: USD"),
                         ("{provider: bedrock, model: claude}", 0)),
    "prod-service-budget": ("warn", ('    budget: {monthly: "50", currency: EUR}\n', ""),
                            ("  helper:", 0)),
    "prod-service-limits": ("warn", ('USD}\n    limits: {chat: {rpm: 100}}\n', "USD}\n"),
                            ("  bot:", 0)),
    "prod-rotation-driver": ("warn", ("driver: aws-iam, ", "driver: manual, "),
                             ("driver: manual", 0)),
}


def test_the_good_catalog_passes_every_rule(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path / "good")
    report = evaluate_policies(load_catalog(folder))
    assert report.findings == []
    assert report.rules == ["budget-shared-slot", "eval-regression", "key-max-age",
                            "prod-per-service-keys", "prod-rotation-driver", "prod-route-price",
                            "prod-service-budget", "prod-service-limits", "prod-two-providers",
                            "residency"]
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == 0, result.out + result.err
    assert "policy check: 0 deny, 0 warn, 0 waived (10 rules)" in result.out


@pytest.mark.parametrize("rule", sorted(BREAKS))
def test_each_rule_fails_its_catalog_at_the_right_line(
        rule: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    severity, edit, (needle, start) = BREAKS[rule]
    folder = write(tmp_path / rule, replace=edit)
    findings = check_policies(load_catalog(folder))
    assert findings and {(f.rule, f.severity) for f in findings} == {(rule, severity)}
    line = line_of(folder, needle, start)
    assert {f.mark.line for f in findings if f.mark is not None} == {line}
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == (1 if severity == "deny" else 0)
    first = result.out.splitlines()[0]
    assert f"aigw.yaml:{line}:" in first and f": {severity} {rule}: " in first


def test_prod_two_providers_needs_two_distinct_providers(tmp_path: Path) -> None:
    folder = write(tmp_path / "same", replace=("{provider: bedrock, model: claude}",
                                               "{provider: openai, model: gpt-4o}"))
    findings = check_policies(load_catalog(folder))
    assert {(f.rule, f.service) for f in findings} == {("prod-two-providers", "bot"),
                                                       ("prod-two-providers", "helper")}
    assert "2 route(s) on 1 provider(s) (openai)" in findings[0].message


def test_budget_on_a_shared_slot_is_a_warning(tmp_path: Path) -> None:
    """Both services on shared keys: each one's budget sees a slot the other uses too."""
    folder = write(tmp_path / "shared", GOOD.replace("keys: per-service", "keys: shared"))
    found = [f for f in check_policies(load_catalog(folder)) if f.rule == "budget-shared-slot"]
    assert {(f.severity, f.service) for f in found} == {("warn", "bot"), ("warn", "helper")}
    bot = next(f for f in found if f.service == "bot")
    assert "shares key slot(s) bedrock/default (with helper), openai/default (with helper) in prod" \
        in bot.message
    assert bot.mark is not None and bot.mark.line == line_of(folder, 'budget: {monthly: "100"')


def test_prod_service_limits_names_service_provider_and_fix(tmp_path: Path) -> None:
    """A prod override that removes the limits trips the rule (the merged view counts);
    a staging override does not."""
    text = GOOD.replace("  prod: {}\n", "  prod:\n    overrides:\n      services:\n"
                        "        helper: {limits: null}\n", 1)
    found = check_policies(load_catalog(write(tmp_path / "prod", text)))
    assert [(f.rule, f.severity, f.service) for f in found] == [
        ("prod-service-limits", "warn", "helper")]
    assert found[0].message == (
        "helper runs in prod with per-service keys at openai (OpenAI project rate limits) but "
        "declares no `limits`: add e.g. `limits: {chat: {rpm: 500}}` so the provider enforces "
        "its rate limits (docs/limits.md)")
    text = GOOD.replace("  staging: {}\n", "  staging:\n    overrides:\n      services:\n"
                        "        bot: {limits: null}\n", 1)
    assert check_policies(load_catalog(write(tmp_path / "staging", text))) == []


def test_staging_only_services_are_not_held_to_prod_rules(tmp_path: Path) -> None:
    text = "\n".join(x for x in GOOD.splitlines() if "budget:" not in x) + "\n"
    text = text.replace("    environments: [prod]\n", "    environments: [staging]\n")
    text = text.replace("      - {provider: bedrock, model: claude}\n", "")
    text = text.replace("    environments: [staging, prod]\n", "    environments: [staging]\n")
    folder = write(tmp_path / "staging", text.replace("keys: per-service", "keys: shared"))
    assert check_policies(load_catalog(folder)) == []


def test_residency_rule(tmp_path: Path) -> None:
    # Passing: routes inside the regions. Failing: a route outside them (which
    # `aigw validate` refuses too, so the catalog is loaded without those checks).
    assert check_policies(load_unchecked(write(tmp_path / "in"))) == []
    folder = write(tmp_path / "out", replace=("    region: eu\n    rotation: {driver: aws",
                                              "    region: us\n    rotation: {driver: aws"))
    findings = check_policies(load_unchecked(folder))
    assert {(f.rule, f.severity, f.service) for f in findings} == {
        ("residency", "deny", "bot"), ("residency", "deny", "helper")}
    assert findings[0].path == ("models", "chat", "routes", 1, "provider")
    assert findings[0].mark is not None
    assert findings[0].mark.line == line_of(folder, "{provider: bedrock")
    # Routes are named as dotted paths, like every catalog message (issue 14).
    assert "models.chat.routes[1] (bedrock, region us) is outside" in findings[0].message
    # A production service without `regions:` is a warning.
    folder = write(tmp_path / "none", replace=("    regions: [eu]\n    keys: per-service\n  helper",
                                               "    keys: per-service\n  helper"))
    found = check_policies(load_catalog(folder))
    assert [(f.rule, f.severity, f.service) for f in found] == [("residency", "warn", "bot")]
    assert found[0].mark is not None and found[0].mark.line == line_of(folder, "  bot:")


def test_policy_input_shape(tmp_path: Path) -> None:
    doc = policy_input(load_catalog(write(tmp_path / "good")).catalog)
    assert doc["prod_environments"] == ["prod"]
    assert [(d["service"], d["environment"], d["prod"]) for d in doc["deployments"]] == [
        ("bot", "prod", True), ("bot", "staging", False), ("helper", "prod", True)]
    route = doc["deployments"][0]["aliases"]["chat"][1]
    assert route == {"index": 1, "provider": "bedrock", "model": "claude", "api": "bedrock",
                     "region": "eu", "slot": "svc-bot", "priced": True,
                     "limit_api": None}
    assert doc["providers"]["bedrock"]["max_age"] == "1w"
    assert doc["providers"]["bedrock"]["prod_services"] == ["bot", "helper"]
    assert doc["services"]["helper"] == {"environments": ["prod"], "prod": True,
                                         "providers": ["bedrock", "openai"],
                                         "regions_used": ["eu"]}


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path / "c", replace=BREAKS["key-max-age"][1])
    result = run_cli(capsys, "policy", "check", str(folder), "--json")
    doc = json.loads(result.out)
    assert result.code == 1 and doc["ok"] is False
    assert doc["counts"] == {"deny": 1, "warn": 0, "waived": 0}
    f = doc["findings"][0]
    assert (f["rule"], f["provider"], f["service"], f["key"]) == (
        "key-max-age", "bedrock", None, "providers.bedrock.rotation.max_age")


def test_the_example_catalog_verdicts() -> None:
    """The example's three denies are each waived, with a reason, in examples/policies/."""
    report = evaluate_policies(load_catalog(ROOT / "examples"), root=ROOT / "examples")
    assert report.blocking == []
    waived_denies = {(f.rule, f.service or f.provider) for f in report.findings
                     if f.severity == "deny" and f.waived is not None}
    assert sorted(waived_denies) == [
        ("prod-per-service-keys", "research-assistant"),
        ("prod-two-providers", "eu-contracts"), ("prod-two-providers", "research-assistant")]


def test_rules_are_opa_formatted(opa: Path) -> None:
    out = subprocess.run([str(opa), "fmt", "--list", str(ROOT / "policies"),
                          str(FILES / "policies")], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout == "", f"run `opa fmt -w` on: {out.stdout}"
