"""Per-environment overrides: one merge rule (maps merge, lists replace, null removes),
per field kind, and every refused override located at its file:line with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.catalog import environment_view, load_catalog
from aigw.catalog.models import Catalog
from aigw.catalog.overrides import OVERRIDABLE, merge_values
from aigw.catalog.view import deployment, environment_slots, used_slots
from aigw.errors import CatalogError
from tests.helpers import run_cli

BASE = """\
environments:
  staging:
    overrides: {}
  prod: {}
providers:
  deepseek:
    api: openai
    base_url: https://api.deepseek.com
    region: cn
    slots: [default, batch]
    rotation: {driver: manual, max_age: 30d, grace: 10m}
    extra: {temperature: 0.2, top_p: 0.9}
  volc: {api: openai, base_url: https://ark.example.com/v3, region: cn}
models:
  chat:
    routes:
      - {provider: deepseek, model: deepseek-chat}
      - {provider: volc, model: deepseek-v3}
  fast:
    routes:
      - {provider: volc, model: doubao-lite}
services:
  bot:
    environments: [staging, prod]
    models: [chat]
    key_dir: /srv/keys
    defaults: {timeout: 20, retries: 1}
"""


def load(tmp_path: Path, staging: str) -> Catalog:
    """The catalog with staging's `overrides:` block set to STAGING (YAML, indented 6)."""
    (tmp_path / "aigw.yaml").write_text(BASE.replace("    overrides: {}\n",
                                                     "    overrides:\n" + staging))
    return load_catalog(tmp_path).catalog


def routes(cat: Catalog, env: str, alias: str = "chat") -> list[tuple[str, str | None, str]]:
    return [(r.provider, r.base_url, r.model)
            for r in deployment(cat, "bot", env).aliases[alias]]


def test_the_merge_rule() -> None:
    base = {"a": 1, "m": {"x": 1, "y": 2}, "l": [1, 2, 3], "gone": "v"}
    over = {"a": 2, "m": {"y": None, "z": 3}, "l": [9], "gone": None, "new": {"k": None, "j": 1}}
    assert merge_values(base, over) == {"a": 2, "m": {"x": 1, "z": 3}, "l": [9],
                                        "new": {"j": 1}}
    assert base["m"] == {"x": 1, "y": 2}  # the base is never changed in place


def test_scalar_replaces_in_its_environment_only(tmp_path: Path) -> None:
    cat = load(tmp_path, "      providers:\n        deepseek: {base_url: https://sandbox.example}\n")
    assert routes(cat, "staging")[0] == ("deepseek", "https://sandbox.example", "deepseek-chat")
    assert routes(cat, "prod")[0] == ("deepseek", "https://api.deepseek.com", "deepseek-chat")


def test_maps_merge_key_by_key(tmp_path: Path) -> None:
    cat = load(tmp_path, "      providers:\n        deepseek:\n"
                         "          extra: {seed: 7}\n          rotation: {max_age: 7d}\n"
                         "      services:\n        bot: {defaults: {timeout: 5}}\n")
    staging = deployment(cat, "bot", "staging").aliases["chat"][0]
    assert staging.extra == {"temperature": 0.2, "top_p": 0.9, "seed": 7}
    assert (staging.timeout, staging.retries) == (5.0, 1)  # retries kept from the base
    rotation = environment_view(cat, "staging").providers["deepseek"].rotation
    assert (rotation.driver, rotation.max_age, rotation.grace) == ("manual", 7 * 86400, 600)
    assert environment_view(cat, "prod").providers["deepseek"].rotation.max_age == 30 * 86400


def test_null_removes(tmp_path: Path) -> None:
    cat = load(tmp_path, "      providers:\n        deepseek: {extra: {temperature: null}}\n"
                         "      services:\n        bot: {key_dir: null}\n")
    staging = deployment(cat, "bot", "staging")
    assert staging.aliases["chat"][0].extra == {"top_p": 0.9}
    assert staging.key_dir == "/run/secrets/aigw"  # back to the environment's default
    assert deployment(cat, "bot", "prod").key_dir == "/srv/keys"


def test_lists_replace(tmp_path: Path) -> None:
    cat = load(tmp_path, "      models:\n        chat:\n          routes:\n"
                         "            - {provider: volc, model: doubao-pro}\n"
                         "      services:\n        bot: {models: [chat, fast]}\n"
                         "      providers:\n        deepseek: {slots: [batch]}\n")
    assert routes(cat, "staging") == [("volc", "https://ark.example.com/v3", "doubao-pro")]
    assert routes(cat, "staging", "fast") == [("volc", "https://ark.example.com/v3",
                                               "doubao-lite")]
    assert [r[0] for r in routes(cat, "prod")] == ["deepseek", "volc"]
    assert "fast" not in deployment(cat, "bot", "prod").aliases
    assert [r.id for r in environment_slots(cat, "staging") if r.provider == "deepseek"] \
        == ["deepseek/batch"]


def test_key_strategy_per_environment(tmp_path: Path) -> None:
    """Per-service keys in prod no longer force them in staging."""
    (tmp_path / "aigw.yaml").write_text(BASE.replace(
        "  prod: {}\n", "  prod:\n    overrides:\n      services:\n        bot: {keys: per-service}\n"))
    cat = load_catalog(tmp_path).catalog
    assert [r.id for r in used_slots(cat, "prod")] == ["deepseek/svc-bot", "volc/svc-bot"]
    assert [r.id for r in used_slots(cat, "staging")] == ["deepseek/default", "volc/default"]


def test_empty_overrides_change_nothing(tmp_path: Path) -> None:
    cat = load(tmp_path, "      providers:\n      services:\n")
    assert environment_view(cat, "staging") is cat
    (tmp_path / "aigw.yaml").write_text(BASE.replace("    overrides: {}\n", "    overrides:\n"))
    assert environment_view(load_catalog(tmp_path).catalog, "staging").environments


def test_allow_list_names_only_entry_fields() -> None:
    from aigw.catalog.overrides import ENTRY_MODELS
    for section, fields in OVERRIDABLE.items():
        assert set(fields) <= set(ENTRY_MODELS[section].model_fields), section


BAD = [
    ("a field that may not differ", "      providers:\n        deepseek: {api: anthropic}\n",
     "aigw.yaml:5:20", "environments.staging.overrides.providers.deepseek.api",
     "`api` cannot differ between environments", "overridable fields of a provider: base_url"),
    ("an unknown field", "      providers:\n        deepseek: {base-url: https://x}\n",
     "aigw.yaml:5:20", "environments.staging.overrides.providers.deepseek.base-url",
     "unknown field", "overridable fields of a provider"),
    ("an entry that does not exist", "      models:\n        caht: {routes: []}\n",
     "aigw.yaml:5:9", "environments.staging.overrides.models.caht",
     "unknown model alias 'caht'", "did you mean 'chat'?"),
    ("a bad value", "      providers:\n        deepseek:\n          rotation: {max_age: soon}\n",
     "aigw.yaml:6:22", "environments.staging.overrides.providers.deepseek.rotation.max_age",
     "expected a duration", "docs/catalog.md"),
    ("a route to an unknown provider",
     "      models:\n        chat:\n          routes:\n"
     "            - {provider: mistrall, model: m}\n",
     "aigw.yaml:7:16", "environments.staging.overrides.models.chat.routes[0].provider",
     "unknown provider 'mistrall'", "defined providers"),
    ("null removing a required field", "      models:\n        chat: {routes: null}\n",
     "aigw.yaml:5:16", "environments.staging.overrides.models.chat.routes",
     "required field is missing", "add `routes:`"),
    ("a list that is not one", "      services:\n        bot: {models: chat}\n",
     "aigw.yaml:5:15", "environments.staging.overrides.services.bot.models",
     "expected a list", "one `- item`"),
    ("an unknown section", "      secrets: {}\n",
     "aigw.yaml:4:7", "environments.staging.overrides.secrets",
     "unknown field", None),
]


@pytest.mark.parametrize(("name", "staging", "where", "key", "words", "hint"), BAD,
                         ids=[b[0] for b in BAD])
def test_bad_overrides_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   name: str, staging: str, where: str, key: str, words: str,
                                   hint: str | None) -> None:
    (tmp_path / "aigw.yaml").write_text(BASE.replace("    overrides: {}\n",
                                                     "    overrides:\n" + staging))
    result = run_cli(capsys, "validate", str(tmp_path))
    assert result.code == 2, result.out
    lines = [ln for ln in result.err.splitlines() if f"{where}: {key}: " in ln]
    assert len(lines) == 1, result.err
    assert words in lines[0], lines[0]
    if hint:
        assert "hint:" in lines[0] and hint in lines[0], lines[0]
    assert "Traceback" not in result.err


def test_service_override_outside_its_environments(tmp_path: Path) -> None:
    text = BASE.replace("    environments: [staging, prod]\n", "    environments: [prod]\n")
    (tmp_path / "aigw.yaml").write_text(text.replace(
        "    overrides: {}\n", "    overrides:\n      services:\n        bot: {keys: per-service}\n"))
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path)
    [problem] = err.value.problems
    assert str(problem.mark).endswith("aigw.yaml:5:9")
    assert problem.key == "environments.staging.overrides.services.bot"
    assert "does not run in 'staging'" in problem.message
    assert "services.bot.environments" in (problem.hint or "")


def test_a_problem_only_the_merged_view_has_names_the_environment(tmp_path: Path) -> None:
    """Dropping slot `batch` in staging breaks a base route that names it: reported once,
    at the route, for staging (prod keeps the slot and is fine)."""
    text = BASE.replace("      - {provider: volc, model: deepseek-v3}\n",
                        "      - {provider: deepseek, model: deepseek-v3, slot: batch}\n")
    (tmp_path / "aigw.yaml").write_text(text.replace(
        "    overrides: {}\n", "    overrides:\n      providers:\n        deepseek: {slots: [default]}\n"))
    with pytest.raises(CatalogError) as err:
        load_catalog(tmp_path)
    [problem] = err.value.problems
    assert problem.key == "models.chat.routes[1].slot"
    assert "unknown slot 'batch'" in problem.message
    assert "in environment 'staging'" in problem.message


def test_catalog_built_in_code_merges_by_the_same_rule() -> None:
    cat = Catalog.model_validate({
        "environments": {"prod": {"overrides": {"providers": {"p": {"extra": {"a": None, "b": 2}}}}},
                         "dev": {}},
        "providers": {"p": {"api": "openai", "base_url": "https://p.example", "region": "eu",
                            "extra": {"a": 1}}},
        "models": {"m": {"routes": [{"provider": "p", "model": "x"}]}},
        "services": {"s": {"environments": ["prod", "dev"], "models": ["m"]}},
    })
    assert deployment(cat, "s", "prod").aliases["m"][0].extra == {"b": 2}
    assert deployment(cat, "s", "dev").aliases["m"][0].extra == {"a": 1}
    assert environment_view(cat, "dev") is cat


def test_views_of_other_environments_come_from_the_catalog_itself(tmp_path: Path) -> None:
    (tmp_path / "aigw.yaml").write_text(BASE.replace(
        "  prod: {}\n", "  prod:\n    overrides:\n      services:\n        bot: {keys: per-service}\n"))
    cat = load_catalog(tmp_path).catalog
    prod = environment_view(cat, "prod")
    assert environment_view(prod, "staging") is cat  # not prod's view, whoever asks first
    assert environment_view(prod, "prod") is prod
    assert deployment(prod, "bot", "staging").aliases["chat"][0].slot == "default"


def test_budget_and_eval_binding_per_environment(tmp_path: Path) -> None:
    """Fields other work added merge by the same rule: a service's budget (a map: its
    amount changes, its currency stays) and an alias's eval binding, per environment."""
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "qa.yaml").write_text("prompts: ['{{q}}']\ntests: [{vars: {q: x}}]\n")
    base = BASE.replace("    defaults: {timeout: 20, retries: 1}\n",
                        "    defaults: {timeout: 20, retries: 1}\n"
                        "    budget: {monthly: 100, currency: USD}\n")
    base = base.replace("      - {provider: volc, model: deepseek-v3}\n",
                        "      - {provider: volc, model: deepseek-v3}\n"
                        "    eval: {set: qa, floor: 0.5}\n", 1)
    (tmp_path / "aigw.yaml").write_text(base.replace(
        "    overrides: {}\n",
        "    overrides:\n      services:\n        bot: {budget: {monthly: 10}}\n"
        "      models:\n        chat: {eval: {floor: 0.9}}\n"))
    cat = load_catalog(tmp_path).catalog
    staging, prod = environment_view(cat, "staging"), environment_view(cat, "prod")
    assert staging.services["bot"].budget is not None and prod.services["bot"].budget is not None
    assert (staging.services["bot"].budget.monthly, staging.services["bot"].budget.currency) \
        == (10, "USD")
    assert prod.services["bot"].budget.monthly == 100
    assert staging.models["chat"].eval is not None and prod.models["chat"].eval is not None
    assert (staging.models["chat"].eval.set, staging.models["chat"].eval.floor) == ("qa", 0.9)
    assert prod.models["chat"].eval.floor == 0.5
