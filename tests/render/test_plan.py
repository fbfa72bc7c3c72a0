"""The output folder's sync is a plan, then its apply; `aigw render --check` prints the plan.

The plan (aigw.render_plan) is pure: what to write, what is unchanged, what to
remove, what to leave, computed from what render produced and what the folder
holds. `--check` prints it as `pip-sync --dry-run` does (a heading per action,
one file a line), then the diff, and exits 1; it writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from aigw.render_plan import plan_files, plan_lines, plan_removals
from tests.helpers import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _tree(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_file_plan_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "same").write_bytes(b"a\n")
    (tmp_path / "edited").write_bytes(b"old\n")
    existing = {rel: str(tmp_path / rel) for rel in ("same", "edited")}
    before = _tree(tmp_path)
    read: list[str] = []

    def reader(path: str) -> bytes:
        read.append(Path(path).name)
        return Path(path).read_bytes()

    plan = plan_files({"same": b"a\n", "edited": b"new\n", "added": b"x\n"}, existing, reader)
    assert plan.unchanged == {"same": b"a\n"}
    assert plan.write == {"edited": b"new\n", "added": b"x\n"}
    assert plan.old == {"edited": b"old\n", "added": None}
    assert sorted(read) == ["edited", "same"], "only files on disk are read"
    assert _tree(tmp_path) == before
    diff = dict(plan.diff())
    assert "-old\n+new\n" in diff["edited"] and "--- /dev/null" in diff["added"]


def test_only_render_s_own_stale_files_are_planned_for_removal() -> None:
    existing = ["prod/a/aigw.env", "prod/a/role-id", "prod/a/NOTES.md", "prod/gone/aigw.env",
                "staging/b/aigw.env"]
    ours = ["prod/a/aigw.env", "prod/gone/aigw.env", "staging/b/aigw.env"]
    plan = plan_removals(existing, ours, produced={"prod/a/aigw.env"},
                         runtime={"prod/a/role-id"}, env="prod", service=None)
    assert plan.remove == ["prod/gone/aigw.env"]  # staging is out of scope
    assert plan.kept == ["prod/a/NOTES.md"]


def test_plan_lines_read_like_pip_sync() -> None:
    assert plan_lines(["b/x", "a/y"], ["c/z"]) == [
        "Would write:", "  a/y", "  b/x", "Would remove:", "  c/z"]
    assert plan_lines([], []) == []


def test_check_prints_the_plan_then_the_diff(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    text = (EXAMPLES / "aigw.yaml").read_text()
    catalog, out = tmp_path / "aigw.yaml", tmp_path / "out"
    catalog.write_text(text)
    render = ("render", str(catalog), "--out", str(out))
    assert run_cli(capsys, *render).code == 0
    clean = run_cli(capsys, *render, "--check")
    assert clean.code == 0 and "Would" not in clean.out

    edited = out / "prod" / "support-bot" / "aigw.env"
    edited.write_text("AIGW_SERVICE=someone-else\n")
    (out / "prod" / "eu-contracts" / "litellm.yaml").unlink()
    catalog.write_text(text.split("  nightly-batch:")[0])  # its files would go
    before = _tree(out)

    result = run_cli(capsys, *render, "--check")
    assert result.code == 1
    lines = result.out.splitlines()
    gone = sorted(rel for rel in before if rel.startswith("staging/nightly-batch/"))
    assert gone
    head = ["Would write:", "  prod/eu-contracts/litellm.yaml", "  prod/support-bot/aigw.env",
            "Would remove:", *(f"  {rel}" for rel in gone)]
    assert lines[:len(head)] == head
    assert lines[len(head)].startswith("--- "), "the diff follows the plan"
    assert "-AIGW_SERVICE=someone-else" in lines
    assert _tree(out) == before, "--check wrote or removed something"
