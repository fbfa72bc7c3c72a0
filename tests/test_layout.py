"""docs/architecture.md's package layout table names exactly the modules under cli/aigw/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cli" / "aigw"
DOC = ROOT / "docs" / "architecture.md"


def documented(text: str) -> list[str]:
    """The first column of the table under "## Package layout": `name.py` or `name/`."""
    section = text.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, re.MULTILINE)


def in_tree(root: Path = PACKAGE) -> list[str]:
    """The modules (`x.py`) and packages (`x/`, holding `__init__.py`) directly in ROOT."""
    files = [p.name for p in root.glob("*.py")]
    packages = [f"{p.name}/" for p in root.iterdir() if (p / "__init__.py").is_file()]
    return sorted(files + packages)


def test_the_layout_table_matches_the_tree() -> None:
    rows = documented(DOC.read_text())
    assert len(rows) == len(set(rows)), "a module is listed twice"
    missing = sorted(set(in_tree()) - set(rows))
    stale = sorted(set(rows) - set(in_tree()))
    assert not missing, f"docs/architecture.md's layout table lacks {missing}"
    assert not stale, f"docs/architecture.md's layout table lists {stale}, not in cli/aigw/"


def test_the_comparison_sees_a_new_module(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("")
    (tmp_path / "data").mkdir()  # not a package
    assert in_tree(tmp_path) == ["a.py", "sub/"]
    table = "## Package layout\n\n| module | what |\n|---|---|\n| `a.py` | x |\n\n## Next\n| `b.py` |"
    assert documented(table) == ["a.py"]
