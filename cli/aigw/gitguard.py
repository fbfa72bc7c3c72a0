"""Would git commit this file? The guard for files that hold a token, a key or a login.

`aigw render` warns, and `aigw agent-credentials` refuses, when a file an agent writes
(its token, key files, AppRole login) lies in a git work tree and is not git-ignored:
`git add -A` would then commit a live credential. Git answers, not a re-implementation
of its rules: `git check-ignore` (without `--no-index`, so a file already tracked
counts as committable even when a pattern matches it). No git, or no work tree:
nothing to guard against.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from aigw import proc
from aigw.names import ROLE_ID_FILE, SECRET_ID_FILE, TOKEN_FILES, key_file

_TIMEOUT = 60
# A name of the key-file pattern, for asking git about a key folder's key files.
_KEY_PROBE = key_file("provider", "slot")


def _nearest_folder(path: Path) -> Path:
    folder = path.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    return folder


class _WorkTrees:
    """Which work tree holds a folder: a `.git` up the tree, confirmed by git once per tree."""

    def __init__(self) -> None:
        self._near: dict[Path, Path | None] = {}  # folder -> nearest folder holding .git
        self._top: dict[Path, Path | None] = {}   # that folder -> git's toplevel

    def _candidate(self, folder: Path) -> Path | None:
        walked = []
        found: Path | None = None
        while True:
            if folder in self._near:
                found = self._near[folder]
                break
            walked.append(folder)
            if (folder / ".git").exists():
                found = folder
                break
            if folder == folder.parent:
                break
            folder = folder.parent
        for seen in walked:
            self._near[seen] = found
        return found

    def toplevel(self, folder: Path) -> Path | None:
        """The work tree holding FOLDER, or None (no git, or not inside a work tree)."""
        candidate = self._candidate(folder)
        if candidate is None:
            return None
        if candidate not in self._top:
            self._top[candidate] = _toplevel(candidate)
        return self._top[candidate]


def _toplevel(folder: Path) -> Path | None:
    try:
        done = proc.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"],
                        capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, proc.TimeoutExpired):
        return None
    text = done.stdout.decode(errors="replace").strip() if done.returncode == 0 else ""
    return Path(text) if text else None


def _not_ignored(top: Path, paths: list[Path]) -> list[Path]:
    """Those of PATHS (inside TOP) that git does not ignore."""
    names = "".join(f"{os.fspath(p)}\0" for p in paths).encode()
    try:
        done = proc.run(["git", "-C", str(top), "check-ignore", "--stdin", "-z"], input=names,
                        capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, proc.TimeoutExpired):
        return []
    if done.returncode not in (0, 1):  # 128: git could not answer (no work tree after all)
        return []
    ignored = {Path(p) for p in done.stdout.decode(errors="replace").split("\0") if p}
    return [p for p in paths if p not in ignored]


def in_work_tree(folder: Path) -> bool:
    """True when FOLDER (or, if it does not exist, its nearest existing parent) is in a
    git work tree."""
    near = _nearest_folder(folder / "x")
    return _WorkTrees().toplevel(near.resolve()) is not None


def committable(paths: Iterable[Path]) -> list[Path]:
    """The PATHS a `git add -A` would take: in a git work tree and not git-ignored.

    One `git rev-parse` per distinct nearest existing folder and one `git check-ignore`
    per work tree, whatever the number of paths. Paths are made absolute first.
    """
    trees = _WorkTrees()
    by_top: dict[Path, list[Path]] = {}
    for path in dict.fromkeys(Path(os.path.abspath(p)) for p in paths):  # noqa: PTH100
        folder = _nearest_folder(path)
        real = folder.resolve() / path.relative_to(folder)  # as git names it (symlinks resolved)
        top = trees.toplevel(folder.resolve())
        if top is not None:
            by_top.setdefault(top, []).append(real)
    return [p for top, group in by_top.items() for p in _not_ignored(top, group)]


def key_probes(keys: str) -> list[str]:
    """What to ask git about a key folder KEYS: its token file and a name of the key-file
    pattern (git matches patterns; the files need not exist yet)."""
    keys = keys.rstrip("/")
    return [f"{keys}/{TOKEN_FILES[0]}", f"{keys}/{_KEY_PROBE}"]


LOGIN_FILES = (ROLE_ID_FILE, SECRET_ID_FILE)


def deployment_secrets(folder: Path, key_dir: str, *, agent: bool) -> list[Path]:
    """The files holding a credential that a deployment rendered into FOLDER gets on disk.

    The token an agent writes into the key folder (a relative `key_dir` is relative to
    FOLDER, where the agent runs), its key files and, with an agent, its AppRole login
    beside its config.
    """
    keys = key_dir if key_dir.startswith("/") else f"{folder}/{key_dir}"
    out = [Path(p) for p in key_probes(keys)]
    if agent:
        out += [folder / name for name in LOGIN_FILES]
    return out


def committable_under(base: Path, rels: list[str]) -> list[str]:
    """Those of RELS (paths relative to BASE, inside it) a `git add -A` would take.

    The fast form for many paths under one folder (render's deployments): one work-tree
    check and one `git check-ignore` run in BASE, no per-path resolving.
    """
    if not rels or not base.is_dir() or not in_work_tree(base):
        return []
    names = "".join(f"{r}\0" for r in rels).encode()
    try:
        done = proc.run(["git", "-C", str(base), "check-ignore", "--stdin", "-z"], input=names,
                        capture_output=True, timeout=_TIMEOUT, check=False)
    except (OSError, proc.TimeoutExpired):
        return []
    if done.returncode not in (0, 1):
        return []
    ignored = set(done.stdout.decode(errors="replace").split("\0"))
    return [r for r in rels if r not in ignored]


def shown(path: Path) -> str:
    """How a message names a committable file: a key folder as `<folder>/ (token, keys)`."""
    if path.name in (TOKEN_FILES[0], _KEY_PROBE):
        return f"{path.parent}/ (token, keys)"
    return str(path)
