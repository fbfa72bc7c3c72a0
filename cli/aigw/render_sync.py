"""`aigw render`: make an output folder hold the files of every deployment in scope.

The folder carries a `.aigw-rendered` marker listing the files render wrote (its
manifest, aigw.render_manifest): only those are ever rewritten or removed,
anything else found there (an agent's key files, a note put there by hand) is
reported and left alone. Each step is a plan (aigw.render_plan: which files to
write, which are unchanged, which to remove), then its apply; with `check` the
plan is only reported. Unchanged files are not rewritten, every write is atomic,
and the manifest is written last.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigw.catalog import LoadedCatalog, environment_view
from aigw.catalog.models import Catalog
from aigw.catalog.view import Deployment, check_scope, deployment, deployment_pairs
from aigw.errors import UsageError
from aigw.fsutil import atomic_write
from aigw.names import AGENT_FILES
from aigw.outputs import OUTPUTS
from aigw.render import Renderer, render_all
from aigw.render_manifest import (
    MARKER,
    Entry,
    FileRecord,
    Fingerprints,
    Manifest,
    deployment_key,
    marker_bytes,
    record,
    scan_folder,
)
from aigw.render_plan import (
    FilePlan,
    diff_text,
    in_scope,
    plan_files,
    plan_lines,
    plan_removals,
)
from aigw.render_pool import in_parallel

# The outputs that run an agent, which writes one key file per slot from its template.
_AGENT_OUTPUTS = frozenset(o.name for o in OUTPUTS.values() if o.agent)
# The rendered file of each output whose running agent keeps its files beside it.
_RUNTIME = {o.file: AGENT_FILES for o in OUTPUTS.values() if o.agent_files}


@dataclass
class SyncResult:
    """What a render did (or, with check, would do) to the output folder.

    `kept` are files in scope that render did not write (not in its manifest):
    an agent's key files, a note put there by hand. They are reported, never
    touched. `skipped` of the `deployments` in scope were not rendered again:
    their inputs and files were as the manifest recorded (their files are in
    `unchanged`).
    """

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    diff: str = ""
    deployments: int = 0
    skipped: int = 0
    # Files holding a credential an agent would write that git would commit (gitguard).
    committable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)

    def plan(self) -> list[str]:
        """What render writes and removes (with check: would), pip-sync style."""
        return plan_lines(self.written, self.removed)


def runtime_files(files: Mapping[str, bytes]) -> set[str]:
    """The files a running agent keeps beside the rendered ones among FILES (its login, pid)."""
    out: set[str] = set()
    for rel in files:
        folder, _, name = rel.rpartition("/")
        out.update(f"{folder}/{runtime}" for runtime in _RUNTIME.get(name, ()))
    return out


@dataclass
class _Put:
    """What putting files into the folder did (picklable: workers return it)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    diffs: list[tuple[str, str]] = field(default_factory=list)

    def files(self, base: str, existing: Mapping[str, str], files: dict[str, bytes],
              check: bool) -> dict[str, FileRecord | None]:
        """Plan FILES against the folder, then apply the plan (with CHECK: keep its diff)."""
        plan = plan_files(files, existing, _read)
        self.written += plan.write
        self.unchanged += plan.unchanged
        if check:
            self.diffs += plan.diff()
            return dict.fromkeys(files)
        return apply_files(base, plan)


def apply_files(base: str, plan: FilePlan) -> dict[str, FileRecord | None]:
    """Write the plan's files (atomically); the manifest's record of every file in it."""
    records: dict[str, FileRecord | None] = {}
    for rel, data in plan.unchanged.items():
        records[rel] = record(os.stat(f"{base}/{rel}"), data)  # noqa: PTH116
    for rel, data in plan.write.items():
        records[rel] = record(atomic_write(f"{base}/{rel}", data, durable=False), data)
    return records


def render_into(loaded: LoadedCatalog, out: Path, *, env: str | None = None,
                service: str | None = None, check: bool = False) -> SyncResult:
    """`aigw render`: make OUT hold the files of every deployment in scope.

    A deployment whose inputs fingerprint (render_manifest.Fingerprints) and files
    on disk are as OUT's manifest recorded is not rendered again; the others are
    rendered and synced as `sync` does. With CHECK, only report the plan and diff.
    """
    cat = loaded.catalog
    check_scope(cat, env, service)
    manifest, existing = scan_folder(out)
    if manifest is None and existing:  # files but no marker: sync refuses unless agents' own
        result = sync(out, render_all(loaded, env, service), env=env, service=service,
                      check=check)
        result.deployments = len(deployment_pairs(cat, env, service))
        return result
    manifest = manifest or Manifest()
    base = os.fspath(out)
    fingerprints = Fingerprints(cat)
    pairs = deployment_pairs(cat, env, service)
    result = SyncResult(deployments=len(pairs))
    entries: dict[str, Entry] = {}
    todo: list[tuple[str, str, Deployment]] = []
    cache: dict[Any, Any] = {}  # deployments resolved alike share their routes (catalog.view)
    for name, env_name in pairs:
        key, fingerprint = f"{env_name}/{name}", fingerprints(name, env_name)
        old = manifest.entries.get(key)
        if old is not None and old.fingerprint == fingerprint and \
                old.intact(base, manifest.mtime_ns):
            entries[key] = old
            result.unchanged.extend(old.files)
            result.skipped += 1
        else:
            todo.append((key, fingerprint, deployment(cat, name, env_name, cache)))
    diffs: list[tuple[str, str]] = []
    work = functools.partial(_render_and_put, loaded, base=base, existing=existing, check=check)
    for part, done in in_parallel(work, todo):
        entries.update(part)
        result.written += done.written
        result.unchanged += done.unchanged
        diffs += done.diffs
    result = _finish(out, manifest, existing, entries, result, diffs, env, service, check)
    if not check:
        result.committable = _committable(cat, out, pairs)
    return result


def _render_and_put(loaded: LoadedCatalog, todo: list[tuple[str, str, Deployment]], *,
                    base: str, existing: Mapping[str, str],
                    check: bool) -> tuple[dict[str, Entry], _Put]:
    """Render a chunk of deployments and put each one's files (in a worker, for many)."""
    renderer = Renderer(loaded)
    entries: dict[str, Entry] = {}
    put = _Put()
    for key, fingerprint, dep in todo:
        files = renderer.render(dep)
        entries[key] = Entry(fingerprint, put.files(base, existing, files, check),
                             sorted(runtime_files(files)))
    return entries, put


def _committable(cat: Catalog, out: Path, pairs: list[tuple[str, str]]) -> list[str]:
    """The credential files of these deployments (token, keys, login) git would commit.

    Files below OUT (a relative key folder, the login) go to git as relative paths in one
    `git check-ignore` run there, and only when OUT is in a work tree; an absolute key
    folder (usually one per environment, shared) is asked about once.
    """
    from aigw.gitguard import (
        LOGIN_FILES,
        committable,
        committable_under,
        in_work_tree,
        key_probes,
        shown,
    )

    out_in_git = in_work_tree(out)
    rels: list[str] = []
    absolute: set[str] = set()
    for name, env_name in pairs:
        svc = environment_view(cat, env_name).services[name]
        key_dir = svc.key_dir or cat.environments[env_name].key_dir
        if key_dir.startswith("/"):
            absolute.add(key_dir)
        elif out_in_git:
            rels += key_probes(f"{env_name}/{name}/{key_dir}")
        if out_in_git and set(svc.outputs) & _AGENT_OUTPUTS:
            rels += [f"{env_name}/{name}/{login}" for login in LOGIN_FILES]
    found = committable(Path(p) for keys in sorted(absolute) for p in key_probes(keys))
    found += [out / rel for rel in committable_under(out, rels)]
    return sorted(set(map(shown, found)))


def sync(
    out: Path, files: dict[str, bytes], *, env: str | None = None, service: str | None = None,
    check: bool = False,
) -> SyncResult:
    """Make OUT hold FILES within the scope; with CHECK, only report the plan and diff.

    Only files in the marker's manifest (written by an earlier render) are
    removed when no longer produced; every other file is reported in `kept`.
    The manifest records no fingerprint: the next `render_into` renders again.
    """
    manifest, existing = scan_folder(out)
    if manifest is None and set(existing) - runtime_files(files):
        raise UsageError(f"{out} holds files aigw did not write (no {MARKER} marker)",
                         "render into an empty or aigw-owned folder")
    by_folder: dict[str, dict[str, bytes]] = {}
    for rel, data in files.items():
        by_folder.setdefault(deployment_key(rel), {})[rel] = data
    base = os.fspath(out)
    put = _Put()
    entries = {key: Entry(None, put.files(base, existing, part, check),
                          sorted(runtime_files(part)))
               for key, part in by_folder.items()}
    result = SyncResult(written=put.written, unchanged=put.unchanged)
    return _finish(out, manifest, existing, entries, result, put.diffs, env, service, check)


def _finish(out: Path, manifest: Manifest | None, existing: Mapping[str, str],
            entries: dict[str, Entry], result: SyncResult, diffs: list[tuple[str, str]],
            env: str | None, service: str | None, check: bool) -> SyncResult:
    """Plan and apply the removals (render's files no deployment in scope has now), then
    write the manifest, last."""
    removals = plan_removals(
        existing, manifest.files() if manifest else set(),
        {rel for entry in entries.values() for rel in entry.files},
        {rel for entry in entries.values() for rel in entry.runtime}, env, service)
    result.kept += removals.kept
    result.removed += removals.remove
    if check:
        diffs += [(rel, diff_text(rel, _read(existing[rel]), None)) for rel in removals.remove]
    else:
        emptied: set[Path] = set()
        for rel in removals.remove:
            os.unlink(existing[rel])  # noqa: PTH108
            emptied.add(Path(existing[rel]).parent)
        others = {key: entry for key, entry in (manifest.entries if manifest else {}).items()
                  if not in_scope(key, env, service)}
        data = marker_bytes(others | entries)
        if manifest is None or manifest.raw != data:
            atomic_write(out / MARKER, data)
        _prune_empty_dirs(out, emptied)
    result.written.sort()
    result.unchanged.sort()
    result.diff = "".join(text for _rel, text in sorted(diffs))
    return result


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:  # noqa: PTH123
        return fh.read()


def _prune_empty_dirs(out: Path, emptied: set[Path]) -> None:
    """Remove the folders that removing render's own files left empty (and their empty parents)."""
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        path = folder
        while path != out and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
            path = path.parent
