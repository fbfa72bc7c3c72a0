"""Locate `opa` (the Rego engine behind `aigw policy`) and `actionlint` (workflow linter).

Search order, first hit wins:

- `$AIGW_OPA` / `$AIGW_ACTIONLINT` (trusted as given),
- the binary on PATH when it reports the pinned version,
- the cache that `scripts/install-opa.sh` / `scripts/install-actionlint.sh` fill:
  `${AIGW_CACHE:-~/.cache/aigw}/opa-vVERSION/opa` and `.../actionlint-vVERSION/actionlint`,
- for OPA only, any `opa` on PATH of major version 1 or later (the rules are Rego v1).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from aigw import proc as _proc
from aigw.errors import ToolMissing
from aigw.tools import cache_dir

OPA_VERSION = "1.22.2"
ACTIONLINT_VERSION = "1.7.12"


@dataclass(frozen=True)
class ToolSpec:
    """How to find and version-check one binary."""

    name: str
    version: str
    env_var: str
    version_args: tuple[str, ...]
    version_re: str  # a regex whose group 1 is the reported version
    hint: str


OPA = ToolSpec("opa", OPA_VERSION, "AIGW_OPA", ("version",), r"^Version:\s*v?(\S+)",
               "run scripts/install-opa.sh (builds OPA from the Go module proxy), or set AIGW_OPA")
ACTIONLINT = ToolSpec("actionlint", ACTIONLINT_VERSION, "AIGW_ACTIONLINT", ("-version",),
                      r"^v?(\d+\.\d+\.\d+)", "run scripts/install-actionlint.sh, or set "
                      "AIGW_ACTIONLINT")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@functools.lru_cache(maxsize=32)
def _reported(binary: str, mtime_ns: int, args: tuple[str, ...], pattern: str) -> str | None:
    # Keyed by mtime so a rebuilt binary is asked again.
    del mtime_ns
    try:
        out = _proc.run([binary, *args], capture_output=True, text=True, timeout=30,
                        check=False)
    except (OSError, _proc.SubprocessError):
        return None
    match = re.search(pattern, out.stdout, re.MULTILINE)
    return match.group(1) if out.returncode == 0 and match else None


def reported_version(binary: Path, spec: ToolSpec) -> str | None:
    """The version BINARY reports, or None when it does not run."""
    try:
        mtime = binary.stat().st_mtime_ns
    except OSError:
        return None
    return _reported(str(binary), mtime, spec.version_args, spec.version_re)


def find_tool(spec: ToolSpec, *, any_major_from: int | None = None) -> Path:
    """The path of SPEC's binary, or raise ToolMissing with an install hint."""
    override = os.environ.get(spec.env_var)
    if override:
        path = Path(override).expanduser()
        if not _executable(path):
            raise ToolMissing(f"{spec.env_var}={override} is not an executable file", spec.hint)
        return path
    on_path = shutil.which(spec.name)
    if on_path and reported_version(Path(on_path), spec) == spec.version:
        return Path(on_path)
    cached = cache_dir() / f"{spec.name}-v{spec.version}" / spec.name
    if _executable(cached) and reported_version(cached, spec) == spec.version:
        return cached
    if on_path and any_major_from is not None:
        found = reported_version(Path(on_path), spec) or ""
        major = found.split(".", 1)[0]
        if major.isdigit() and int(major) >= any_major_from:
            return Path(on_path)
    raise ToolMissing(f"{spec.name} v{spec.version} not found", spec.hint)


def find_opa() -> Path:
    """The `opa` binary (Rego v1 needs OPA 1.x; the pinned version is preferred)."""
    return find_tool(OPA, any_major_from=1)


def find_actionlint() -> Path:
    """The `actionlint` binary at the pinned version."""
    return find_tool(ACTIONLINT)
