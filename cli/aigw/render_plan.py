"""The output folder's sync plan: what to write, what is unchanged, what to remove, what to leave.

Pure, as pip-tools' `diff(desired, installed)`: these functions compare what
render produced with what the folder holds and return the plan; they write and
remove nothing (aigw.render_sync applies a plan, and `aigw render --check` prints
it with `plan_lines` instead). The one I/O they do is reading a file's current
bytes, through the READ function they are given, to tell unchanged from changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field


@dataclass
class FilePlan:
    """Putting some produced files into the folder: which differ, which are already there."""

    write: dict[str, bytes] = field(default_factory=dict)  # new or changed: rel -> new bytes
    unchanged: dict[str, bytes] = field(default_factory=dict)  # on disk byte for byte
    old: dict[str, bytes | None] = field(default_factory=dict)  # of each in `write` (None: new)

    def diff(self) -> list[tuple[str, str]]:
        """(rel, unified diff) of each file to write."""
        return [(rel, diff_text(rel, self.old[rel], data)) for rel, data in self.write.items()]


def plan_files(files: Mapping[str, bytes], existing: Mapping[str, str],
               read: Callable[[str], bytes]) -> FilePlan:
    """The plan for FILES (rel -> bytes) against EXISTING (rel -> path of what is on disk)."""
    plan = FilePlan()
    for rel, data in files.items():
        old = read(existing[rel]) if rel in existing else None
        if old == data:
            plan.unchanged[rel] = data
        else:
            plan.write[rel] = data
            plan.old[rel] = old
    return plan


@dataclass
class Removals:
    """What else is in the folder's scope: render's stale files, and files never render's."""

    remove: list[str] = field(default_factory=list)  # render wrote them; nothing produces them now
    kept: list[str] = field(default_factory=list)  # not in render's manifest: left alone


def plan_removals(existing: Collection[str], ours: Collection[str], produced: Collection[str],
                  runtime: Collection[str], env: str | None, service: str | None) -> Removals:
    """Which of the EXISTING files in scope (`--env`/`--service`) go and which stay.

    Only a file render wrote (in its manifest, OURS) is ever removed, and only when
    no deployment produces it now; a running agent's files (RUNTIME) are not
    render's; any other file in scope is kept and reported.
    """
    out = Removals()
    for rel in sorted(existing):
        if rel in produced or rel in runtime or not in_scope(rel, env, service):
            continue
        (out.remove if rel in ours else out.kept).append(rel)
    return out


def in_scope(rel: str, env: str | None, service: str | None) -> bool:
    """Whether a path of the folder (`<env>/<service>/...`) is in the render's scope."""
    parts = rel.split("/")
    if env is not None and parts[0] != env:
        return False
    return not (service is not None and (len(parts) < 2 or parts[1] != service))


def diff_text(rel: str, old: bytes | None, new: bytes | None) -> str:
    """A unified diff of one file (`/dev/null` for a file that is new or goes)."""
    a = old.decode(errors="replace").splitlines(keepends=True) if old is not None else []
    b = new.decode(errors="replace").splitlines(keepends=True) if new is not None else []
    return "".join(difflib.unified_diff(
        a, b, fromfile=f"a/{rel}" if old is not None else "/dev/null",
        tofile=f"b/{rel}" if new is not None else "/dev/null"))


def plan_lines(write: Collection[str], remove: Collection[str]) -> list[str]:
    """The plan as `pip-sync --dry-run` prints its own: a heading per action, a file a line."""
    lines: list[str] = []
    for heading, rels in (("Would write:", write), ("Would remove:", remove)):
        if rels:
            lines += [heading, *(f"  {rel}" for rel in sorted(rels))]
    return lines
