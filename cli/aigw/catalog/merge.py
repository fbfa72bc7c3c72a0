"""Merge the parsed files of a `catalog/` folder into one document."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aigw.catalog.loader import SECTIONS, Mark, PathKey, Problem, SourceDoc, dotted

# `ci` is one mapping of settings (not a mapping of names): it may appear in one file.
SETTINGS = ("ci",)
TOP_LEVEL = ("version", *SECTIONS, *SETTINGS)


class MergedMarks(Mapping[PathKey, Mark]):
    """Where each merged path came from; built on first use (positions cost a second parse)."""

    def __init__(self, docs: list[SourceDoc], owner: dict[PathKey, int]) -> None:
        self._docs = docs
        self._owner = owner  # (section, name) -> index of the doc that defined it
        self._marks: dict[PathKey, Mark] | None = None

    def _build(self) -> dict[PathKey, Mark]:
        if self._marks is None:
            marks: dict[PathKey, Mark] = {}
            for i, doc in enumerate(self._docs):
                for path, mark in doc.marks.items():
                    if len(path) < 2 or self._owner.get(path[:2], i) == i:
                        marks.setdefault(path, mark)
            self._marks = marks
        return self._marks

    def __getitem__(self, key: PathKey) -> Mark:
        return self._build()[key]

    def __iter__(self) -> Iterator[PathKey]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())


def merge_docs(
    docs: list[SourceDoc],
) -> tuple[dict[str, Any], MergedMarks, list[Problem], set[str]]:
    """Merge section by section; a name defined in two files is a problem at the second.

    Also returns the sections that were not mappings: references into them are not
    reported again as unknown.
    """
    broken: set[str] = set()
    merged: dict[str, Any] = {}
    owner: dict[PathKey, int] = {}
    problems: list[Problem] = []
    for index, doc in enumerate(docs):
        if not isinstance(doc.data, dict):
            kind = type(doc.data).__name__ if doc.data is not None else "nothing"
            problems.append(Problem(doc.marks.get((), Mark(doc.file, 1, 1)), "(top level)",
                                    f"expected a mapping of sections, got {kind}",
                                    "the file starts with keys like `providers:` and `services:`"))
            continue
        for section, body in doc.data.items():
            if section not in TOP_LEVEL:
                problems.append(Problem(_mark(doc, (section,)), section, "unknown section",
                                        f"expected one of: {', '.join(TOP_LEVEL)}"))
                continue
            if section == "version":
                merged["version"] = body
                continue
            if section in SETTINGS:
                if section in merged:
                    first = docs[owner[(section,)]]
                    problems.append(Problem(_mark(doc, (section,)), section, "defined twice",
                                            f"first defined at {_mark(first, (section,))}"))
                    continue
                merged[section] = body
                owner[(section,)] = index
                continue
            if body is None:
                continue
            if not isinstance(body, dict):
                problems.append(Problem(_mark(doc, (section,)), section,
                                        f"expected a mapping of names, got {type(body).__name__}",
                                        f"write `{section}:` then one indented `name:` entry "
                                        "per item"))
                broken.add(section)
                continue
            target = merged.setdefault(section, {})
            for name, value in body.items():
                path = (section, name)
                if name in target:
                    first = docs[owner[path]]
                    problems.append(Problem(_mark(doc, path), dotted(path), "defined twice",
                                            f"first defined at {_mark(first, path)}"))
                    continue
                target[name] = value
                owner[path] = index
    return merged, MergedMarks(docs, owner), problems, broken


def _mark(doc: SourceDoc, path: PathKey) -> Mark:
    return doc.marks.get(path) or doc.marks.get((), Mark(doc.file, 1, 1))
