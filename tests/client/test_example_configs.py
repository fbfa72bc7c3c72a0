"""Every aigw-client.json rendered from examples/ loads in the client (issue: a Bedrock
route once made `Client.from_file` refuse the whole file). No provider is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


def test_every_example_alias_is_callable_through_its_family_sdk(tmp_path):
    """Each rendered example config, with every route pointed at a local stand-in of its
    wire API (testing.fake_provider for openai, testing.fake_anthropic for anthropic,
    testing.fake_bedrock for bedrock, verifying SigV4), serves every alias through the
    SDK of the alias's family; then the first route of each alias fails and the next
    one serves."""
    from testing.fake_anthropic import FakeAnthropic
    from testing.fake_bedrock import FakeBedrock
    from testing.fake_provider import FakeProvider

    fakes: dict[str, Any] = {}
    called: set[tuple[str, str]] = set()
    try:
        for rel, path in rendered_client_configs(tmp_path).items():
            raw = json.loads(path.read_text())
            key_dir = path.parent / "keys"
            key_dir.mkdir()
            raw["key_dir"] = "keys"
            for spec in raw["aliases"].values():
                for route in spec["routes"]:
                    fake = fakes.get(route["provider"])
                    if fake is None:
                        name = route["provider"]
                        if route["api"] == "openai":
                            fake = FakeProvider(name, [f"sk-{name}"])
                        elif route["api"] == "anthropic":
                            fake = FakeAnthropic(name, [f"sk-{name}"])
                        else:
                            fake = FakeBedrock(name, [(f"AKID{len(fakes)}", f"s-{name}")],
                                               region=route["aws_region"])
                        fakes[name] = fake.start()
                    route["base_url"] = fake.base_url
                    secret = (f"[default]\naws_access_key_id = AKID{list(fakes).index(route['provider'])}\n"
                              f"aws_secret_access_key = s-{route['provider']}\n"
                              if route["api"] == "bedrock" else f"sk-{route['provider']}\n")
                    (key_dir / route["key_file"]).write_text(secret)
            path.write_text(json.dumps(raw))
            with Client.from_file(path, watch_keys=False) as client:
                sdks = {"openai": client.openai(), "anthropic": client.anthropic()}
                for alias, spec in raw["aliases"].items():
                    for served in spec["routes"]:
                        text = _call(sdks[spec["family"]], alias, spec["family"])
                        assert text.startswith(f"[{served['provider']}]"), (rel, alias, text)
                        called.add((alias, served["provider"]))
                        fakes[served["provider"]].set_mode("503")
                    for r in spec["routes"]:
                        fakes[r["provider"]].set_mode("ok")
                    for rs in client._routers[alias].routes:
                        rs.cooldown_until = 0.0
    finally:
        for fake in fakes.values():
            fake.stop()
    example = load_catalog(ROOT / "examples").catalog
    every = {(a, r.provider) for a, m in example.models.items() for r in m.routes}
    assert called == every


def _call(sdk: Any, alias: str, family: str) -> str:
    if family == "openai":
        reply = sdk.chat.completions.create(model=alias,
                                            messages=[{"role": "user", "content": "hi"}])
        return str(reply.choices[0].message.content)
    msg = sdk.messages.create(model=alias, max_tokens=16,
                              messages=[{"role": "user", "content": "hi"}])
    return str(msg.content[0].text)
