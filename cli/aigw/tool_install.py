"""`aigw tools install`: put the pinned Pulumi engine, OPA and actionlint into aigw's cache.

The versions and recipes are tools.toml's (the one table; aigw.tools finds what this
fills). For each tool asked for:

- already found (aigw.tools' search: its override variable, the cache, PATH at the
  pinned version): nothing is built;
- else, by default, it is built from the Go module proxy (`go install MODULE@vVERSION`
  for a "go" row; docs/engine.md's recipe for the engine) into
  `${AIGW_CACHE:-~/.cache/aigw}/NAME-vVERSION/`. The Go build cache is kept: a second
  build of another tool, or a rebuild, reuses it;
- with `release=True`, the official release is downloaded instead and checked against
  upstream's checksum file (aigw.tool_release).

Each result lands in a temporary folder beside its final place and is renamed into
it, so a killed install leaves no half-built tool where aigw.tools would find it.
scripts/install-*.sh call this through `aigw tools install --only NAME`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigw import proc, tools
from aigw.errors import ToolMissing, UsageError
from aigw.tool_release import Say, download, publish, staged

INSTALLABLE = ("pulumi", "opa", "actionlint")  # `--only` accepts these, installed in this order


@dataclass(frozen=True)
class Installed:
    """What `install` did for one tool."""

    name: str
    version: str
    folder: Path  # the folder holding the binary (put it on PATH, or leave it to aigw)
    how: str  # "found" (nothing done), "built" (Go module proxy), "downloaded" (release)


def chosen(only: Sequence[str] | None) -> list[str]:
    """The tools to install, in INSTALLABLE's order; UsageError naming the valid ones."""
    wanted = list(only or INSTALLABLE)
    unknown = [n for n in wanted if n not in INSTALLABLE]
    if unknown:
        raise UsageError(f"--only {unknown[0]}: not a tool aigw installs",
                         f"choose from {', '.join(INSTALLABLE)}")
    return [n for n in INSTALLABLE if n in wanted]


def install(only: Sequence[str] | None = None, *, release: bool = False,
            mirror: str | None = None, say: Say = lambda _line: None) -> list[Installed]:
    """Install each tool of ONLY (default: all) that is not found yet; see the module doc."""
    if mirror and not release:
        raise UsageError("--mirror is for --release downloads", "add --release")
    done = []
    for name in chosen(only):
        version = tools.pulumi_version() if name == "pulumi" else tools.tool(name).version
        found = _found(name)
        if found is not None:
            done.append(Installed(name, version, found.parent, "found"))
            continue
        target = tools.cache_dir() / f"{name}-v{version}"
        if release:
            download(name, version, target, mirror=mirror, say=say)
            how = "downloaded"
        else:
            _need_disk(name, target)
            if name == "pulumi":
                _build_pulumi(version, target, say)
            else:
                _build_go_tool(name, version, target, say)
            how = "built"
        if _found(name) is None:  # what aigw would use: the cache it just filled
            raise ToolMissing(f"{name} v{version} was installed into {target} but does not run")
        done.append(Installed(name, version, target, how))
    return done


def _found(name: str) -> Path | None:
    finder = {"pulumi": tools.find_pulumi, "opa": tools.find_opa,
              "actionlint": tools.find_actionlint}[name]
    try:
        return finder()
    except ToolMissing:
        return None


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise ToolMissing("Go is needed to build the tools from the Go module proxy",
                          "install Go (https://go.dev/dl/), or run `aigw tools install "
                          "--release` to download the official builds")
    return go


def _need_disk(name: str, target: Path) -> None:
    need_mb = int(tools.rows()[name].get("disk_mb", 0))
    target.parent.mkdir(parents=True, exist_ok=True)
    free_mb = shutil.disk_usage(target.parent).free // 1_000_000
    if free_mb < need_mb:
        raise ToolMissing(f"only {free_mb} MB free under {target.parent}; building {name} "
                          f"needs about {need_mb / 1000:.1f} GB",
                          "free some space, or run `aigw tools install --release`")


def _go_env(**extra: str) -> dict[str, str]:
    # An exact version is always named (the proxy here refuses @latest); CGO off gives a
    # static binary like the official ones.
    return {**os.environ, "GOFLAGS": "-mod=mod", "CGO_ENABLED": "0", **extra}


def _run(argv: Sequence[str], what: str, **kwargs: Any) -> str:
    out = proc.run(list(argv), capture_output=True, text=True, check=False, **kwargs)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        raise ToolMissing(f"{what} failed: {' / '.join(tail) or f'exit {out.returncode}'}",
                          "check that the Go module proxy is reachable (GOPROXY), or run "
                          "`aigw tools install --release`")
    return str(out.stdout)


def _build_go_tool(name: str, version: str, target: Path, say: Say) -> None:
    row = tools.rows()[name]
    build = str(row.get("build", ""))
    if not build.startswith("go "):
        raise ToolMissing(f"{name} is not built with Go (tools.toml build = {build!r})")
    module = build.removeprefix("go ")
    go = _go()
    say(f"building {name} v{version} from the Go module proxy")
    with staged(target) as tmp:
        bin_dir = Path(tmp) / "bin"
        _run([go, "install", "-trimpath", f"{module}@v{version}"], f"go install {module}",
             env=_go_env(GOBIN=str(bin_dir)))
        publish(bin_dir, target)


def _module_dirs(json_stream: str) -> dict[str, str]:
    """`go mod download -json` prints one JSON object per module, back to back."""
    decoder, at = json.JSONDecoder(), 0
    dirs: dict[str, str] = {}
    while True:
        while at < len(json_stream) and json_stream[at].isspace():
            at += 1
        if at >= len(json_stream):
            return dirs
        obj, at = decoder.raw_decode(json_stream, at)
        dirs[obj["Path"]] = obj["Dir"]


def _build_pulumi(version: str, target: Path, say: Say) -> None:
    """docs/engine.md's recipe: pkg/ and sdk/ side by side, built with the version ldflag."""
    go = _go()
    pkg, sdk = "github.com/pulumi/pulumi/pkg/v3", "github.com/pulumi/pulumi/sdk/v3"
    say(f"building the Pulumi engine v{version} from the Go module proxy (about 4 minutes cold)")
    dirs = _module_dirs(_run([go, "mod", "download", "-json", f"{pkg}@v{version}",
                              f"{sdk}@v{version}"], "go mod download", env=_go_env()))
    with tempfile.TemporaryDirectory() as work, staged(target) as tmp:
        src = Path(work)
        shutil.copytree(dirs[pkg], src / "pkg")
        shutil.copytree(dirs[sdk], src / "sdk")
        _writable(src.rglob("*"))  # the module cache is read-only
        out = Path(tmp) / "bin"
        ldflags = f"-s -w -X {sdk}/go/common/version.Version=v{version}"
        _run([go, "build", "-trimpath", "-tags", "osusergo", "-ldflags", ldflags, "-o",
              str(out / "pulumi"), "./cmd/pulumi"], "go build ./cmd/pulumi",
             cwd=src / "pkg", env=_go_env())
        plugin = out / tools.PYTHON_PROVIDER
        shutil.copy2(src / "sdk" / "python" / "dist" / tools.PYTHON_PROVIDER, plugin)
        plugin.chmod(0o755)
        publish(out, target)


def _writable(paths: Iterable[Path]) -> None:
    for path in paths:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
