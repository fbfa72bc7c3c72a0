"""Reading aigw-client.json (no provider needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigw.client import ConfigError, load_config

ROUTE = {"provider": "deepseek", "api": "openai", "base_url": "https://api.deepseek.com/",
         "model": "deepseek-chat", "slot": "default", "key_file": "deepseek.default.key",
         "timeout": 30, "retries": 0, "cooldown": 30.0, "extra": {"x": 1}}


def write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "aigw-client.json"
    path.write_text(json.dumps(doc))
    return path


def doc(**over):
    d = {"version": 1, "service": "support-bot", "environment": "prod",
         "key_dir": "/run/secrets/aigw", "aliases": {"deepseek-v3": {"routes": [ROUTE]}}}
    d.update(over)
    return d


def test_documented_example_loads(tmp_path):
    cfg = load_config(write(tmp_path, doc()))
    (route,) = cfg.aliases["deepseek-v3"]
    assert route.key_file == Path("/run/secrets/aigw/deepseek.default.key")
    assert route.base_url == "https://api.deepseek.com"
    assert route.timeout == 30.0 and route.extra == {"x": 1}


def test_relative_key_dir_is_relative_to_config_folder(tmp_path):
    cfg = load_config(write(tmp_path, doc(key_dir="secrets")))
    assert cfg.aliases["deepseek-v3"][0].key_file == tmp_path / "secrets/deepseek.default.key"


def test_live_copy_inside_a_relative_key_dir_finds_its_keys_beside_it(tmp_path):
    """The agent writes the live copy to `<key_dir>/aigw-client.json` (relative to
    the rendered folder): its keys are beside it, not in `keys/keys/`."""
    (tmp_path / "keys").mkdir()
    rendered = load_config(write(tmp_path, doc(key_dir="keys")))
    live = load_config(write(tmp_path / "keys", doc(key_dir="keys")))
    expected = tmp_path / "keys/deepseek.default.key"
    assert rendered.aliases["deepseek-v3"][0].key_file == expected
    assert live.aliases["deepseek-v3"][0].key_file == expected
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    deep = load_config(write(nested, doc(key_dir="a/b")))
    assert deep.key_dir == nested


def test_revision_and_weight_are_read(tmp_path):
    cfg = load_config(write(tmp_path, doc(
        revision="b8fa6a9202b82780", catalog_commit="1f0c2ab",
        aliases={"a": {"routes": [{**ROUTE, "weight": 95}, {**ROUTE, "slot": "b",
                                                            "weight": None}]}})))
    assert (cfg.revision, cfg.catalog_commit) == ("b8fa6a9202b82780", "1f0c2ab")
    assert [r.weight for r in cfg.aliases["a"]] == [95, None]
    assert load_config(write(tmp_path, doc())).revision == ""


@pytest.mark.parametrize(("change", "message"), [
    ({"version": 2}, "version: 2 is not supported"),
    ({"aliases": {"a": {"routes": []}}}, "aliases.a.routes: needs at least one route"),
    ({"aliases": {"a": {"routes": [{**ROUTE, "timeout": "30"}]}}},
     "aliases.a.routes[0].timeout: expected number"),
    ({"aliases": {"a": {"routes": [{**ROUTE, "retries": True}]}}},
     "aliases.a.routes[0].retries: expected int"),
    ({"aliases": {"a": {"routes": [{k: v for k, v in ROUTE.items() if k != "slot"}]}}},
     "aliases.a.routes[0].slot: missing"),
    ({"aliases": {"a": {"routes": [{**ROUTE, "weight": 101}]}}},
     "aliases.a.routes[0].weight: expected a whole number 0-100 or null"),
    ({"aliases": {"a": {"routes": [{**ROUTE, "weight": True}]}}},
     "aliases.a.routes[0].weight: expected a whole number"),
    ({"revision": 7}, "revision: expected str"),
])
def test_bad_config_names_the_field(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, doc(**change)))


def test_unreadable_config(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(tmp_path / "bad.json")
