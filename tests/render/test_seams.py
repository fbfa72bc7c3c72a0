"""Render's seams: the client config without Jinja, output hooks on the registry, agent names.

`aigw apply` and `aigw status` need one JSON document per deployment, not a
template engine (aigw.client_config); what an output needs beyond the common
context is a hook on the outputs registry (aigw.outputs, aigw.render_outputs);
the agent's file names come from aigw.names, and what `aigw agent-credentials`
writes is what the rendered config reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw import names, outputs
from aigw.catalog import load_catalog
from aigw.catalog.view import deployment, deployments
from aigw.client_config import REVISION_FIELD, ClientConfigs, publishes_config
from aigw.render import Renderer, render_all

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_the_client_config_needs_no_template_engine() -> None:
    """apply's spec and `aigw status` get the document without loading the renderer."""
    code = ("import sys, aigw.client_config, aigw.fleet, aigw.stack.spec\n"
            "print(sorted(m for m in sys.modules if m.startswith('aigw.render')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=ROOT).stdout.strip()
    assert loaded == "[]", "building the client config loaded the renderer"
    code = "import sys, aigw.client_config; print('jinja2' in sys.modules)"
    jinja = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=ROOT).stdout.strip()
    assert jinja == "False", "aigw.client_config pulled in Jinja"


def test_what_apply_publishes_and_status_expects_is_the_rendered_file() -> None:
    from aigw import fleet
    from aigw.stack.spec import config_specs

    loaded = load_catalog(EXAMPLES)
    cat = loaded.catalog
    files = render_all(loaded)
    configs = ClientConfigs()
    expected = fleet._expected_revisions(cat, None)
    published = {(spec.environment, spec.service): spec for env in cat.environments
                 for spec in config_specs(cat, env)}
    assert published and set(published) == set(expected)
    for dep in deployments(cat):
        if not publishes_config(cat, dep):
            continue
        rendered = files[f"{dep.environment}/{dep.service}/aigw-client.json"]
        assert configs.file(dep) == rendered
        spec = published[(dep.environment, dep.service)]
        assert spec.text.encode() == rendered
        assert spec.revision == expected[(dep.environment, dep.service)] == \
            json.loads(rendered)[REVISION_FIELD]


def _catalog(tmp_path: Path) -> Path:
    """Two environments whose routes differ only in a provider's `extra` (prod's override)."""
    doc: dict[str, Any] = {
        "version": 1,
        "environments": {"staging": {}, "prod": {"overrides": {"providers": {
            "alpha": {"extra": {"temperature": 0.2}}}}}},
        "providers": {"alpha": {"api": "openai", "base_url": "https://alpha.example/v1",
                                "region": "eu", "extra": {"temperature": 0.9}}},
        "models": {"chat": {"routes": [{"provider": "alpha", "model": "a-1"}]}},
        "services": {s: {"environments": ["staging", "prod"], "models": ["chat"],
                         "outputs": ["aigw-client", "litellm"]} for s in ("one", "two")},
    }
    path = tmp_path / "aigw.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_an_alias_built_once_per_value_not_per_object(tmp_path: Path) -> None:
    """Routes equal in value share one built part; routes differing only in `extra` do not."""
    loaded = load_catalog(_catalog(tmp_path))
    cat = loaded.catalog
    files = render_all(loaded)
    for env, temperature in (("staging", 0.9), ("prod", 0.2)):
        for svc in ("one", "two"):
            doc = json.loads(files[f"{env}/{svc}/aigw-client.json"])
            assert doc["aliases"]["chat"]["routes"][0]["extra"] == {"temperature": temperature}
            assert f"temperature: {temperature}" in files[f"{env}/{svc}/litellm.yaml"].decode()
    configs = ClientConfigs()
    # Resolved separately (no shared route cache): equal lists, distinct objects.
    one, two = (deployment(cat, s, "prod") for s in ("one", "two"))
    assert one.aliases["chat"] is not two.aliases["chat"]
    assert configs.document(one)["aliases"]["chat"] is configs.document(two)["aliases"]["chat"]
    staging = configs.document(deployment(cat, "one", "staging"))["aliases"]["chat"]
    assert staging is not configs.document(one)["aliases"]["chat"]


def test_every_output_has_its_hooks_and_the_registry_refuses_mistakes() -> None:
    for name, output in outputs.OUTPUTS.items():
        hooks = outputs.hooks(name)
        assert (output.template is None) == (hooks.content is not None), name
    with pytest.raises(ValueError, match="no output 'helm'"):
        outputs.register_hooks("helm", outputs.OutputHooks())
    with pytest.raises(ValueError, match="has its hooks already"):
        outputs.register_hooks("env", outputs.OutputHooks())
    with pytest.raises(LookupError, match="no hooks registered"):
        outputs.hooks("not-an-output")


def test_a_context_part_two_outputs_share_is_built_once(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    """k8s-injector and k8s-csi both need the pods' identity: one call per deployment."""
    from aigw import render_outputs

    calls: list[str] = []
    real = render_outputs._kubernetes

    def counted(renderer: Renderer, dep: Any) -> Any:
        calls.append(dep.service)
        return real(renderer, dep)

    for name in ("k8s-injector", "k8s-csi"):
        hooks = outputs.hooks(name)
        parts = tuple(counted if p is real else p for p in hooks.context)
        monkeypatch.setitem(outputs._HOOKS, name, outputs.OutputHooks(parts, hooks.content,
                                                                      hooks.files))
    path = tmp_path / "aigw.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "environments": {"prod": {}},
        "providers": {"alpha": {"api": "openai", "base_url": "https://a.example/v1",
                                "region": "eu"}},
        "models": {"chat": {"routes": [{"provider": "alpha", "model": "a-1"}]}},
        "services": {"bot": {"environments": ["prod"], "models": ["chat"],
                             "outputs": ["k8s-injector", "k8s-csi"]}}}))
    files = render_all(load_catalog(path))
    assert calls == ["bot"]
    assert 'namespace: "prod"' in files["prod/bot/k8s-csi.yaml"].decode()
    assert 'namespace: "prod"' in files["prod/bot/k8s-injector.yaml"].decode()


def test_the_agent_config_names_the_files_from_names(tmp_path: Path) -> None:
    """The login and pid files are aigw.names', passed to the template; agent-credentials
    writes them by the same names, and render's manifest leaves them alone."""
    from aigw.agent_credentials import agent_login

    loaded = load_catalog(EXAMPLES)
    hcl = render_all(loaded, "prod", "support-bot")["prod/support-bot/bao-agent.hcl"].decode()
    for line in (f'role_id_file_path                   = "{names.ROLE_ID_FILE}"',
                 f'secret_id_file_path                 = "{names.SECRET_ID_FILE}"',
                 f'pid_file = "{names.AGENT_PID_FILE}"',
                 f'mount_path = "auth/{names.APPROLE_MOUNT}"'):
        assert line in hcl
    assert f"/{names.TOKEN_FILES[0]}\"" in hcl
    login = agent_login(loaded, "support-bot", "prod", tmp_path)
    assert (login.role_id_file, login.secret_id_file, login.auth_mount) == (
        tmp_path / names.ROLE_ID_FILE, tmp_path / names.SECRET_ID_FILE, names.APPROLE_MOUNT)


def test_the_fork_pool_renders_what_one_process_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks over forked workers (aigw.render_pool) give the files, in the order, of one."""
    import os

    from aigw import render_pool

    loaded = load_catalog(EXAMPLES)
    alone = render_all(loaded)
    monkeypatch.setattr(render_pool, "PARALLEL_FROM", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)  # three chunks of the seven deployments
    forked = render_all(loaded)
    assert list(forked.items()) == list(alone.items())
