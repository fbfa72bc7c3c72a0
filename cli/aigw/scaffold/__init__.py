"""`aigw init`: scaffold a catalog repository, or refresh the files aigw owns in one.

The files live in `files/` beside this module (package data, so they ship in the
wheel). A leading `dot-` in a file or folder name becomes `.` (`dot-github/` ->
`.github/`), so the package holds no hidden files. `@@AIGW_INSTALL@@` becomes the
setup-aigw action's default install source (scaffold/source.py), YAML-quoted, and
`@@AIGW_INSTALL_SHELL@@` the same, shell-quoted. Each `uses:` of an action in
`.github/` is pinned by commit from the one table in scaffold/pins.py.

Two kinds of file: those aigw owns (the workflows, the action, the pre-commit config),
which `aigw init --update` refreshes, and the user's (catalog, policies, waivers,
README, .gitignore), which only a fresh `init` or a confirmed `--force` writes.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from aigw.errors import UsageError
from aigw.scaffold.pins import pin_uses
from aigw.scaffold.source import check_source

FILES = Path(__file__).resolve().parent / "files"
INSTALL_TOKEN = "@@AIGW_INSTALL@@"              # in YAML (the action's default)
INSTALL_SHELL_TOKEN = "@@AIGW_INSTALL_SHELL@@"  # in a shell line (the README)
# What `aigw init --update` refreshes: files whose content aigw decides.
OWNED_PREFIXES = (".github/", ".pre-commit-config.yaml")


def is_owned(rel: str) -> bool:
    """True for a file aigw owns (refreshed by --update), False for the user's files."""
    return rel.startswith(OWNED_PREFIXES)


def _target(rel: Path) -> Path:
    return Path(*("." + p[4:] if p.startswith("dot-") else p for p in rel.parts))


def scaffold_files(install_source: str | None = None) -> dict[str, str]:
    """Every file `aigw init` writes: relative path -> text (tokens replaced), sorted.

    INSTALL_SOURCE is the action's default pip argument (default: detected, source.py).
    """
    if install_source is None:
        from aigw.scaffold.source import detect

        install_source = detect()[0]
    # A JSON string is a valid YAML double-quoted scalar: any requirement text is safe.
    source = check_source(install_source)
    tokens = {INSTALL_TOKEN: json.dumps(source), INSTALL_SHELL_TOKEN: shlex.quote(source)}
    out = {}
    for src in sorted(FILES.rglob("*")):
        if not src.is_file() or "__pycache__" in src.parts:
            continue
        text = src.read_text(encoding="utf-8")
        for token, value in tokens.items():
            text = text.replace(token, value)
        rel = _target(src.relative_to(FILES)).as_posix()
        if rel.startswith(".github/"):  # every action pinned by commit, from one table
            text = pin_uses(text)
        out[rel] = text
    return out


class ScaffoldExists(UsageError):
    """`aigw init` would overwrite a file (exit 2 naming it)."""


@dataclass
class InitPlan:
    """What `aigw init` would do in ROOT: each scaffold file created, overwritten or left."""

    root: Path
    files: dict[str, str]
    create: list[str] = field(default_factory=list)
    overwrite: list[str] = field(default_factory=list)  # exists and differs
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)       # the user's, left alone by --update

    @property
    def existing(self) -> list[str]:
        """Scaffold files already in ROOT (changed or not)."""
        return sorted(self.overwrite + self.unchanged + self.kept)


@dataclass
class InitResult:
    """What `aigw init` wrote."""

    root: Path
    written: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def plan_init(root: Path, *, update: bool = False, install_source: str | None = None) -> InitPlan:
    """Compare the scaffold with ROOT; with UPDATE, only the files aigw owns are in play."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    plan = InitPlan(root, scaffold_files(install_source))
    for rel, text in plan.files.items():
        path = root / rel
        if path.is_dir():
            raise UsageError(f"{path} is a folder; the scaffold writes a file there")
        if update and not is_owned(rel):
            if path.exists():
                plan.kept.append(rel)
            continue
        if not path.exists():
            plan.create.append(rel)
        elif path.read_text(encoding="utf-8") == text:
            plan.unchanged.append(rel)
        else:
            plan.overwrite.append(rel)
    for names in (plan.create, plan.overwrite, plan.unchanged, plan.kept):
        names.sort()
    if update and not ((root / "aigw.yaml").is_file() or (root / "catalog").is_dir()):
        raise UsageError(f"no aigw catalog in {root} (neither aigw.yaml nor catalog/)",
                         hint=f"aigw init {root} creates one")
    return plan


def write_init(plan: InitPlan) -> InitResult:
    """Carry out PLAN: create and overwrite its files; never touch the kept ones."""
    result = InitResult(plan.root, unchanged=sorted(plan.unchanged), kept=sorted(plan.kept))
    for rel in plan.create + plan.overwrite:
        path = plan.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(plan.files[rel], encoding="utf-8")
        (result.overwritten if rel in plan.overwrite else result.written).append(rel)
    result.written.sort()
    result.overwritten.sort()
    return result


def init_repo(root: Path, *, force: bool = False, update: bool = False,
              install_source: str | None = None) -> InitResult:
    """Write the scaffold into ROOT; refuse to overwrite an existing file unless FORCE.

    UPDATE refreshes only the files aigw owns (is_owned) and creates missing ones of them.
    The CLI asks before FORCE overwrites anything (commands/init.py).
    """
    plan = plan_init(root, update=update, install_source=install_source)
    if not (force or update) and plan.existing:
        first = plan.existing[0]
        more = len(plan.existing) - 1
        raise ScaffoldExists(f"{root / first} already exists"
                             + (f" (and {more} more scaffold file(s))" if more else ""),
                             hint="aigw init --update refreshes only the files aigw owns "
                             "(workflows, action, pre-commit config); --force overwrites "
                             "the catalog and policies too")
    return write_init(plan)
