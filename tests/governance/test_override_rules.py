"""Rules judge what each environment really gets: its merged view (real OPA)."""

from __future__ import annotations

from pathlib import Path

from aigw.catalog import load_catalog
from aigw.governance import check_policies
from aigw.governance.inputs import policy_input

CATALOG = """\
environments:
  staging: {}
  prod:
    overrides:
      services:
        bot: {keys: KEYS}
providers:
  deepseek: {api: openai, base_url: https://api.deepseek.com, region: cn}
models:
  chat: {routes: [{provider: deepseek, model: deepseek-chat}]}
services:
  bot: {environments: [staging, prod], models: [chat], keys: BASE}
"""


def _findings(tmp_path: Path, base: str, prod: str) -> list[tuple[str, str]]:
    (tmp_path / "aigw.yaml").write_text(CATALOG.replace("KEYS", prod).replace("BASE", base))
    loaded = load_catalog(tmp_path)
    return [(str(f.mark), f.message) for f in check_policies(loaded, root=tmp_path)
            if f.rule == "prod-per-service-keys"]


def test_per_service_keys_in_prod_only_pass(tmp_path: Path, opa: Path) -> None:
    """Shared keys in staging, per-service keys set by prod's override: compliant."""
    assert _findings(tmp_path, base="shared", prod="per-service") == []


def test_shared_keys_set_by_prods_override_are_denied_there(tmp_path: Path, opa: Path) -> None:
    [(where, message)] = _findings(tmp_path, base="per-service", prod="shared")
    assert where.endswith("aigw.yaml:6:15"), where  # the override's `keys`
    assert "bot runs in prod with shared keys" in message


def test_the_input_carries_each_overriding_environments_view(tmp_path: Path) -> None:
    (tmp_path / "aigw.yaml").write_text(CATALOG.replace("KEYS", "per-service")
                                        .replace("BASE", "shared"))
    doc = policy_input(load_catalog(tmp_path).catalog)
    assert sorted(doc["views"]) == ["prod"]
    assert doc["views"]["prod"]["services"]["bot"]["keys"] == "per-service"
    assert doc["catalog"]["services"]["bot"]["keys"] == "shared"
    keys = {d["environment"]: (d["keys"], d["aliases"]["chat"][0]["slot"])
            for d in doc["deployments"]}
    assert keys == {"prod": ("per-service", "svc-bot"), "staging": ("shared", "default")}


def test_a_staging_override_of_max_age_is_judged_at_the_override(tmp_path: Path,
                                                                  opa: Path) -> None:
    text = CATALOG.replace("KEYS", "per-service").replace("BASE", "per-service").replace(
        "  staging: {}\n",
        "  staging:\n    overrides:\n      providers:\n        deepseek: {rotation: {max_age: 200d}}\n")
    (tmp_path / "aigw.yaml").write_text(text)
    found = [(str(f.mark), f.message) for f in check_policies(load_catalog(tmp_path), root=tmp_path)
             if f.rule == "key-max-age"]
    assert len(found) == 1, found
    where, message = found[0]
    assert where.endswith("aigw.yaml:5:31"), where  # staging's `max_age`
    assert "200d in staging" in message
