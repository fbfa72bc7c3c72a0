"""The rendered LiteLLM config is accepted by LiteLLM's own Router (litellm from PyPI).

LiteLLM lives in its own virtualenv (scripts/install-litellm.sh) because its
dependency tree is large; the test loads each rendered litellm.yaml there.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from testing.fake_provider import FakeProvider

from aigw.catalog import load_catalog
from aigw.render import render_all

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VENV = Path(os.environ.get("AIGW_CACHE", Path.home() / ".cache" / "aigw")) / "litellm-venv"

LOADER = r"""
import json, os, sys, yaml
from litellm import Router
out = {}
for path in sys.argv[1:]:
    cfg = yaml.safe_load(open(path))
    for d in cfg["model_list"]:
        for k, v in d["litellm_params"].items():
            if isinstance(v, str) and v.startswith("os.environ/"):
                os.environ.setdefault(v.split("/", 1)[1], "test-placeholder")
    settings = cfg.get("router_settings", {})
    router = Router(model_list=cfg["model_list"], **settings)
    out[path] = {"models": sorted(router.get_model_names()), "fallbacks": router.fallbacks}
print(json.dumps(out))
"""


@pytest.mark.integration
def test_litellm_router_loads_every_rendered_config(tmp_path: Path) -> None:
    python = VENV / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"LiteLLM virtualenv missing at {VENV}: run scripts/install-litellm.sh")
        pytest.skip("LiteLLM not installed (scripts/install-litellm.sh)")
    files = render_all(load_catalog(EXAMPLES))
    paths = []
    for rel, data in files.items():
        if rel.endswith("litellm.yaml"):
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths.append(str(path))
    assert len(paths) >= 7
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([str(python), "-c", LOADER, *paths], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    support = loaded[str(tmp_path / "prod/support-bot/litellm.yaml")]
    assert support["models"] == ["deepseek-v3", "deepseek-v3/fallback-1", "deepseek-v3/fallback-2"]
    assert support["fallbacks"] == [
        {"deepseek-v3": ["deepseek-v3/fallback-1", "deepseek-v3/fallback-2"]}
    ]


PICKER = r"""
import collections, json, os, random, sys, yaml
from litellm import Router
cfg = yaml.safe_load(open(sys.argv[1]))
for d in cfg["model_list"]:
    for v in d["litellm_params"].values():
        if isinstance(v, str) and v.startswith("os.environ/"):
            os.environ.setdefault(v.split("/", 1)[1], "test-placeholder")
router = Router(model_list=cfg["model_list"], **cfg.get("router_settings", {}))
random.seed(16)
picks = collections.Counter(router.get_available_deployment(model="chat")["litellm_params"]["model"]
                            for _ in range(4000))
print(json.dumps({"picks": picks, "fallbacks": router.fallbacks,
                  "models": sorted(router.get_model_names())}))
"""

WEIGHTED = """\
environments:
  prod: {}
providers:
  old: {api: openai, base_url: https://old.example.com/v1, region: us}
  new: {api: openai, base_url: https://new.example.com/v1, region: us}
models:
  chat:
    routes:
      - {provider: old, model: old-model, weight: 90}
      - {provider: new, model: new-model, weight: 10}
      - {provider: old, model: old-small}
services:
  bot:
    environments: [prod]
    models: [chat]
"""


@pytest.mark.integration
def test_weights_become_litellm_weighted_deployments(tmp_path: Path) -> None:
    """A 90/10 canary: LiteLLM's own Router splits picks by `litellm_params.weight`.

    The unweighted route stays the alias's fallback. Picks are made offline
    (`get_available_deployment`), so no provider is called.
    """
    python = VENV / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"LiteLLM virtualenv missing at {VENV}: run scripts/install-litellm.sh")
        pytest.skip("LiteLLM not installed (scripts/install-litellm.sh)")
    (tmp_path / "aigw.yaml").write_text(WEIGHTED)
    files = render_all(load_catalog(tmp_path))
    config = files["prod/bot/litellm.yaml"]
    path = tmp_path / "litellm.yaml"
    path.write_bytes(config)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([str(python), "-c", PICKER, str(path)], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(set(found["models"])) == ["chat", "chat/fallback-1"]  # one name per deployment
    assert found["fallbacks"] == [{"chat": ["chat/fallback-1"]}]
    picks = found["picks"]
    assert set(picks) == {"openai/old-model", "openai/new-model"}
    share = picks["openai/new-model"] / sum(picks.values())
    assert 0.07 < share < 0.13, picks  # 10% of 4,000 seeded picks (3 sigma is about 1.4 points)
    client = json.loads(files["prod/bot/aigw-client.json"])
    assert [r["weight"] for r in client["aliases"]["chat"]["routes"]] == [90, 10, None]


FOLLOW = r"""
import json, os, sys, yaml
from litellm import Router

def model_list(config_path):  # the recipe of docs/live-config.md, "LiteLLM users"
    cfg = yaml.safe_load(open(config_path))
    for dep in cfg["model_list"]:
        for name, value in dep["litellm_params"].items():
            if name == "api_key" and value.startswith("os.environ/AIGW_KEY_"):
                var = value.removeprefix("os.environ/AIGW_KEY_")
                with open(os.environ[f"AIGW_KEY_FILE_{var}"]) as f:
                    dep["litellm_params"][name] = f.read().strip()
    return cfg["model_list"], cfg.get("router_settings", {})

def keys(router):
    return sorted((d["litellm_params"]["model"], d["litellm_params"]["api_key"],
                   d["litellm_params"].get("weight")) for d in router.get_model_list())

models, settings = model_list(sys.argv[1])
router = Router(model_list=models, **settings)
before = keys(router)
with open(sys.argv[2], "w") as f:  # the agent writes the rotated key
    f.write(sys.argv[3] + "\n")
stale = keys(router)  # nothing in the Router notices the file by itself
models, settings = model_list(sys.argv[1])
router.set_model_list(models)
router.update_settings(fallbacks=settings["fallbacks"])
print(json.dumps({"before": before, "stale": stale, "after": keys(router),
                  "fallbacks": router.fallbacks}))
"""


@pytest.mark.integration
def test_a_router_user_follows_a_rotated_key_without_a_restart(tmp_path: Path) -> None:
    """The documented recipe: key files named by aigw.env, `Router.set_model_list()` on change."""
    python = VENV / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"LiteLLM virtualenv missing at {VENV}: run scripts/install-litellm.sh")
        pytest.skip("LiteLLM not installed (scripts/install-litellm.sh)")
    keys = tmp_path / "keys"
    (tmp_path / "aigw.yaml").write_text(WEIGHTED.replace("  prod: {}", f"  prod: {{key_dir: {keys}}}"))
    files = render_all(load_catalog(tmp_path))
    (tmp_path / "litellm.yaml").write_bytes(files["prod/bot/litellm.yaml"])
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    keys.mkdir()
    for line in files["prod/bot/aigw.env"].decode().splitlines():
        if line.startswith("AIGW_KEY_FILE_"):
            name, path = line.split("=", 1)
            env[name] = path
            Path(path).write_text(f"fake-{Path(path).stem}-v1\n")
    old_key = keys / "old.default.key"
    proc = subprocess.run([str(python), "-c", FOLLOW, str(tmp_path / "litellm.yaml"),
                           str(old_key), "fake-old-v2"], capture_output=True, text=True,
                          env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert ["openai/old-model", "fake-old.default-v1", 90] in found["before"]
    assert found["stale"] == found["before"], "the Router re-read a key by itself?"
    assert ["openai/old-model", "fake-old-v2", 90] in found["after"]
    assert ["openai/new-model", "fake-new.default-v1", 10] in found["after"]
    assert found["fallbacks"] == [{"chat": ["chat/fallback-1"]}]


CALLS = r"""
import json, sys, httpx, yaml
from litellm import Router
cfg = yaml.safe_load(open(sys.argv[1]))
for d in cfg["model_list"]:
    d["litellm_params"]["api_key"] = sys.argv[2]
router = Router(model_list=cfg["model_list"], **cfg.get("router_settings", {}))
served, main_calls = [], []
for _ in range(3):
    answer = router.completion(model="chat", messages=[{"role": "user", "content": "hi"}])
    served.append(answer.model)
    main_calls.append(httpx.get(sys.argv[3] + "/_fake/state").json()["total_calls"])
print(json.dumps({"served": served, "main_calls": main_calls}))
"""

FAILOVER = """\
environments:
  prod: {{}}
providers:
  main: {{api: openai, base_url: "{main}", region: us}}
  spare: {{api: openai, base_url: "{spare}", region: us}}
models:
  chat:
    routes:
      - {{provider: main, model: main-model, retries: 2, cooldown: 120}}
      - {{provider: spare, model: spare-model}}
services:
  bot:
    environments: [prod]
    models: [chat]
    defaults: {{retries: 0, cooldown: 30}}
"""


@pytest.mark.integration
@pytest.mark.parametrize("fault", ["500", "429", "503"])
def test_litellm_spends_a_routes_retries_then_cools_it_down(tmp_path: Path, fault: str) -> None:
    """A route with `retries: 2, cooldown: 120`: LiteLLM's own Router tries it three times on
    the first call, falls back, and leaves it alone for the next calls (aigw's rule, spec R5;
    the main provider's calls after each of three calls: 3, 3, 3).

    Both providers are stand-ins (testing/fake_provider.py, real HTTP on 127.0.0.1).
    Without the per-deployment settings LiteLLM retries by the service default and never
    cools a model group's only deployment on a 5xx: the first route is called on every call.
    """
    python = VENV / "bin" / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"LiteLLM virtualenv missing at {VENV}: run scripts/install-litellm.sh")
        pytest.skip("LiteLLM not installed (scripts/install-litellm.sh)")
    key = "test-" + os.urandom(8).hex()
    with FakeProvider("main", keys=[key], control_port=0) as main, \
            FakeProvider("spare", keys=[key]) as spare:
        main.set_mode(fault)
        (tmp_path / "aigw.yaml").write_text(FAILOVER.format(main=main.base_url,
                                                            spare=spare.base_url))
        path = tmp_path / "litellm.yaml"
        path.write_bytes(render_all(load_catalog(tmp_path))["prod/bot/litellm.yaml"])
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        proc = subprocess.run([str(python), "-c", CALLS, str(path), key, str(main.control_url)],
                              capture_output=True, text=True, env=env, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        found = json.loads(proc.stdout.strip().splitlines()[-1])
        assert found["main_calls"] == [3, 3, 3]
        assert found["served"] == ["spare-model"] * 3 and spare.total_calls == 3
        assert spare.last_request is not None
        assert not {"num_retries", "cooldown_time", "allowed_fails_policy"} & set(
            spare.last_request), "a router setting reached the provider"
