"""Synthetic catalogs for the stack's scale tests and benchmarks/apply.py.

`write_catalog(folder, services=N)` writes an aigw.yaml with a few providers
and aliases and N services in one environment; every `per_service_every`-th
service uses `keys: per-service`, which adds one slot per provider it uses.
"""

from __future__ import annotations

from pathlib import Path

import yaml

PROVIDERS = {
    "deepseek": {"api": "openai", "base_url": "https://api.deepseek.com", "region": "cn"},
    "volcengine": {"api": "openai", "base_url": "https://ark.example/api/v3", "region": "cn"},
    "openai": {"api": "openai", "base_url": "https://api.openai.com/v1", "region": "us",
               "slots": ["default", "batch"]},
    # Anthropic's OpenAI-compatible endpoint: chat-us is one wire family (openai).
    "anthropic": {"api": "openai", "base_url": "https://api.anthropic.com/v1", "region": "us"},
}
MODELS = {
    "chat-cn": {"routes": [{"provider": "deepseek", "model": "deepseek-chat"},
                           {"provider": "volcengine", "model": "deepseek-v3"}]},
    "chat-us": {"routes": [{"provider": "openai", "model": "gpt-4o"},
                           {"provider": "anthropic", "model": "claude-sonnet-4-5"}]},
    "batch-us": {"routes": [{"provider": "openai", "model": "gpt-4o-mini", "slot": "batch"}]},
}
ALIAS_SETS = (["chat-cn"], ["chat-us"], ["chat-us", "batch-us"], ["chat-cn", "chat-us"])


def service_name(i: int) -> str:
    """The name of the i-th synthetic service."""
    return f"svc-{i:05d}"


def catalog_doc(services: int, *, env: str = "bench", per_service_every: int = 4,
                extra_services: dict[str, dict[str, object]] | None = None) -> dict[str, object]:
    """The catalog document (a dict ready for yaml.safe_dump)."""
    svcs: dict[str, dict[str, object]] = {}
    for i in range(services):
        svc: dict[str, object] = {"environments": [env], "models": ALIAS_SETS[i % len(ALIAS_SETS)]}
        if per_service_every and i % per_service_every == 0:
            svc["keys"] = "per-service"
        svcs[service_name(i)] = svc
    svcs.update(extra_services or {})
    return {"version": 1, "environments": {env: {}}, "providers": PROVIDERS, "models": MODELS,
            "services": svcs}


def write_catalog(folder: Path, services: int, **kwargs: object) -> Path:
    """Write `folder/aigw.yaml` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    doc = catalog_doc(services, **kwargs)  # type: ignore[arg-type]
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=True))
    return folder
