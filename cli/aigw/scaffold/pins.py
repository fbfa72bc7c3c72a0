"""The one table of GitHub Actions the scaffold's workflows use, pinned by commit.

A catalog repository's CI holds the OpenBao login that writes every key; an action
referenced by a tag or a branch runs whatever that name points to on the day of the
run (LiteLLM's March 2026 compromise came in through a CI action). So every `uses:`
the scaffold writes is `owner/repo@<40-hex commit> # <tag>`, taken from ACTIONS.

The scaffold's files name an action by its major tag (`actions/checkout@v4`, readable,
and reviewed as such); `pin_uses` rewrites each such line from this table when
`aigw init` (or `aigw init --update`, with no network) writes the file. The project's
own `.github/workflows/` use the same pins (tests/governance/test_pins.py).

Each commit below is the one the tag pointed to in the action's own repository
(`git rev-list -n1 <tag>`), which was also the commit of its moving major tag then.
To move a pin: read the new tag's commit in the action's repository, change the row,
run `aigw init --update` in catalog repositories.
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Pin(NamedTuple):
    """An action's release tag and the commit it names."""

    tag: str
    commit: str


ACTIONS: dict[str, Pin] = {
    "actions/cache": Pin("v4.3.0", "0057852bfaa89a56745cba8c7296529d2fc39830"),
    "actions/checkout": Pin("v4.4.0", "11d5960a326750d5838078e36cf38b85af677262"),
    "actions/github-script": Pin("v7.1.0", "f28e40c7f34bde8b3046d885e986cb6290c5673b"),
    "actions/setup-go": Pin("v5.6.0", "40f1582b2485089dde7abd97c1529aa768e1baff"),
    "actions/setup-python": Pin("v5.6.0", "a26af69be951a213d495a4c3e4e4022e16d87065"),
    "actions/upload-artifact": Pin("v4.6.2", "ea165f8d65b6e75b540449e92b4886f43607fa02"),
    "aws-actions/configure-aws-credentials": Pin("v4.3.1",
                                                 "7474bc4690e29a8392af63c5b98e7449536d5c3a"),
    "open-policy-agent/setup-opa": Pin("v2.2.0", "34a30e8a924d1b03ce2cf7abe97250bbb1f332b5"),
    "pulumi/actions": Pin("v6.6.1", "8582a9e8cc630786854029b4e09281acd6794b58"),
}

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
# A `uses:` of a remote action (not `./local`, not `docker://`): owner/repo[/path]@ref.
USES_RE = re.compile(r"^(?P<lead>\s*(?:-\s+)?uses:\s*)(?P<action>[\w.-]+/[\w.-]+)(?P<path>/[\w./-]+)?"
                     r"@(?P<ref>[\w./-]+)(?P<comment>\s+#.*)?\s*$")


class UnpinnedAction(ValueError):
    """A `uses:` names an action the table lacks, or a major tag the table's pin is not."""


def pinned(action: str, ref: str) -> Pin:
    """The pin of ACTION, checked against REF (its major tag, e.g. `v4`, or the commit)."""
    pin = ACTIONS.get(action)
    if pin is None:
        raise UnpinnedAction(f"{action} is not in the pin table (aigw.scaffold.pins.ACTIONS)")
    major = pin.tag.split(".")[0]
    if ref not in (major, pin.tag, pin.commit):
        raise UnpinnedAction(f"{action}@{ref}: the pin table has {pin.tag}; update its row")
    return pin


def pin_uses(text: str) -> str:
    """TEXT with each remote action's `uses:` line as `owner/repo@<commit> # <tag>`."""
    out = []
    for line in text.splitlines(keepends=True):
        m = USES_RE.match(line.rstrip("\n"))
        if m:
            pin = pinned(m["action"], m["ref"])
            line = f"{m['lead']}{m['action']}{m['path'] or ''}@{pin.commit} # {pin.tag}" + (
                "\n" if line.endswith("\n") else "")
        out.append(line)
    return "".join(out)
