"""Every action is pinned by commit (issue 23, item 4).

A `uses:` by tag or branch (`@v4`, `@main`) fails here, in the files `aigw init` writes
and in the project's own `.github/`. The pins come from one table
(`aigw.scaffold.pins.ACTIONS`); `aigw init --update` rewrites them with no network.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from aigw.scaffold import scaffold_files
from aigw.scaffold.pins import ACTIONS, COMMIT_RE, UnpinnedAction, pin_uses
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>\S+)(?P<comment>\s+#.*)?$")


def unpinned(files: dict[str, str]) -> list[str]:
    """`file:line: uses` of every action not pinned by a 40-hex commit of the table."""
    bad = []
    for rel, text in sorted(files.items()):
        for n, line in enumerate(text.splitlines(), 1):
            m = _USES.match(line)
            if not m or m["value"].startswith("./"):
                continue
            action, _, ref = m["value"].partition("@")
            name = "/".join(action.split("/")[:2])
            pin = ACTIONS.get(name)
            if not COMMIT_RE.match(ref) or pin is None or ref != pin.commit \
                    or (m["comment"] or "").strip() != f"# {pin.tag}":
                bad.append(f"{rel}:{n}: {m['value']}")
    return bad


def _project_files() -> dict[str, str]:
    github = ROOT / ".github"
    return {p.relative_to(ROOT).as_posix(): p.read_text() for p in sorted(github.rglob("*"))
            if p.is_file() and p.suffix in (".yml", ".yaml")}


def test_the_check_catches_a_tag_a_branch_and_a_foreign_commit() -> None:
    foreign = "0" * 40
    files = {"w.yml": "steps:\n  - uses: actions/checkout@v4\n  - uses: actions/cache@main\n"
                      f"  - uses: actions/setup-go@{foreign} # v5.6.0\n"
                      "  - uses: ./.github/actions/setup-aigw\n"}
    assert unpinned(files) == ["w.yml:2: actions/checkout@v4", "w.yml:3: actions/cache@main",
                               f"w.yml:4: actions/setup-go@{foreign}"]


def test_every_scaffold_action_is_pinned_by_commit() -> None:
    files = {rel: text for rel, text in scaffold_files("aigw").items()
             if rel.startswith(".github/")}
    assert files and unpinned(files) == []
    assert sum(text.count("uses:") for text in files.values()) >= 10


def test_every_action_of_the_projects_own_workflows_is_pinned_by_commit() -> None:
    files = _project_files()
    assert files and unpinned(files) == []


def test_the_table_holds_commits_and_release_tags() -> None:
    for action, pin in ACTIONS.items():
        assert COMMIT_RE.match(pin.commit), action
        assert re.fullmatch(r"v\d+\.\d+\.\d+", pin.tag), action


def test_pinning_refuses_an_action_the_table_lacks_or_a_moved_major() -> None:
    with pytest.raises(UnpinnedAction, match="not in the pin table"):
        pin_uses("  - uses: someone/else@v1\n")
    with pytest.raises(UnpinnedAction, match="the pin table has v4"):
        pin_uses("  - uses: actions/checkout@v5\n")
    assert pin_uses("  - uses: ./.github/actions/setup-aigw\n") == \
        "  - uses: ./.github/actions/setup-aigw\n"


def test_init_update_rewrites_tag_pins_without_network(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli(capsys, "init", str(tmp_path), "--install-source", "aigw").code == 0
    workflow = tmp_path / ".github" / "workflows" / "aigw-pr.yml"
    pin = ACTIONS["actions/checkout"]
    old = workflow.read_text().replace(f"actions/checkout@{pin.commit} # {pin.tag}",
                                       "actions/checkout@v4")  # as an older aigw wrote it
    workflow.write_text(old)
    assert unpinned({"aigw-pr.yml": old})

    def no_network(*_args: object, **_kw: object) -> None:
        raise AssertionError("aigw init --update reached for the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    r = run_cli(capsys, "init", str(tmp_path), "--update", "--install-source", "aigw")
    assert r.code == 0, r.err
    assert unpinned({"aigw-pr.yml": workflow.read_text()}) == []
    assert f"actions/checkout@{pin.commit} # {pin.tag}" in workflow.read_text()
