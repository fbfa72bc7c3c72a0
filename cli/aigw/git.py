"""Read the catalog as it was at a git revision (`git show REF:path`), without a checkout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aigw import proc as _proc
from aigw.errors import UsageError

DEFAULT_BASES = ("origin/main", "HEAD")
_CATALOG_NAMES = ("aigw.yaml", "aigw.yml")


@dataclass(frozen=True)
class Base:
    """The revision compared against: what the user named, and the commit it is."""

    ref: str
    commit: str | None  # None: the ref names no commit yet (an empty repository)

    @property
    def label(self) -> str:
        """`origin/main (1a2b3c4)`."""
        return f"{self.ref} ({self.commit[:7]})" if self.commit else f"{self.ref} (no commits)"


def git(root: Path, *args: str, check: bool = True) -> _proc.CompletedProcess[bytes]:
    """Run git in ROOT; a failure becomes a UsageError with git's first line."""
    try:
        proc = _proc.run(["git", "-C", str(root), *args], capture_output=True, check=False,
                         timeout=120)
    except FileNotFoundError:
        raise UsageError("git is not installed", hint="aigw diff compares git revisions") from None
    if check and proc.returncode != 0:
        line = (proc.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[0]
        raise UsageError(f"git {' '.join(args[:2])}: {line}")
    return proc


def repo_root(path: Path) -> Path:
    """The top folder of the git work tree holding PATH."""
    folder = path if path.is_dir() else path.parent
    proc = git(folder.resolve(), "rev-parse", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise UsageError(f"{path} is not inside a git repository",
                         hint="aigw diff compares the working tree with a git revision")
    return Path(proc.stdout.decode().strip()).resolve()


def catalog_commit(path: Path) -> str | None:
    """The git commit the catalog at PATH comes from: HEAD, `+dirty` when its files differ.

    None when PATH is not in a git work tree (or git is missing): the commit is
    a label recorded beside a published config, never needed.
    """
    folder = (path if path.is_dir() else path.parent).resolve()
    try:
        head = git(folder, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = git(folder, "status", "--porcelain", "--", str(path.resolve()), check=False)
    except UsageError:
        return None
    commit = head.stdout.decode().strip()
    return f"{commit}+dirty" if dirty.stdout.strip() else commit


def _commit(root: Path, ref: str) -> str | None:
    if ref.startswith("-"):  # never let a revision be read as an option
        return None
    proc = git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def resolve_base(root: Path, ref: str | None) -> Base:
    """REF, else origin/main when it exists, else HEAD (no commit yet: an empty base)."""
    if ref is not None:
        commit = _commit(root, ref)
        if commit is None:
            raise UsageError(f"unknown git revision '{ref}'",
                             hint="fetch it first (git fetch origin main), or pass --base HEAD")
        return Base(ref, commit)
    for candidate in DEFAULT_BASES:
        commit = _commit(root, candidate)
        if commit is not None:
            return Base(candidate, commit)
    return Base("HEAD", None)


def _tree_files(root: Path, commit: str, rel: PurePosixPath) -> list[PurePosixPath]:
    spec = "." if str(rel) == "." else str(rel)
    out = git(root, "ls-tree", "-r", "--name-only", "--full-tree", commit, "--", spec).stdout
    return [PurePosixPath(line) for line in out.decode().splitlines() if line]


def catalog_paths_at(root: Path, base: Base, rel: PurePosixPath) -> list[PurePosixPath]:
    """The catalog files at BASE for the catalog path REL (same rules as the loader)."""
    if base.commit is None:
        return []
    tracked = _tree_files(root, base.commit, rel)
    if PurePosixPath(rel) in tracked:  # REL names a file
        return [PurePosixPath(rel)]
    folder = PurePosixPath() if str(rel) == "." else PurePosixPath(rel)
    yamls = [p for p in tracked if p.suffix in (".yaml", ".yml")]
    main = next((folder / n for n in _CATALOG_NAMES if folder / n in tracked), None)
    found = ([main] if main else []) + sorted(p for p in yamls if p.parent == folder / "catalog")
    return found or sorted(p for p in yamls if p.parent == folder)


def export_catalog(root: Path, base: Base, rel: PurePosixPath, dest: Path) -> Path | None:
    """Write BASE's catalog files under DEST (same layout); the path to load, or None."""
    paths = catalog_paths_at(root, base, rel)
    if not paths:
        return None
    for p in paths:
        data = git(root, "show", f"{base.commit}:{p}").stdout
        target = dest / p
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return dest / rel
