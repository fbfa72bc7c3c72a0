"""Broken catalogs: each problem is reported with file:line, the dotted key and a hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.errors import CatalogError
from tests.helpers import run_cli

BASE = """\
environments:
  prod: {}
providers:
  deepseek: {api: openai, base_url: https://api.deepseek.com, region: cn}
  openai: {api: openai, base_url: https://api.openai.com/v1, region: us}
models:
  chat:
    routes:
      - {provider: deepseek, model: deepseek-chat}
services:
  bot:
    environments: [prod]
    models: [chat]
"""

# (name, catalog text, expected "line:col", expected dotted key, words in the message)
CASES = [
    ("unknown provider", BASE.replace("{provider: deepseek,", "{provider: deepsek,"),
     "9:10", "models.chat.routes[0].provider", "unknown provider 'deepsek'"),
    ("unknown alias", BASE.replace("models: [chat]", "models: [chat, nope]"),
     "13:20", "services.bot.models[1]", "unknown model alias 'nope'"),
    ("undefined environment", BASE.replace("environments: [prod]", "environments: [prod, dev]"),
     "12:26", "services.bot.environments[1]", "unknown environment 'dev'"),
    ("alias without routes", BASE.replace("    routes:\n      - {provider: deepseek, model: "
                                          "deepseek-chat}\n", "    routes: []\n"),
     "8:5", "models.chat.routes", "alias has no routes"),
    ("region breach", BASE + "    regions: [us]\n",
     "13:14", "services.bot.models[0]", "outside the service's regions"),
    ("unsafe service name", BASE.replace("  bot:", "  Bot_1:"),
     "11:3", "services.Bot_1", "unsafe name"),
    ("unsafe provider name with slash", BASE.replace("  openai: {", "  open/ai: {"),
     "5:3", "providers.open/ai", "unsafe name"),
    ("unknown field", BASE.replace("region: cn}", "region: cn, regoin: x}"),
     "4:75", "providers.deepseek.regoin", "unknown field"),
    ("missing field", BASE.replace(", region: cn}", "}"),
     "4:3", "providers.deepseek.region", "required field is missing"),
    ("wrong api", BASE.replace("{api: openai, base_url: https://api.deepseek.com",
                               "{api: grpc, base_url: https://api.deepseek.com"),
     "4:14", "providers.deepseek.api", "'grpc' is not allowed"),
    ("wrong type timeout", BASE.replace("model: deepseek-chat}", "model: deepseek-chat, "
                                        "timeout: soon}"),
     "9:52", "models.chat.routes[0].timeout", "expected a duration such as"),
    ("list instead of mapping", BASE.replace("environments:\n  prod: {}", "environments:\n  - prod"),
     "1:1", "environments", "expected a mapping of names"),
    ("duplicate key", BASE.replace("  openai:", "  deepseek:"),
     "5:3", "providers.deepseek", "duplicate key"),
    ("unknown section", BASE + "secrets: {}\n",
     "14:1", "secrets", "unknown section"),
    ("unknown slot", BASE.replace("model: deepseek-chat}", "model: deepseek-chat, slot: batch}"),
     "9:52", "models.chat.routes[0].slot", "unknown slot 'batch'"),
    ("reserved slot prefix", BASE.replace("region: us}", "region: us, slots: [svc-x]}"),
     "5:82", "providers.openai.slots[0]", "reserved prefix"),
    ("bad duration", BASE.replace("region: us}", "region: us, rotation: {max_age: soon}}"),
     "5:85", "providers.openai.rotation.max_age", "duration"),
    ("unknown driver", BASE.replace("region: us}", "region: us, rotation: {driver: magic}}"),
     "5:85", "providers.openai.rotation.driver", "'magic' is not allowed"),
    ("missing base_url", BASE.replace("{api: openai, base_url: https://api.openai.com/v1, ",
                                      "{api: openai, "),
     "5:3", "providers.openai.base_url", "needs a base_url"),
    ("bad outputs", BASE + "    outputs: [aigw-client, helm]\n",
     "14:28", "services.bot.outputs[1]", "'helm' is not allowed"),
    ("invalid yaml", BASE.replace("  prod: {}", "  prod: {"),
     "4:11", "(file)", "not valid YAML"),
    ("tab indentation", BASE.replace("  bot:\n", "\tbot:\n"),
     "11:1", "(file)", "not valid YAML"),
]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "aigw.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(("name", "text", "where", "key", "words"), CASES, ids=[c[0] for c in CASES])
def test_broken_catalog_is_located(
    tmp_path: Path, name: str, text: str, where: str, key: str, words: str
) -> None:
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    lines = info.value.lines()
    matching = [line for line in lines if f"aigw.yaml:{where}:" in line and f": {key}: " in line]
    assert matching, f"no problem at {where} for {key} in:\n" + "\n".join(lines)
    assert words in matching[0]
    assert "(hint: " in matching[0]


def test_non_mapping_section_does_not_cascade(tmp_path: Path) -> None:
    text = BASE.replace("environments:\n  prod: {}", "environments:\n  - prod")
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    assert len(info.value.problems) == 1  # type: ignore[attr-defined]


def test_base_catalog_is_valid(tmp_path: Path) -> None:
    loaded = load_catalog(_write(tmp_path, BASE))
    assert list(loaded.catalog.services) == ["bot"]


def test_every_problem_in_one_run(tmp_path: Path) -> None:
    text = BASE.replace("{provider: deepseek,", "{provider: nope,").replace(
        "models: [chat]", "models: [chat, gone]").replace("region: us}", "region: us, x: 1}")
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    keys = {p.key for p in info.value.problems}  # type: ignore[attr-defined]
    assert {"models.chat.routes[0].provider", "services.bot.models[1]",
            "providers.openai.x"} <= keys


def test_duplicate_name_across_merged_files(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    (folder / "a.yaml").write_text(BASE)
    (folder / "b.yaml").write_text(textwrap.dedent("""\
        services:
          other:
            environments: [prod]
            models: [chat]
          bot:
            environments: [prod]
            models: [chat]
        """))
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path)
    lines = info.value.lines()
    assert any("b.yaml:5:3: services.bot: defined twice" in line and "a.yaml:11:3" in line
               for line in lines), lines


def test_merged_folder_resolves_references_across_files(tmp_path: Path) -> None:
    folder = tmp_path / "catalog"
    folder.mkdir()
    head, _, services = BASE.partition("services:\n")
    (folder / "10-providers.yaml").write_text(head)
    (folder / "20-services.yaml").write_text("services:\n" + services)
    loaded = load_catalog(tmp_path)
    assert [f.name for f in loaded.files] == ["10-providers.yaml", "20-services.yaml"]
    assert loaded.locate(("services", "bot")).file.endswith("20-services.yaml")


def test_deployments_sharing_a_policy_name_are_refused(tmp_path: Path) -> None:
    text = BASE.replace("  prod: {}", "  eu: {}\n  eu-west: {}").replace(
        "environments: [prod]", "environments: [eu-west]") + (
        "  west-bot:\n    environments: [eu]\n    models: [chat]\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    assert any("would share the OpenBao policy and role 'aigw-eu-west-bot'" in line
               for line in info.value.lines()), info.value.lines()


def test_schema_errors_do_not_hide_semantic_ones_of_the_same_entry(tmp_path: Path) -> None:
    """Issue 14 item 9: `unknown provider 'mistrall'` shows in the run that reports the schema
    errors of the same alias and service, each with file:line:col, dotted key and a hint."""
    text = BASE.replace(
        "      - {provider: deepseek, model: deepseek-chat}\n",
        "      - {provider: mistrall, model: m-large}\n"
        "      - {provider: deepseek, model: deepseek-chat, timeout: soon}\n",
    ).replace("    models: [chat]\n", "    models: [chat, chta]\n    keys: per-servce\n"
              "    environments_extra: 1\n")
    text = text.replace("    environments: [prod]\n", "    environments: [prod, prdo]\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    lines = [line[line.index("aigw.yaml:"):] for line in info.value.lines()]
    want = {
        "aigw.yaml:9:10: models.chat.routes[0].provider: unknown provider 'mistrall'",
        "aigw.yaml:10:52: models.chat.routes[1].timeout:",  # schema, same alias
        "aigw.yaml:13:26: services.bot.environments[1]: unknown environment 'prdo'",
        "aigw.yaml:14:20: services.bot.models[1]: unknown model alias 'chta' (hint: did you "
        "mean 'chat'?)",
        "aigw.yaml:15:5: services.bot.keys: 'per-servce' is not allowed",  # schema, same service
        "aigw.yaml:16:5: services.bot.environments_extra: unknown field",
    }
    for start in want:
        assert any(line.startswith(start) and "(hint: " in line for line in lines), (
            start, lines)
    assert len(lines) == len(want), lines  # nothing twice, nothing invented


def test_a_broken_list_is_not_also_reported_empty(tmp_path: Path) -> None:
    text = BASE.replace("    models: [chat]\n", "    models: chat\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(_write(tmp_path, text))
    assert [p.key for p in info.value.problems] == ["services.bot.models"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("flow", [True, False], ids=["flow", "block"])
def test_a_did_you_mean_comes_before_the_errors_that_follow_from_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flow: bool) -> None:
    """The `base-url` typo printed `4:3 ... needs a base_url` before `4:25 ... did you mean`:
    the cause comes first (issue 23 item 7), other problems keep file:line order."""
    provider = ("  deepseek: {api: openai, base-url: https://api.deepseek.com, regoin: cn}\n"
                if flow else "  deepseek:\n    api: openai\n    base-url: https://api.deepseek.com"
                "\n    regoin: cn\n")
    path = tmp_path / "aigw.yaml"
    path.write_text("version: 1\nenvironments: {prod: {}}\nproviders:\n" + provider
                    + "models:\n  chat: {routes: [{provider: deepseek, model: x}]}\n"
                    "services:\n  bot: {environments: [prodd], models: [chat]}\n")
    result = run_cli(capsys, "validate", "--no-policy", str(path))
    assert result.code == 2
    keys = [line.split(": ")[1] for line in result.err.splitlines()[:-1]]
    assert keys[:2] == ["providers.deepseek.base-url", "providers.deepseek.regoin"], keys
    assert keys[2] == "providers.deepseek.region", keys  # what follows from the typo, after it
    assert keys[3:] == ["services.bot.environments[0]"], keys  # file order, unmoved
