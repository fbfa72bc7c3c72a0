"""aigw diff: typical changes, each effect named in text, markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw.catalog import load_catalog
from aigw.diff import MARKER
from aigw.render import render_all
from tests.governance.conftest import git
from tests.helpers import run_cli

pytestmark = pytest.mark.usefixtures("opa", "no_vault")
Edit = Callable[[dict[str, Any]], None]


def edit(repo: Path, change: Edit) -> None:
    """Apply CHANGE to the working tree's aigw.yaml (not committed)."""
    path = repo / "aigw.yaml"
    doc = yaml.safe_load(path.read_text())
    change(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def reports(capsys: pytest.CaptureFixture[str], repo: Path,
            *extra: str) -> tuple[str, str, dict[str, Any]]:
    """The text, markdown and JSON reports of the working tree against HEAD."""
    out = {}
    for fmt in ("text", "markdown", "json"):
        result = run_cli(capsys, "diff", str(repo), "--no-plan", "--format", fmt, *extra)
        assert result.code == 0, result.err
        out[fmt] = result.out
    return out["text"], out["markdown"], json.loads(out["json"])


def effects(doc: dict[str, Any], service: str) -> set[str]:
    return {e["kind"] for e in doc["services"][service]["effects"]}


def test_no_change_reports_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, md, doc = reports(capsys, repo)
    assert "0 service(s) changed, 0 rendered file(s) differ" in text
    assert md.startswith(MARKER) and "No service changes." in md
    assert doc["summary"]["services_changed"] == 0 and doc["base"]["ref"] == "HEAD"


def test_zero_counts_carry_no_alarm_icon() -> None:
    """Issue 14: a clean PR's comment said "❌ 0 deny"."""
    from aigw.diff.markdown import _policy_part
    from aigw.diff.model import PolicySection
    from aigw.governance.findings import Finding

    clean, _ = _policy_part(PolicySection(True))
    assert clean.startswith("**Governance:** ✅ 0 deny · 0 warn · 0 waived"), clean
    warn = Finding(rule="residency", severity="warn", message="m", path=("services", "bot"))
    head, _ = _policy_part(PolicySection(True, findings=[warn]))
    assert head.startswith("**Governance:** 0 deny · ⚠️ 1 warn · "), head
    assert "❌ 0" not in clean + head and "⚠️ 0" not in clean


def test_add_a_service(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, lambda d: d["services"].update({"fraud-check": {
        "environments": ["staging"], "models": ["deepseek-v3"], "regions": ["cn"],
        "keys": "per-service"}}))
    text, md, doc = reports(capsys, repo)
    assert "fraud-check (added; staging" in text
    assert "alias deepseek-v3: deepseek/deepseek-chat > volcengine/deepseek-v3-250324 > " \
           "bailian/deepseek-v3" in text
    assert "key strategy: per-service" in text
    assert "staging/fraud-check/aigw-client.json (added)" in text
    assert "| `fraud-check` | added |" in md and "<b>fraud-check</b> — added" in md
    assert "+++ b/staging/fraud-check/aigw-client.json" in md
    svc = doc["services"]["fraud-check"]
    assert svc["status"] == "added" and {"service-added", "alias-added", "keys"} <= effects(
        doc, "fraud-check")
    assert {f["status"] for f in svc["files"]} == {"added"}
    assert doc["services"]["support-bot"]["status"] == "unchanged"


def test_reorder_a_fallback_chain(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def swap(d: dict[str, Any]) -> None:
        routes = d["models"]["deepseek-v3"]["routes"]
        routes[0], routes[1] = routes[1], routes[0]
    edit(repo, swap)
    text, md, doc = reports(capsys, repo)
    order = ("deepseek-v3: fallback order deepseek/deepseek-chat > volcengine/deepseek-v3-250324"
             " > bailian/deepseek-v3 -> volcengine/deepseek-v3-250324 > deepseek/deepseek-chat > "
             "bailian/deepseek-v3")
    for service in ("support-bot", "nightly-batch"):  # both use the alias
        assert f"{service} (changed" in text
        assert effects(doc, service) == {"routes-reordered", "config-revision"}
        assert doc["services"][service]["effects"][0]["after"][0] == \
            "volcengine/deepseek-v3-250324"
    assert order in text and order in md
    assert "prod/support-bot/aigw-client.json (modified)" in text
    assert doc["services"]["eu-contracts"]["status"] == "unchanged"
    assert "| `support-bot` | changed | deepseek-v3: fallback order" in md


def revisions(repo: Path, service: str = "support-bot") -> dict[str, str]:
    """The `revision` of SERVICE's rendered aigw-client.json, per environment."""
    files = render_all(load_catalog(repo))
    return {env: json.loads(files[f"{env}/{service}/aigw-client.json"])["revision"]
            for env in ("staging", "prod")}


def test_config_revisions_of_the_services_a_change_reaches(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each deployment whose published aigw-client.json changes names both revisions."""
    before = revisions(repo)

    def slower(d: dict[str, Any]) -> None:
        d["models"]["deepseek-v3"]["routes"][1]["timeout"] = 90
    edit(repo, slower)
    text, md, doc = reports(capsys, repo)
    after = revisions(repo)
    for env in ("prod", "staging"):
        line = f"config of support-bot ({env}): revision {before[env]} -> {after[env]}"
        assert line in text and line in md
        assert before[env] != after[env]
    found = [e for e in doc["services"]["support-bot"]["effects"]
             if e["kind"] == "config-revision"]
    assert [(e["before"], e["after"]) for e in found] == [
        (before["prod"], after["prod"]), (before["staging"], after["staging"])]
    assert "config-revision" not in effects(doc, "eu-contracts")


def test_a_weight_change_is_its_own_effect(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Canary: 95/5, then promoted to 50/50; each step names the shares it moves."""
    def canary(share: int) -> Edit:
        def change(d: dict[str, Any]) -> None:
            routes = d["models"]["deepseek-v3"]["routes"]
            routes[0]["weight"] = 100 - share
            routes[1]["weight"] = share
        return change
    edit(repo, canary(5))
    text, _md, doc = reports(capsys, repo)
    assert "deepseek-v3: weight of volcengine/deepseek-v3-250324 fallback only -> 5%" in text
    assert "deepseek-v3: weight of deepseek/deepseek-chat fallback only -> 95%" in text
    git(repo, "commit", "-qam", "canary 5%")
    edit(repo, canary(50))
    text, md, doc = reports(capsys, repo)
    line = "deepseek-v3: weight of volcengine/deepseek-v3-250324 5% -> 50%"
    assert line in text and line in md
    weights = [e for e in doc["services"]["support-bot"]["effects"]
               if e["kind"] == "weight-changed"]
    assert [(e["before"]["weight"], e["after"]["weight"]) for e in weights] == [(95, 50), (5, 50)]
    assert effects(doc, "support-bot") == {"weight-changed", "config-revision"}


def test_move_a_service_to_another_region(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, lambda d: d["services"]["support-bot"].update(
        {"regions": ["eu"], "models": ["claude-eu"]}))
    text, md, doc = reports(capsys, repo)
    assert effects(doc, "support-bot") == {"alias-added", "alias-removed", "regions-changed",
                                           "residency-changed", "config-revision",
                                           "agent-restart"}  # its key files change
    for needle in ("allowed regions: cn -> eu", "data processed in: cn -> eu",
                   "may now use alias claude-eu", "no longer uses alias deepseek-v3"):
        assert needle in text and needle in md
    # claude-eu has one route: the move breaks prod-two-providers for support-bot, newly.
    new = [f for f in doc["policy"]["findings"] if f["new"]]
    assert [(f["rule"], f["service"]) for f in new] == [("prod-two-providers", "support-bot")]
    assert "deny prod-two-providers [new]" in text
    assert "❌ **new** | `prod-two-providers`" in md
    assert "❌ 1 deny" in md.split("| `support-bot` |")[1].split("\n")[0]


def test_remove_a_provider(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def drop(d: dict[str, Any]) -> None:
        del d["providers"]["bailian"]
        d["models"]["deepseek-v3"]["routes"] = [
            r for r in d["models"]["deepseek-v3"]["routes"] if r["provider"] != "bailian"]
    edit(repo, drop)
    text, md, doc = reports(capsys, repo)
    assert "provider bailian removed" in text and "provider bailian removed" in md
    assert {"kind": "provider-removed", "text": "provider bailian removed", "alias": None,
            "before": "bailian", "after": None} in doc["catalog_changes"]
    assert "deepseek-v3: route removed: bailian/deepseek-v3" in text
    assert effects(doc, "support-bot") == {"route-removed", "config-revision",
                                           "agent-restart"}  # one key file fewer
    removed = {f["path"] for f in doc["services"]["support-bot"]["files"]
               if f["status"] == "removed"}
    assert "prod/support-bot/templates/bailian.svc-support-bot.key.ctmpl" in removed
    assert "--- a/prod/support-bot/templates/bailian.svc-support-bot.key.ctmpl" in md


def test_break_a_policy(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, lambda d: d["providers"]["openai"]["rotation"].update({"max_age": "180d"}))
    text, md, doc = reports(capsys, repo)
    new = [f for f in doc["policy"]["findings"] if f["new"]]
    assert [(f["rule"], f["provider"], f["severity"]) for f in new] == [
        ("key-max-age", "openai", "deny")]
    lines = (repo / "aigw.yaml").read_text().splitlines()
    assert "max_age: 180d" in lines[new[0]["line"] - 1]
    assert new[0]["file"].endswith("aigw.yaml")
    assert "deny key-max-age [new]" in text and "provider openai keys may live 180d" in text
    assert "`key-max-age`" in md and "1 new with this change" in md
    assert effects(doc, "research-assistant") == {"provider-changed"}
    assert "provider openai: rotation.max_age 30d -> 180d" in text


def test_fixing_a_policy_shows_it_resolved(repo: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    edit(repo, lambda d: d["services"]["research-assistant"].update({"keys": "per-service"}))
    text, md, doc = reports(capsys, repo)
    assert [f["rule"] for f in doc["policy"]["resolved"]] == ["prod-per-service-keys"]
    assert "resolved: deny prod-per-service-keys" in text and "✅ resolved" in md
    assert "key strategy: shared -> per-service" in text


def test_base_defaults_to_origin_main(repo: Path, capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "fetch", "-q", "origin")
    edit(repo, lambda d: d["services"]["nightly-batch"].update({"environments": ["staging",
                                                                                  "prod"]}))
    git(repo, "commit", "-qam", "nightly-batch to prod")
    text, _md, doc = reports(capsys, repo)
    assert doc["base"]["ref"] == "origin/main"
    assert "now deployed to prod" in text
    assert run_cli(capsys, "diff", str(repo), "--no-plan", "--base", "HEAD").out.count(
        "0 service(s) changed") == 1
    bad = run_cli(capsys, "diff", str(repo), "--no-plan", "--base", "nope")
    assert bad.code == 2 and "unknown git revision 'nope'" in bad.err


def test_env_filter_and_new_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 repo: Path) -> None:
    edit(repo, lambda d: d["services"]["nightly-batch"].update({"defaults": {"timeout": 5}}))
    _t, _m, doc = reports(capsys, repo, "--env", "prod")
    assert "nightly-batch" not in doc["services"]  # staging only
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    (empty / "aigw.yaml").write_text((repo / "aigw.yaml").read_text())
    text, _md, doc = reports(capsys, empty)
    assert "no catalog at HEAD (no commits)" in text
    assert {s["status"] for s in doc["services"].values()} == {"added"}


def test_vault_plan_degrades_with_the_reason(repo: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "diff", str(repo))
    assert result.code == 0, result.err
    assert "Vault plan: unavailable (" in result.out
    md = run_cli(capsys, "diff", str(repo), "--format", "markdown").out
    assert "**Vault plan:** unavailable (" in md


def test_markdown_is_capped_with_a_note(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def many(d: dict[str, Any]) -> None:
        for i in range(60):
            d["services"][f"svc-{i:03d}"] = {"environments": ["staging", "prod"],
                                             "models": ["deepseek-v3"], "keys": "per-service",
                                             "regions": ["cn"]}
    edit(repo, many)
    md = run_cli(capsys, "diff", str(repo), "--no-plan", "--format", "markdown").out
    assert len(md) <= 65536 and md.startswith(MARKER)
    assert "**Truncated**" in md and "65,536-character" in md
    small = run_cli(capsys, "diff", str(repo), "--no-plan", "--format", "markdown",
                    "--limit", "5000").out
    assert len(small) <= 5000 and "**Truncated**" in small and "more service(s)" in small


def test_a_split_catalog_in_a_subfolder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "mono"
    folder = repo / "platform" / "llm"
    (folder / "catalog").mkdir(parents=True)
    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/aigw.yaml").read_text())
    services = doc.pop("services")
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc))
    (folder / "catalog" / "services.yaml").write_text(yaml.safe_dump({"services": services}))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "split catalog")
    services["support-bot"]["keys"] = "shared"
    (folder / "catalog" / "services.yaml").write_text(yaml.safe_dump({"services": services}))
    result = run_cli(capsys, "diff", str(folder), "--no-plan", "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["catalog"] == "platform/llm"
    assert [s for s, v in report["services"].items() if v["status"] != "unchanged"] == [
        "support-bot"]
    assert effects(report, "support-bot") == {"keys-changed", "config-revision",
                                              "agent-restart"}  # other key files
    new = [(f["rule"], f["service"], Path(f["file"]).name) for f in report["policy"]["findings"]
           if f["new"]]
    assert new == [("prod-per-service-keys", "support-bot", "services.yaml"),
                   ("budget-shared-slot", "support-bot", "services.yaml")]


def test_a_staging_override_shows_for_staging_only(repo: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A sandbox endpoint for staging: effects and files of staging, none of prod's."""
    edit(repo, lambda d: d["environments"].update({"staging": {
        **(d["environments"]["staging"] or {}),
        "overrides": {"providers": {"deepseek": {"base_url": "https://sandbox.deepseek.test"}}}}}))
    text, md, doc = reports(capsys, repo)
    line = "[staging] provider deepseek: base_url https://api.deepseek.com -> " \
           "https://sandbox.deepseek.test"
    assert line in text and line in md
    changed = {e["environment"] for e in doc["services"]["support-bot"]["effects"]
               if e["kind"] == "provider-changed"}
    assert changed == {"staging"}
    files = [f["path"] for s in doc["services"].values() for f in s["files"]]
    assert files and all(f.startswith("staging/") for f in files), files


def test_limit_changes_show_per_service_and_environment(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Limits set, then changed for prod only by an override, then a field removed: each
    shows under the service, field by field, with the environment an override touches."""
    def limits(d: dict[str, Any]) -> None:
        d["services"]["research-assistant"].update({
            "workspace": "wrkspc_01Research",
            "limits": {"gpt-4o": {"rpm": 500, "tpm": 200000},
                       "claude-sonnet": {"rpm": 50, "output_tpm": 8000}}})
    edit(repo, limits)
    text, md, doc = reports(capsys, repo)
    for line in ("limits claude-sonnet: set output_tpm 8000, rpm 50",
                 "limits gpt-4o: set rpm 500, tpm 200000",
                 "Anthropic workspace: (none) -> wrkspc_01Research"):
        assert line in text and line in md, line
    found = [e for e in doc["services"]["research-assistant"]["effects"]
             if e["kind"] == "limits-changed"]
    assert [(e["before"], e["after"]) for e in found] == [
        (None, {"limit": "claude-sonnet", "rpm": 50, "output_tpm": 8000}),
        (None, {"limit": "gpt-4o", "rpm": 500, "tpm": 200000})]
    assert "limits-changed" not in effects(doc, "support-bot")
    git(repo, "commit", "-qam", "limits")

    def prod_override(d: dict[str, Any]) -> None:
        d["environments"]["prod"]["overrides"] = {"services": {"research-assistant": {
            "limits": {"gpt-4o": {"rpm": 1000, "tpm": None}}}}}
    edit(repo, prod_override)
    text, md, doc = reports(capsys, repo)
    line = "[prod] limits gpt-4o: rpm 500 -> 1000, tpm 200000 -> (none)"
    assert line in text and line in md
    found = [e for e in doc["services"]["research-assistant"]["effects"]
             if e["kind"] == "limits-changed"]
    assert [(e["environment"], e["before"], e["after"]) for e in found] == [
        ("prod", {"limit": "gpt-4o", "rpm": 500, "tpm": 200000}, {"limit": "gpt-4o", "rpm": 1000})]
    git(repo, "commit", "-qam", "prod override")

    edit(repo, lambda d: d["services"]["research-assistant"]["limits"].pop("claude-sonnet"))
    text, md, _doc = reports(capsys, repo)
    line = "limits claude-sonnet: removed (was output_tpm 8000, rpm 50)"
    assert line in text and line in md and "[prod] limits claude-sonnet" not in text
