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
