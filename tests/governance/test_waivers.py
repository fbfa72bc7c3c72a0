"""Waivers silence one rule for one service; team rules and `aigw policy test`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.governance import check_policies, evaluate_policies
from tests.governance.catalogs import write
from tests.helpers import run_cli

pytestmark = pytest.mark.usefixtures("opa")
SHARED = ("keys: per-service", "keys: shared")  # both services break prod-per-service-keys


def shared_keys(folder: Path, waivers: str | None = None) -> Path:
    text = write(folder).joinpath("aigw.yaml").read_text().replace(*SHARED)
    write(folder, text)
    if waivers is not None:
        (folder / "policies").mkdir(exist_ok=True)
        (folder / "policies" / "waivers.yaml").write_text(waivers)
    return folder


def test_a_waiver_silences_exactly_one_service(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_keys(tmp_path / "c")
    assert {f.service for f in check_policies(load_catalog(folder))} == {"bot", "helper"}
    shared_keys(folder, "- rule: prod-per-service-keys\n  service: bot\n"
                        "  reason: migrating to per-service keys in PLAT-9\n")
    active = check_policies(load_catalog(folder))
    assert [(f.rule, f.service) for f in active] == [("prod-per-service-keys", "helper"),
                                                    ("budget-shared-slot", "bot"),
                                                    ("budget-shared-slot", "helper")]
    everything = check_policies(load_catalog(folder), include_waived=True)
    waived = [f for f in everything if f.waived]
    assert [(f.service, f.waived) for f in waived] == [
        ("bot", "migrating to per-service keys in PLAT-9")]
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == 1
    assert "waived prod-per-service-keys (bot): migrating to per-service keys" in result.out
    assert "1 deny, 2 warn, 1 waived" in result.out


def test_waiving_every_deny_passes_and_stale_waivers_warn(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = shared_keys(tmp_path / "c", """\
- {rule: prod-per-service-keys, service: bot, reason: PLAT-9}
- {rule: prod-per-service-keys, service: helper, reason: PLAT-9}
- {rule: prod-two-providers, service: bot, reason: nothing to waive}
- {rule: no-such-rule, service: bot, reason: typo}
- {rule: key-max-age, provider: openai, reason: old, expires: 2020-01-01}
""")
    report = evaluate_policies(load_catalog(folder), today=dt.date(2026, 1, 1))
    assert not report.blocking
    warns = [f.message for f in report.findings if f.rule == "waivers"]
    assert warns == [
        "waiver of prod-two-providers for service bot: prod-two-providers reports nothing for "
        "service bot: remove the waiver",
        "waiver of no-such-rule for service bot: there is no rule 'no-such-rule' (rules: "
        "budget-shared-slot, eval-regression, key-max-age, prod-per-service-keys, "
        "prod-rotation-driver, prod-route-price, prod-service-budget, prod-service-limits, "
        "prod-two-providers, "
        "residency)",
        "waiver of key-max-age for provider openai: expired on 2020-01-01: key-max-age applies "
        "to provider openai again",
    ]
    marks = [f.mark for f in report.findings if f.rule == "waivers"]
    assert all(m is not None and m.file.endswith("waivers.yaml") for m in marks)
    assert [m.line for m in marks if m is not None] == [3, 4, 5]
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == 0 and "0 deny, 5 warn, 2 waived" in result.out


def test_a_provider_waiver_and_expiry(tmp_path: Path) -> None:
    folder = write(tmp_path / "c", replace=("max_age: 7d", "max_age: 120d"))
    (folder / "policies").mkdir()
    (folder / "policies" / "waivers.yaml").write_text(
        "- {rule: key-max-age, provider: bedrock, reason: IAM key pinned by a partner, "
        "expires: 2026-06-30}\n")
    before = evaluate_policies(load_catalog(folder), today=dt.date(2026, 6, 30))
    assert not before.blocking and [f.waived for f in before.findings] == [
        "IAM key pinned by a partner"]
    after = evaluate_policies(load_catalog(folder), today=dt.date(2026, 7, 1))
    assert [f.rule for f in after.blocking] == ["key-max-age"]


@pytest.mark.parametrize(("text", "problem"), [
    ("rule: x\n", "expected a list of waivers"),
    ("- {rule: x, service: bot}\n", "reason required"),
    ("- {rule: x, service: bot, provider: p, reason: r}\n", "exactly one of service or provider"),
    ("- {rule: x, service: bot, reason: r, owner: me}\n", "unknown field(s) owner"),
    ("- {rule: x, service: bot, reason: r, expires: soon}\n", "expected a date"),
])
def test_a_broken_waivers_file_is_invalid_input(
        text: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path / "c")
    (folder / "policies").mkdir()
    (folder / "policies" / "waivers.yaml").write_text(text)
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == 2 and problem in result.err and "waivers.yaml" in result.err


TEAM_RULE = """\
package aigw.rules.team.no_batch_in_prod

deny contains {"msg": sprintf("%s uses a batch alias in production", [d.service]),
               "path": ["services", d.service, "models"], "service": d.service} if {
	some d in input.deployments
	d.prod
	some alias, _ in d.aliases
	endswith(alias, "-batch")
}
"""
TEAM_TEST = """\
package aigw.rules.team.no_batch_in_prod_test

import data.aigw.rules.team.no_batch_in_prod

test_batch_denied if {
	count(no_batch_in_prod.deny) == 1 with input as {"deployments": [
		{"service": "s", "prod": true, "aliases": {"gpt-batch": []}}]}
}
"""


def test_team_rules_beside_the_catalog(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path / "c", replace=("models: [chat]\n    regions: [eu]\n    keys: per-service\n  helper",
                                            "models: [chat, chat-batch]\n    regions: [eu]\n    keys: per-service\n  helper"))
    text = (folder / "aigw.yaml").read_text().replace(
        "services:\n", "  chat-batch:\n    routes:\n      - {provider: openai, model: gpt-4o}\n"
        "      - {provider: bedrock, model: claude}\nservices:\n")
    write(folder, text)
    (folder / "policies").mkdir()
    (folder / "policies" / "no_batch_in_prod.rego").write_text(TEAM_RULE)
    (folder / "policies" / "no_batch_in_prod_test.rego").write_text(TEAM_TEST)
    report = evaluate_policies(load_catalog(folder))
    assert "team.no-batch-in-prod" in report.rules
    assert [(f.rule, f.service, f.key) for f in report.findings] == [
        ("team.no-batch-in-prod", "bot", "services.bot.models")]
    tested = run_cli(capsys, "policy", "test", str(folder), "-v")
    assert tested.code == 0 and "test_batch_denied: PASS" in tested.out
    assert "prod_two_providers_test" in tested.out  # the defaults' tests run too
    (folder / "policies" / "no_batch_in_prod_test.rego").write_text(
        TEAM_TEST.replace("== 1", "== 2"))
    failed = run_cli(capsys, "policy", "test", str(folder))
    assert failed.code == 1 and "FAIL" in failed.out


def test_a_broken_rule_is_invalid_input(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = write(tmp_path / "c")
    (folder / "policies").mkdir()
    (folder / "policies" / "broken.rego").write_text("package aigw.rules.broken\n\ndeny contains {")
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == 2 and "do not compile" in result.err and "broken.rego" in result.err
    (folder / "policies" / "broken.rego").write_text(
        'package aigw.rules.broken\n\ndeny contains "just a string" if true\n')
    result = run_cli(capsys, "policy", "check", str(folder))
    assert result.code == 2 and "rule broken: every deny entry must be an object" in result.err


def test_default_rules_own_tests_pass(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = run_cli(capsys, "policy", "test", str(tmp_path))
    assert result.code == 0 and "PASS: " in result.out
