"""Render's manifest: which files `aigw render` wrote into a folder, and from which inputs.

It lives in the folder's marker, `DIR/.aigw-rendered`: a first line saying the
folder is aigw's, a second naming the format, then one JSON object a line, one
per deployment (`<env>/<service>`):

    {"deployment": "prod/bot", "fingerprint": "...", "files": {"prod/bot/aigw.env":
     [size, mtime_ns, inode, "blake2b-64 of the bytes"], ...}, "runtime": [...]}

`fingerprint` is the digest of everything that deployment's files are made of
(`Fingerprints`); `runtime` are the files its running agent keeps beside them
(role-id, agent.pid: never render's). A re-render skips a deployment whose
fingerprint is unchanged and whose files are on disk as recorded (`Entry.intact`).
The marker is written last and atomically: a render that stopped half-way leaves
the previous one, whose records no longer match the files it rewrote.

A marker from before fingerprints (file names one a line after MANIFEST_HEAD)
still says which files are render's; its deployments are rendered again.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import aigw
from aigw.catalog.models import Catalog
from aigw.errors import UsageError
from aigw.package_data import templates_dir

MARKER = ".aigw-rendered"
MARKER_TEXT = b"This folder is written by `aigw render`; edits here are overwritten.\n"
MANIFEST_HEAD = b"Files written by `aigw render` (the only ones it rewrites or removes):\n"
FORMAT_HEAD = b"Render manifest v2: one deployment a line (aigw.render_manifest).\n"

FileRecord = list[Any]  # [size, mtime_ns, inode, digest]


def deployment_key(rel: str) -> str:
    """The deployment (`<env>/<service>`) an output file belongs to, from its path."""
    return "/".join(rel.split("/", 2)[:2])


def content_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def record(st: os.stat_result, data: bytes) -> FileRecord:
    """What the manifest keeps of a file render just wrote or found equal: its stat and digest."""
    return [st.st_size, st.st_mtime_ns, st.st_ino, content_digest(data)]


@dataclass
class Entry:
    """One deployment's line of the manifest."""

    fingerprint: str | None
    files: dict[str, FileRecord | None] = field(default_factory=dict)
    runtime: list[str] = field(default_factory=list)

    def intact(self, base: str, marker_mtime_ns: int) -> bool:
        """True when every recorded file is on disk as render left it.

        Size, mtime_ns and inode must match. A file as new as the manifest itself
        (file times are coarse: an edit right after the render can keep them) is
        read and its digest compared.
        """
        for rel, rec in self.files.items():
            path = f"{base}/{rel}"
            try:
                st = os.stat(path)  # noqa: PTH116
            except OSError:
                return False
            if rec is None or [st.st_size, st.st_mtime_ns, st.st_ino] != rec[:3]:
                return False
            if st.st_mtime_ns >= marker_mtime_ns:
                with open(path, "rb") as fh:  # noqa: PTH123
                    if content_digest(fh.read()) != rec[3]:
                        return False
        return True


@dataclass
class Manifest:
    """The marker's content: an entry per deployment render wrote."""

    entries: dict[str, Entry] = field(default_factory=dict)
    mtime_ns: int = 0  # the marker's own
    raw: bytes = b""  # the marker's bytes (a render that changes nothing rewrites nothing)

    def files(self) -> set[str]:
        return {rel for entry in self.entries.values() for rel in entry.files}


def read_state(out: Path) -> Manifest | None:
    """The manifest in OUT's marker; None when OUT has no marker."""
    try:
        with open(out / MARKER, "rb") as fh:  # noqa: PTH123
            text = fh.read()
            mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
    except FileNotFoundError:
        return None
    manifest = Manifest(mtime_ns=mtime_ns, raw=text)
    _head, v2, lines = text.partition(FORMAT_HEAD)
    if v2:
        docs = orjson.loads(b"[" + b",".join(ln for ln in lines.splitlines() if ln.strip()) + b"]")
        for doc in docs:
            manifest.entries[doc["deployment"]] = Entry(doc["fingerprint"], doc["files"],
                                                        doc["runtime"])
        return manifest
    _head, _, listed = text.partition(MANIFEST_HEAD)  # a list of files (or a bare marker)
    for rel in listed.decode(errors="replace").splitlines():
        if rel:
            manifest.entries.setdefault(deployment_key(rel), Entry(None)).files[rel] = None
    return manifest


def scan_folder(out: Path) -> tuple[Manifest | None, dict[str, str]]:
    """OUT's manifest (None without a marker) and every file in it but the marker (rel -> path)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder", "pass --out a folder")
    existing: dict[str, str] = {}
    if not out.is_dir():
        return None, existing
    # Plain strings and scandir, not Path objects or os.walk: tens of thousands of files.
    folders = [("", os.fspath(out))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as found:
            for item in found:
                if not item.is_dir():
                    existing[prefix + item.name] = item.path
                elif not item.is_symlink():  # as os.walk: a linked folder is not entered
                    folders.append((f"{prefix}{item.name}/", item.path))
    existing.pop(MARKER, None)
    return read_state(out), existing


def read_manifest(out: Path) -> set[str] | None:
    """The files render wrote into OUT, from its marker; None when OUT has no marker.

    A marker from before manifests (its first line only) lists nothing, so such a
    folder's files are all kept until render writes them again.
    """
    manifest = read_state(out)
    return None if manifest is None else manifest.files()


def marker_bytes(entries: dict[str, Entry]) -> bytes:
    lines = [orjson.dumps({"deployment": key, "fingerprint": e.fingerprint, "files": e.files,
                           "runtime": sorted(e.runtime)}, option=orjson.OPT_SORT_KEYS)
             for key, e in sorted(entries.items()) if e.files]
    return MARKER_TEXT + FORMAT_HEAD + b"".join(line + b"\n" for line in lines)


@functools.cache
def code_digest(template_dir: Path) -> bytes:
    """What every output depends on beyond the catalog: aigw's version, its code, its templates."""
    h = hashlib.blake2b(aigw.__version__.encode(), digest_size=16)
    package = Path(aigw.__file__).resolve().parent
    for folder, pattern in ((package, "*.py"), (template_dir, "*")):
        for path in sorted(folder.rglob(pattern)):
            if path.is_file():
                h.update(path.relative_to(folder).as_posix().encode() + b"\0")
                h.update(path.read_bytes() + b"\0")
    return h.digest()


class Fingerprints:
    """The inputs fingerprint of each deployment: the one rule of what a re-render compares.

    A deployment's files are made of its service's catalog entry, its
    environment's, those of the aliases the service calls and of the providers
    their routes name (what `catalog.view.deployment` resolves), plus
    `code_digest`. Render reads nothing else. Each part is serialised once. The
    environment's entry holds its `overrides`, so a change to one environment's
    overrides re-renders that environment's deployments and no other's.
    """

    def __init__(self, cat: Catalog, template_dir: Path | None = None) -> None:
        self.catalog = cat
        self.code = code_digest(template_dir or templates_dir())
        self._parts: dict[tuple[str, str], bytes] = {}
        self._services: dict[str, bytes] = {}

    def _part(self, kind: str, name: str) -> bytes:
        found = self._parts.get((kind, name))
        if found is None:
            models: Any = getattr(self.catalog, kind)
            found = self._parts[(kind, name)] = models[name].model_dump_json().encode()
        return found

    def _service(self, service: str) -> bytes:
        """The digest of the parts every environment of SERVICE shares."""
        found = self._services.get(service)
        if found is None:
            h = hashlib.blake2b(self.code, digest_size=16)
            h.update(self._part("services", service))
            for alias in sorted(self.catalog.services[service].models):
                h.update(b"\0" + alias.encode() + b"\0" + self._part("models", alias))
                for route in self.catalog.models[alias].routes:
                    h.update(b"\0" + self._part("providers", route.provider))
            found = self._services[service] = h.digest()
        return found

    def __call__(self, service: str, environment: str) -> str:
        h = hashlib.blake2b(self._service(service), digest_size=16)
        h.update(service.encode() + b"\0" + environment.encode() + b"\0")
        h.update(self._part("environments", environment))
        return h.hexdigest()
