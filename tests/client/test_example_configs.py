"""Every aigw-client.json rendered from examples/ loads in the client (issue: a Bedrock
route once made `Client.from_file` refuse the whole file). No provider is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.client import Client, load_config
from aigw.render import render_all

ROOT = Path(__file__).resolve().parents[2]


def rendered_client_configs(tmp_path: Path) -> dict[str, Path]:
    """Render examples/ and write each deployment's aigw-client.json to `tmp_path`."""
    out = {}
    for rel, data in render_all(load_catalog(ROOT / "examples")).items():
        if rel.endswith("/aigw-client.json"):
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            out[rel] = path
    return out


def test_every_rendered_example_config_loads(tmp_path):
    configs = rendered_client_configs(tmp_path)
    assert len(configs) == 7
    for rel, path in configs.items():
        cfg = load_config(path)
        raw = json.loads(path.read_text())
        assert set(cfg.aliases) == set(raw["aliases"]), rel
        for alias, spec in raw["aliases"].items():
            assert cfg.families[alias] == spec["family"], (rel, alias)
            for route in cfg.aliases[alias]:
                assert route.wire is not None, (rel, alias, route.api)
                assert route.base_url.startswith("https://"), (rel, alias)
        with Client(cfg, watch_keys=False) as client:
            assert sorted(client.aliases) == sorted(raw["aliases"])


def test_bedrock_route_gets_its_regional_endpoint(tmp_path):
    path = rendered_client_configs(tmp_path)["prod/eu-contracts/aigw-client.json"]
    (route,) = load_config(path).aliases["claude-eu"]
    assert route.api == "bedrock"
    assert route.base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    assert route.aws_region == "eu-central-1"
    assert "aws_region_name" not in route.extra  # extra is what goes into the body


@pytest.mark.parametrize("legacy", [True, False])
def test_bedrock_route_rendered_before_aws_region_still_loads(tmp_path, legacy):
    """Configs rendered by older aigw kept the region in extra and base_url null."""
    route = {"provider": "bedrock-eu", "api": "bedrock", "base_url": None,
             "model": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "slot": "default",
             "key_file": "bedrock-eu.default.key", "timeout": 60, "retries": 0,
             "cooldown": 30, "extra": {"aws_region_name": "eu-central-1"} if legacy else {}}
    doc = {"version": 1, "service": "s", "environment": "e", "key_dir": "k",
           "aliases": {"claude-eu": {"routes": [route]}}}
    path = tmp_path / "aigw-client.json"
    path.write_text(json.dumps(doc))
    if legacy:
        (loaded,) = load_config(path).aliases["claude-eu"]
        assert loaded.base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
        assert load_config(path).families["claude-eu"] == "anthropic"
    else:
        with pytest.raises(Exception, match=r"routes\[0\].aws_region: missing"):
            load_config(path)
