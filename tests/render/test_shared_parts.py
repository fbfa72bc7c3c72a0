"""What render builds once and shares between deployments stays right for each of them.

Render resolves an alias once per distinct service settings, builds its
aigw-client.json part and LiteLLM entries once, and reuses that part's canonical
text for the revision; outputs come from one registry, names from one module.
These tests pin what a user sees in the rendered files when several services
share (or do not share) those parts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw import names
from aigw.catalog import load_catalog
from aigw.errors import CatalogError
from aigw.outputs import OUTPUTS
from aigw.render import render_all


def _catalog(tmp_path: Path, services: dict[str, Any], extra: dict[str, Any] | None = None
             ) -> Path:
    doc = {
        "version": 1,
        "environments": {"staging": {}, "prod": {"mount": "kv-prod", "path_prefix": "p"}},
        "providers": {
            "alpha": {"api": "openai", "base_url": "https://alpha.example/v1", "region": "eu",
                      "extra": extra or {}},
            "beta": {"api": "openai", "base_url": "https://beta.example/v1", "region": "eu"},
        },
        "models": {"chat": {"routes": [{"provider": "alpha", "model": "a-1"},
                                       {"provider": "beta", "model": "b-1"}]}},
        "services": services,
    }
    path = tmp_path / "aigw.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


def _revision(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "revision"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_services_sharing_an_alias_keep_their_own_settings(tmp_path: Path) -> None:
    """Two shared-key services with different defaults, and a per-service one, on one alias."""
    base = {"environments": ["staging", "prod"], "models": ["chat"]}
    files = render_all(load_catalog(_catalog(tmp_path, {
        "fast": {**base, "defaults": {"timeout": 5}},
        "slow": {**base},
        "slow-too": {**base},
        "own": {**base, "keys": "per-service"},
    })))
    for env in ("staging", "prod"):
        timeouts, slots = {}, {}
        for svc in ("fast", "slow", "slow-too", "own"):
            doc = json.loads(files[f"{env}/{svc}/aigw-client.json"])
            routes = doc["aliases"]["chat"]["routes"]
            timeouts[svc] = [r["timeout"] for r in routes]
            slots[svc] = [r["slot"] for r in routes]
            assert doc["service"] == svc and doc["environment"] == env
            assert doc["revision"] == _revision(doc)
            litellm = files[f"{env}/{svc}/litellm.yaml"].decode()
            assert f"timeout: {timeouts[svc][0]}" in litellm
            assert f"AIGW_KEY_ALPHA_{slots[svc][0].upper().replace('-', '_')}" in litellm
        assert timeouts == {"fast": [5.0, 5.0], "slow": [30.0, 30.0], "slow-too": [30.0, 30.0],
                            "own": [30.0, 30.0]}
        assert slots == {"fast": ["default"] * 2, "slow": ["default"] * 2,
                         "slow-too": ["default"] * 2, "own": ["svc-own"] * 2}


def test_revision_of_unusual_extra_is_json_dumps(tmp_path: Path) -> None:
    """Non-ASCII text, nested keys out of order, tiny and huge numbers: one canonical text."""
    extra = {"zeta": {"b": 1, "a": [1.5e-07, 12345678901234567890]}, "label": "é中 \"q\" \\ / tab\t",
             "Alpha": None, "alpha": True}
    files = render_all(load_catalog(_catalog(tmp_path, {
        "one": {"environments": ["prod"], "models": ["chat"]},
        "two": {"environments": ["prod"], "models": ["chat"]},
    }, extra)))
    for svc in ("one", "two"):
        doc = json.loads(files[f"prod/{svc}/aigw-client.json"])
        assert doc["aliases"]["chat"]["routes"][0]["extra"] == extra
        assert doc["revision"] == _revision(doc)


def test_every_registered_output_writes_its_file(tmp_path: Path) -> None:
    files = render_all(load_catalog(_catalog(tmp_path, {
        "all": {"environments": ["prod"], "models": ["chat"], "outputs": list(OUTPUTS)},
        "env-only": {"environments": ["prod"], "models": ["chat"], "outputs": ["env"]},
    })))
    written = {rel.split("/", 2)[2] for rel in files if rel.startswith("prod/all/")}
    assert written == {o.file for o in OUTPUTS.values()} | {
        "templates/alpha.default.key.ctmpl", "templates/beta.default.key.ctmpl",
        "templates/aigw-client.json.ctmpl", ".gitignore"}
    assert [rel for rel in files if rel.startswith("prod/env-only/")] == [
        "prod/env-only/.gitignore", "prod/env-only/aigw.env"]


def test_the_catalog_accepts_exactly_the_registered_outputs(tmp_path: Path) -> None:
    path = _catalog(tmp_path, {"bot": {"environments": ["prod"], "models": ["chat"],
                                       "outputs": ["env", "helm"]}})
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    line = next(line for line in caught.value.lines() if "outputs[1]" in line)
    assert "'helm' is not allowed" in line
    for name in OUTPUTS:
        assert name in line, f"the hint does not offer {name!r}"


def test_render_and_stack_agree_on_every_name(tmp_path: Path) -> None:
    """The policy, role and Vault paths the stack declares are the ones the files name."""
    from aigw.catalog.view import deployments
    from aigw.slots import targets as rotation_slots
    from aigw.stack import spec

    loaded = load_catalog(_catalog(tmp_path, {
        "bot": {"environments": ["prod"], "models": ["chat"], "keys": "per-service",
                "outputs": ["k8s-csi", "k8s-injector", "env"]}}))
    cat = loaded.catalog
    files = render_all(loaded)
    (dep,) = deployments(cat)
    csi = next(yaml.safe_load_all(files["prod/bot/k8s-csi.yaml"]))  # the SecretProviderClass
    assert csi["metadata"]["name"] == spec.policy_name("prod", "bot") == "aigw-prod-bot"
    assert csi["spec"]["parameters"]["roleName"] == spec.role_name("prod", "bot")
    objects = yaml.safe_load(csi["spec"]["parameters"]["objects"])
    assert [o["secretPath"] for o in objects] == [spec.secret_path(cat, "prod", s)
                                                  for s in dep.slots]
    assert objects[0]["secretPath"] == "kv-prod/data/p/providers/alpha/svc-bot"
    assert spec.metadata_path(cat, "prod", dep.slots[0]) == "kv-prod/metadata/p/providers/alpha/svc-bot"
    env_file = files["prod/bot/aigw.env"].decode()
    assert f"{names.key_file_env(dep.slots[0])}=/run/secrets/aigw/alpha.svc-bot.key" in env_file
    # Rotation addresses slots through the same builder (not a copy of it).
    assert rotation_slots.slot_path is names.slot_path
