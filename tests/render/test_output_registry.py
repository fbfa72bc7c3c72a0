"""A new rendered output is a registry row and its hooks: no edit to aigw.

The test registers a toy output (`aigw.outputs.register`) the way code outside aigw
would; the catalog's `outputs:` accepts it because the allowed names are read from
the registry when a catalog is validated, and `aigw render` writes it (its bytes from
its `content` hook, a file beside it from its `files` hook) and keeps it up to date
like any other output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from aigw import outputs
from aigw.catalog.models import Service
from aigw.catalog.view import Deployment
from tests.helpers import run_cli

NAME = "toy-manifest"
# A dev service (no production rules apply) naming the toy output beside a built-in one.
CATALOG = yaml.safe_dump({
    "environments": {"dev": {}},
    "providers": {"deepseek": {"api": "openai", "base_url": "https://api.deepseek.com",
                               "region": "cn"}},
    "models": {"chat": {"routes": [{"provider": "deepseek", "model": "deepseek-chat"}]}},
    "services": {"bot": {"environments": ["dev"], "models": ["chat"],
                         "outputs": ["aigw-client", NAME]}},
}, sort_keys=False)


def _content(renderer: Any, dep: Deployment) -> bytes:
    """One line per alias: its routes' providers and models."""
    lines = [f"{alias}: " + ", ".join(f"{r.provider}/{r.model}" for r in routes)
             for alias, routes in sorted(dep.aliases.items())]
    return ("\n".join(lines) + "\n").encode()


def _files(renderer: Any, dep: Deployment, context: Mapping[str, Any]) -> dict[str, bytes]:
    return {"toy/slots.txt": "".join(f"{s['file_env']}\n" for s in context["slots"]).encode()}


@pytest.fixture
def toy_output() -> Iterator[None]:
    outputs.register(outputs.Output(NAME, "toy-manifest.txt", None),
                     outputs.OutputHooks(content=_content, files=_files))
    try:
        yield
    finally:
        outputs.unregister(NAME)


def test_a_registered_output_validates_and_renders(tmp_path: Path, toy_output: None,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "aigw.yaml").write_text(CATALOG)
    out = tmp_path / "rendered"
    assert run_cli(capsys, "validate", str(tmp_path)).code == 0
    result = run_cli(capsys, "render", str(tmp_path), "--out", str(out))
    assert result.code == 0, result.err
    folder = out / "dev" / "bot"
    assert (folder / "toy-manifest.txt").read_text() == "chat: deepseek/deepseek-chat\n"
    assert (folder / "toy" / "slots.txt").read_text() == "AIGW_KEY_FILE_DEEPSEEK_DEFAULT\n"
    assert (folder / "aigw-client.json").is_file()
    assert run_cli(capsys, "render", str(tmp_path), "--out", str(out), "--check").code == 0
    # The JSON schema of `outputs:` names it too (read when the schema is made).
    enum = Service.model_json_schema()["properties"]["outputs"]["items"]["enum"]
    assert NAME in enum


def test_an_unregistered_output_is_refused_naming_the_registry(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "aigw.yaml").write_text(CATALOG)
    result = run_cli(capsys, "validate", str(tmp_path))
    assert result.code == 2
    line = next(x for x in result.err.splitlines() if "services.bot.outputs[1]" in x)
    assert f"'{NAME}' is not allowed" in line
    assert "'litellm'" in line and "k8s-csi" in line  # the hint lists the registry's names
    assert NAME not in Service.model_json_schema()["properties"]["outputs"]["items"]["enum"]


def test_register_refuses_a_taken_name_and_leaves_nothing_half_added() -> None:
    with pytest.raises(ValueError, match="exists already"):
        outputs.register(outputs.Output("env", "x.env", None), outputs.OutputHooks())
    with pytest.raises(ValueError, match="exactly one of"):
        outputs.register(outputs.Output(NAME, "x.txt", None), outputs.OutputHooks())
    assert NAME not in outputs.OUTPUTS
