"""A Kubernetes output mounts the key folder in a container: `aigw validate` wants it absolute."""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.errors import CatalogError
from tests.helpers import run_cli

BASE = """\
environments:
  prod: {KEY_DIR}
providers:
  openai: {api: openai, base_url: https://api.openai.com/v1, region: us}
models:
  chat:
    routes:
      - {provider: openai, model: gpt-4o}
services:
  bot:
    environments: [prod]
    models: [chat]
    outputs: [aigw-client, OUTPUT]
"""


def _catalog(tmp_path: Path, env: str, output: str, service_key_dir: str = "") -> Path:
    text = BASE.replace("{KEY_DIR}", env).replace("OUTPUT", output) + service_key_dir
    path = tmp_path / "aigw.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("output", ["k8s-injector", "k8s-csi"])
def test_relative_environment_key_dir_is_refused_for_kubernetes(
        tmp_path: Path, output: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _catalog(tmp_path, "{key_dir: keys}", output)
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    (line,) = info.value.lines()
    assert "aigw.yaml:2:" in line and "environments.prod.key_dir" in line
    assert f"key_dir 'keys' is relative, but service 'bot' renders {output}" in line
    assert "(hint: use an absolute path" in line
    assert run_cli(capsys, "validate", str(path)).code == 2


def test_relative_service_key_dir_is_pointed_at(tmp_path: Path) -> None:
    path = _catalog(tmp_path, "{}", "k8s-csi", "    key_dir: run/keys\n")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    (line,) = info.value.lines()
    assert "aigw.yaml:14:" in line and "services.bot.key_dir" in line


def test_relative_key_dir_is_fine_without_kubernetes(tmp_path: Path) -> None:
    """A bao agent on a VM may write keys next to the service: relative stays allowed there."""
    load_catalog(_catalog(tmp_path, "{key_dir: keys}", "bao-agent"))
    load_catalog(_catalog(tmp_path, "{}", "k8s-injector"))
