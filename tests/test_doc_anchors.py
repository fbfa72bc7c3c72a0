"""Every link to a heading of the docs (`docs/<file>.md#anchor`) names a heading that exists.

Docstrings, comments, messages and the docs themselves point readers at sections
(`docs/rotation.md#acknowledgements`); a renamed heading silently breaks them. The
anchors are GitHub's: the heading's text, lower-cased, punctuation other than `-`
and `_` dropped, spaces made `-`, and `-1`, `-2`... added to repeats.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Where references are looked for: the package, the docs, the contract, the templates.
SOURCES = ("cli", "docs", "spec", "templates", "policies", "README.md")
SUFFIXES = {".py", ".md", ".j2", ".rego", ".json", ".yaml", ".hcl", ".toml"}
# `docs/x.md#a` (or `spec/...`) anywhere, from the repository root.
ROOTED = re.compile(r"\b((?:docs|spec)/[\w./-]+\.md)#([\w-]+)")
# `](x.md#a)`, `](../spec/README.md#a)`, `](#a)` in markdown, relative to the file.
LINKED = re.compile(r"\]\(([\w./-]*?)#([\w-]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading's markdown text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors of a markdown document: its headings' (outside code fences) and HTML ones."""
    seen: dict[str, int] = {}
    out = set(HTML_ANCHOR.findall(markdown))
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        m = None if fenced else HEADING.match(line)
        if m is None:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def references(root: Path = ROOT) -> list[tuple[str, Path, str]]:
    """(where, target markdown file, anchor) for every heading link in SOURCES."""
    out = []
    files = [root / s for s in SOURCES if (root / s).is_file()]
    files += sorted(p for s in SOURCES if (root / s).is_dir() for p in (root / s).rglob("*")
                    if p.suffix in SUFFIXES and p.is_file())
    for path in files:
        text = path.read_text(errors="replace")
        for lineno, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(root)}:{lineno}"
            for target, anchor in ROOTED.findall(line):
                out.append((where, root / target, anchor))
            if path.suffix == ".md":
                for target, anchor in LINKED.findall(line):
                    out.append((where, (path.parent / target).resolve() if target else path,
                                anchor))
    return out


def broken(root: Path = ROOT) -> list[str]:
    """`where: target#anchor (why)` for each reference that resolves to no heading."""
    cache: dict[Path, set[str] | None] = {}
    out = []
    for where, target, anchor in references(root):
        if target not in cache:
            cache[target] = anchors(target.read_text()) if target.is_file() else None
        found = cache[target]
        rel = target.relative_to(root) if target.is_relative_to(root) else target
        if found is None:
            out.append(f"{where}: {rel}#{anchor} (no such file)")
        elif anchor not in found:
            out.append(f"{where}: {rel}#{anchor} (no such heading)")
    return out


def test_every_heading_link_resolves() -> None:
    refs = references()
    assert len(refs) > 20 and any(a == "acknowledgements" for _w, _t, a in refs)
    assert broken() == []


def test_anchors_follow_githubs_rule() -> None:
    doc = ("# Title\n## An agent's login: `aigw agent-credentials`\n## 1. Keys ready, "
           "before a config is published\n```\n# not a heading\n```\n## Errors\n## Errors\n"
           "### [Wire APIs](x.md) and `key_dir`\n<a name=\"old-name\"></a>\n")
    assert anchors(doc) == {"title", "an-agents-login-aigw-agent-credentials",
                            "1-keys-ready-before-a-config-is-published", "errors", "errors-1",
                            "wire-apis-and-key_dir", "old-name"}


def test_a_broken_link_is_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n## Real heading\nsee [b](b.md#gone), "
                                            "[here](#real-heading), [self](#nope)\n")
    (tmp_path / "docs" / "b.md").write_text("# B\n")
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "m.py").write_text('"""See docs/a.md#real-heading, docs/c.md#x."""\n')
    assert broken(tmp_path) == [
        "cli/m.py:1: docs/c.md#x (no such file)",
        "docs/a.md:3: docs/b.md#gone (no such heading)",
        "docs/a.md:3: docs/a.md#nope (no such heading)"]
