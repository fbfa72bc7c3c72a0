"""The compiled view's shared route cache: keyed by what the catalog says, never by
where its objects sit in memory (`id()`), and off with AIGW_NO_FASTPATH=1."""

from __future__ import annotations

import gc
from pathlib import Path

from aigw.catalog import load_catalog
from aigw.catalog.models import Catalog
from aigw.catalog.view import deployment, deployments
from aigw.fastpath import ENABLED

CATALOG = """\
environments:
  staging: {}
  prod:
    overrides:
      providers:
        volc: {extra: {top_p: 0.5}}
providers:
  deepseek: {api: openai, base_url: "%s", region: cn, extra: {temperature: 0.2}}
  volc: {api: openai, base_url: https://ark.example.com/v3, region: cn}
models:
  chat: {routes: [{provider: deepseek, model: deepseek-chat}]}
  fast: {routes: [{provider: volc, model: doubao-lite}]}
services:
  bot: {environments: [staging, prod], models: [chat, fast]}
  app: {environments: [staging, prod], models: [chat, fast]}
  own: {environments: [staging, prod], models: [chat], keys: per-service}
"""


def _load(tmp_path: Path, base_url: str) -> Catalog:
    (tmp_path / "aigw.yaml").write_text(CATALOG % base_url)
    return load_catalog(tmp_path).catalog


def test_one_cache_fed_catalog_after_catalog_resolves_each(tmp_path: Path) -> None:
    """A cache handed one catalog after another (each dropped before the next is
    loaded, so their objects may reuse the same addresses) answers each catalog."""
    cache: dict[object, object] = {}
    for i in range(12):
        cat = _load(tmp_path, f"https://p{i}.example/v1")
        for env in ("staging", "prod"):
            got = deployment(cat, "bot", env, cache).aliases["chat"][0]
            assert got.base_url == f"https://p{i}.example/v1"
        del cat, got
        gc.collect()


def test_deployments_share_what_resolves_alike_and_only_that(tmp_path: Path) -> None:
    """Equal settings share one resolved route list (the render's speed); an
    environment's override or a per-service key gets a list of its own."""
    deps = {(d.service, d.environment): d for d in
            deployments(_load(tmp_path, "https://api.deepseek.com"))}
    staging, prod = deps[("bot", "staging")], deps[("bot", "prod")]
    assert staging.aliases["fast"][0].extra == {}
    assert prod.aliases["fast"][0].extra == {"top_p": 0.5}
    assert deps[("own", "staging")].aliases["chat"][0].slot == "svc-own"
    assert deps[("app", "prod")].aliases["chat"][0].slot == "default"
    if not ENABLED:  # AIGW_NO_FASTPATH=1: every deployment resolves on its own
        assert staging.aliases["chat"] is not prod.aliases["chat"]
        return
    assert staging.aliases["chat"] is prod.aliases["chat"]  # prod's override is volc's
    assert staging.aliases["fast"] is not prod.aliases["fast"]
    assert deps[("app", "prod")].aliases["fast"] is prod.aliases["fast"]
    assert deps[("own", "prod")].aliases["chat"] is not prod.aliases["chat"]
    assert staging.slots == deps[("app", "staging")].slots
