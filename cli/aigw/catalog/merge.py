"""Merge the parsed files of a `catalog/` folder into one document."""

from __future__ import annotations

from typing import Any

from aigw.catalog.loader import SECTIONS, Mark, PathKey, Problem, SourceDoc, dotted

TOP_LEVEL = ("version", *SECTIONS)


def merge_docs(docs: list[SourceDoc]) -> tuple[dict[str, Any], dict[PathKey, Mark], list[Problem]]:
    """Merge section by section; a name defined in two files is a problem at the second."""
    merged: dict[str, Any] = {}
    marks: dict[PathKey, Mark] = {}
    problems: list[Problem] = []
    for doc in docs:
        top = doc.marks.get((), Mark(doc.file, 1, 1))
        if not isinstance(doc.data, dict):
            kind = type(doc.data).__name__ if doc.data is not None else "nothing"
            problems.append(Problem(top, "(top level)", f"expected a mapping of sections, got {kind}",
                                    "the file starts with keys like `providers:` and `services:`"))
            continue
        rejected: set[PathKey] = set()
        for section, body in doc.data.items():
            where = doc.marks.get((section,), top)
            if section not in TOP_LEVEL:
                problems.append(Problem(where, section, "unknown section",
                                        f"expected one of: {', '.join(TOP_LEVEL)}"))
                continue
            if section == "version":
                merged["version"] = body
                continue
            if body is None:
                continue
            if not isinstance(body, dict):
                problems.append(Problem(where, section, f"expected a mapping of names, got "
                                        f"{type(body).__name__}", f"write `{section}:` then one "
                                        "indented `name:` entry per item"))
                continue
            target = merged.setdefault(section, {})
            for name, value in body.items():
                path = (section, name)
                if name in target:
                    problems.append(Problem(doc.marks.get(path, where), dotted(path),
                                            "defined twice", f"first defined at {marks.get(path)}"))
                    rejected.add(path)
                    continue
                target[name] = value
                marks.setdefault(path, doc.marks.get(path, where))
        for path, mark in doc.marks.items():
            if path[:2] not in rejected:
                marks.setdefault(path, mark)
    return merged, marks, problems

