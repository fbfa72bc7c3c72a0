"""What an environment's override changes downstream, and what it leaves alone: a
prod-only change leaves every staging file, revision, stack spec and render
fingerprint unchanged, and the reverse; `aigw diff` names the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.catalog import LoadedCatalog, load_catalog
from aigw.catalog.view import deployments
from aigw.diff.effects import compare
from aigw.render import Renderer
from aigw.render_manifest import Fingerprints
from aigw.stack.spec import environment_spec

CATALOG = """\
environments:
  staging: {}
  prod: {}
providers:
  deepseek: {api: openai, base_url: https://api.deepseek.com, region: cn, extra: {temperature: 0.2}}
  volc: {api: openai, base_url: https://ark.example.com/v3, region: cn}
models:
  chat:
    routes:
      - {provider: deepseek, model: deepseek-chat}
      - {provider: volc, model: deepseek-v3}
services:
  bot:
    environments: [staging, prod]
    models: [chat]
    outputs: [aigw-client, env, bao-agent, k8s-csi]
  batch:
    environments: [staging, prod]
    models: [chat]
"""

CHANGES = {
    "prod": "  prod:\n    overrides:\n      services:\n        bot: {keys: per-service}\n"
            "      providers:\n        deepseek: {extra: {seed: 1}, rotation: {max_age: 7d}}\n",
    "staging": "  staging:\n    overrides:\n      providers:\n"
               "        deepseek: {base_url: https://sandbox.example}\n"
               "      models:\n        chat:\n          routes: [{provider: volc, model: lite}]\n",
}


def load(folder: Path, changed: str | None) -> LoadedCatalog:
    text = CATALOG
    if changed is not None:
        text = text.replace(f"  {changed}: {{}}\n", CHANGES[changed])
    folder.mkdir()
    (folder / "aigw.yaml").write_text(text)
    return load_catalog(folder)


def rendered(loaded: LoadedCatalog, env: str) -> dict[str, bytes]:
    renderer = Renderer(loaded)
    files: dict[str, bytes] = {}
    for dep in deployments(loaded.catalog, env=env):
        files.update(renderer.render(dep))
    return files


@pytest.mark.parametrize(("changed", "other"), [("prod", "staging"), ("staging", "prod")])
def test_one_environments_change_leaves_the_other_alone(tmp_path: Path, changed: str,
                                                         other: str) -> None:
    before, after = load(tmp_path / "a", None), load(tmp_path / "b", changed)
    assert rendered(before, other) == rendered(after, other)
    assert environment_spec(before.catalog, other) == environment_spec(after.catalog, other)
    old_fp, new_fp = Fingerprints(before.catalog), Fingerprints(after.catalog)
    for service in ("bot", "batch"):
        assert old_fp(service, other) == new_fp(service, other)
    # ...and the changed environment does change: files, revision, spec, fingerprint.
    old, new = rendered(before, changed), rendered(after, changed)
    client = f"{changed}/bot/aigw-client.json"
    assert old[client] != new[client]
    assert _revision(old[client]) != _revision(new[client])
    assert environment_spec(before.catalog, changed) != environment_spec(after.catalog, changed)
    assert old_fp("bot", changed) != new_fp("bot", changed)


def _revision(blob: bytes) -> str:
    import json
    return str(json.loads(blob)["revision"])


def test_prod_only_per_service_keys_reach_prods_stack_only(tmp_path: Path) -> None:
    cat = load(tmp_path / "a", "prod").catalog
    prod = {(s.provider, s.slot) for s in environment_spec(cat, "prod").slots}
    staging = {(s.provider, s.slot) for s in environment_spec(cat, "staging").slots}
    assert ("deepseek", "svc-bot") in prod and ("deepseek", "svc-bot") not in staging
    assert staging == {("deepseek", "default"), ("volc", "default")}
    ages = {env: {s.max_age for s in environment_spec(cat, env).slots if s.provider == "deepseek"}
            for env in ("prod", "staging")}
    assert ages == {"prod": {"1w"}, "staging": {"90d"}}  # prod's rotation override only


def test_diff_shows_effects_per_environment(tmp_path: Path) -> None:
    before, after = load(tmp_path / "a", None), load(tmp_path / "b", "prod")
    bot = next(c for c in compare(before.catalog, after.catalog) if c.service == "bot")
    assert bot.status == "changed"
    shown = {(e.environment, e.text) for e in bot.effects}
    assert ("prod", "[prod] key strategy: shared -> per-service") in shown
    assert all(e.environment == "prod" for e in bot.effects), shown


def test_diff_of_one_environment_shows_only_its_effects(tmp_path: Path) -> None:
    before, after = load(tmp_path / "a", None), load(tmp_path / "b", "prod")
    [staging] = [c for c in compare(before.catalog, after.catalog, env="staging")
                 if c.service == "bot"]
    assert (staging.status, staging.effects) == ("unchanged", [])
    [prod] = [c for c in compare(before.catalog, after.catalog, env="prod") if c.service == "bot"]
    assert [e.kind for e in prod.effects] == ["keys-changed", "provider-changed"]
