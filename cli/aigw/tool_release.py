"""`aigw tools install --release`: download a tool's official build, checked by checksum.

tools.toml names, per tool, the release URL and upstream's checksum file (sha256sum
format: `<hex>  <file name>` per line; OPA's one-line `.sha256` files included). The
download is refused unless its SHA-256 is the one the checksum file lists for its
file name: a truncated or swapped file never reaches the cache. `mirror` serves the
same files from elsewhere (an internal mirror, or the tests' stand-in server):
`https://HOST/PATH` is fetched as `MIRROR/HOST/PATH`, checksum file included.

Standard library only (urllib honours the usual `https_proxy` variables).
"""

from __future__ import annotations

import hashlib
import io
import platform
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from aigw import tools
from aigw.errors import ToolMissing

_OS = {"linux": "linux", "darwin": "darwin"}
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
MAX_BYTES = 512 * 1024 * 1024  # the engine's archive is ~150 MB
Say = Callable[[str], None]


def staged(target: Path) -> tempfile.TemporaryDirectory[str]:
    """A fresh folder beside TARGET (per run: two concurrent installs do not collide)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"{target.name}.tmp.", dir=target.parent)


def publish(folder: Path, target: Path) -> None:
    """Move the finished FOLDER into TARGET's place (replacing a stale one)."""
    folder.chmod(0o755)
    if target.exists():
        shutil.rmtree(target)
    folder.rename(target)


def platform_names(row: dict[str, Any]) -> dict[str, str]:
    """`{os}` and `{arch}` of this machine, as the tool's release names them."""
    os_name, arch = _OS.get(sys.platform), _ARCH.get(platform.machine().lower())
    if os_name is None or arch is None:
        raise ToolMissing(f"no official release of this tool for {sys.platform}/"
                          f"{platform.machine()} is known to aigw",
                          "build it from source: `aigw tools install` without --release")
    return {"os": os_name, "arch": dict(row.get("arch_names", {})).get(arch, arch)}


def urls(name: str, version: str, mirror: str | None = None) -> tuple[str, str]:
    """The release URL and its checksum file's URL (through MIRROR when given)."""
    row = tools.rows()[name]
    if "release" not in row:
        raise ToolMissing(f"tools.toml names no official release of {name}")
    fields = {"version": version, **platform_names(row)}
    release, checksums = (row[k].format(**fields) for k in ("release", "checksums"))
    return _mirrored(release, mirror), _mirrored(checksums, mirror)


def _mirrored(url: str, mirror: str | None) -> str:
    if not mirror:
        return url
    return f"{mirror.rstrip('/')}/{url.split('://', 1)[1]}"


def fetch(url: str) -> bytes:
    """The body of URL (ToolMissing, naming the URL, when it cannot be had)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - http(s) only
            body = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ToolMissing(f"cannot download {url}: {reason}",
                          "check the network or --mirror, or build from the Go module proxy: "
                          "`aigw tools install` without --release") from None
    if len(body) > MAX_BYTES:
        raise ToolMissing(f"{url} is larger than {MAX_BYTES // 2**20} MB; refused")
    return bytes(body)


def expected_sha256(checksums: str, file_name: str) -> str | None:
    """The SHA-256 CHECKSUMS (sha256sum format) lists for FILE_NAME, else None."""
    for line in checksums.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == file_name:
            return parts[0].lower()
        if len(parts) == 1 and len(checksums.split()) == 1:  # a bare one-file `.sha256`
            return parts[0].lower()
    return None


def verified(url: str, checksums_url: str) -> bytes:
    """Download URL and check it against upstream's checksum file; the bytes, or ToolMissing."""
    file_name = PurePosixPath(url.split("?", 1)[0]).name
    want = expected_sha256(fetch(checksums_url).decode("utf-8", "replace"), file_name)
    if want is None:
        raise ToolMissing(f"{checksums_url} lists no checksum for {file_name}; not installed")
    body = fetch(url)
    got = hashlib.sha256(body).hexdigest()
    if got != want:
        raise ToolMissing(f"{file_name} does not match the SHA-256 {checksums_url} lists "
                          f"(got {got[:12]}..., listed {want[:12]}...); the download was "
                          "discarded",
                          "try again; if it persists, the mirror serves a different file")
    return body


def download(name: str, version: str, target: Path, *, mirror: str | None = None,
             say: Say = lambda _line: None) -> None:
    """Download NAME's official VERSION, check it, and place its binaries in TARGET."""
    url, checksums_url = urls(name, version, mirror)
    say(f"downloading {name} v{version} from {url}")
    body = verified(url, checksums_url)
    members = list(tools.rows()[name].get("members", []))
    with staged(target) as tmp:
        out = Path(tmp) / "bin"
        out.mkdir()
        if members:
            _unpack(body, members, out, url)
        else:
            (out / name).write_bytes(body)
        for binary in out.iterdir():
            binary.chmod(0o755)
        publish(out, target)


def _unpack(archive: bytes, members: list[str], out: Path, url: str) -> None:
    # Only the named members are read, each written under its base name: nothing in the
    # archive chooses a path on disk.
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in members:
            try:
                info = tar.getmember(member)
                source = tar.extractfile(info) if info.isfile() else None
            except KeyError:
                source = None
            if source is None:
                raise ToolMissing(f"{url} holds no file {member}")
            (out / PurePosixPath(member).name).write_bytes(source.read())
