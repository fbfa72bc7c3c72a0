"""`aigw init`: scaffold a catalog repository.

The files live in `files/` beside this module (package data, so they ship in the
wheel). A leading `dot-` in a file or folder name becomes `.` (`dot-github/` ->
`.github/`), so the package holds no hidden files; `@@AIGW_VERSION@@` becomes
the running aigw's version, so CI installs the aigw that wrote the scaffold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aigw import __version__
from aigw.errors import UsageError

FILES = Path(__file__).resolve().parent / "files"
_TOKENS = {"@@AIGW_VERSION@@": __version__}


def _target(rel: Path) -> Path:
    return Path(*("." + p[4:] if p.startswith("dot-") else p for p in rel.parts))


def scaffold_files() -> dict[str, str]:
    """Every file `aigw init` writes: relative path -> text (tokens replaced), sorted."""
    out = {}
    for src in sorted(FILES.rglob("*")):
        if not src.is_file() or "__pycache__" in src.parts:
            continue
        text = src.read_text(encoding="utf-8")
        for token, value in _TOKENS.items():
            text = text.replace(token, value)
        out[_target(src.relative_to(FILES)).as_posix()] = text
    return out


class ScaffoldExists(UsageError):
    """`aigw init` would overwrite a file (exit 2 naming it)."""


@dataclass
class InitResult:
    """What `aigw init` wrote."""

    root: Path
    written: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)


def init_repo(root: Path, *, force: bool = False) -> InitResult:
    """Write the scaffold into ROOT; refuse to overwrite an existing file unless FORCE."""
    files = scaffold_files()
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    existing = [rel for rel in files if (root / rel).exists()]
    if existing and not force:
        raise ScaffoldExists(f"{root / existing[0]} already exists"
                             + (f" (and {len(existing) - 1} more scaffold file(s))"
                                if len(existing) > 1 else ""),
                             hint="aigw init --force overwrites the scaffold's files")
    result = InitResult(root)
    for rel, text in files.items():
        path = root / rel
        if path.is_dir():
            raise UsageError(f"{path} is a folder; the scaffold writes a file there")
        path.parent.mkdir(parents=True, exist_ok=True)
        (result.overwritten if path.exists() else result.written).append(rel)
        path.write_text(text, encoding="utf-8")
    return result
