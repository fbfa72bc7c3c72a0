"""The runners' results files agree: every vector, at least 60, byte for byte.

`compare(folder)` is the check CI runs on the files every runner wrote (Python
sync and async, TypeScript, Go) into one folder: $AIGW_SPEC_RESULTS when set.
Without it, this test plays the vectors on the Python sync and async clients
into a temporary folder and compares those.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .player import RESULTS_ENV, RESULTS_FORMAT, VECTORS, dumps, results_document, run_all

MINIMUM = 60


def compare(folder: Path, ids: list[str]) -> list[str]:
    """What is wrong with the results files in `folder` (empty when they agree)."""
    files = sorted(folder.glob("*.results.json"))
    problems = []
    if len(files) < 2:
        problems.append(f"{folder}: {len(files)} results files; need at least two runners")
    if len(ids) < MINIMUM:
        problems.append(f"spec/vectors has {len(ids)} vectors; the spec needs {MINIMUM}+")
    texts: dict[str, str] = {}
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != RESULTS_FORMAT:
            problems.append(f"{path.name}: format {doc.get('format')!r}, not {RESULTS_FORMAT}")
        missing = sorted(set(ids) - set(doc.get("vectors", {})))
        extra = sorted(set(doc.get("vectors", {})) - set(ids))
        if missing:
            problems.append(f"{path.name}: skipped or failed vectors: {', '.join(missing)}")
        if extra:
            problems.append(f"{path.name}: vectors the spec does not have: {', '.join(extra)}")
        doc.pop("runner", None)
        texts[path.name] = dumps(doc)
    if texts:
        first, want = next(iter(texts.items()))
        for name, text in texts.items():
            if text != want:
                problems.append(f"{name} differs from {first}: {_first_difference(want, text)}")
    return problems


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False)):
        if x != y:
            return f"line {i + 1}: {x.strip()!r} vs {y.strip()!r}"
    return "one file is longer"


def test_the_runners_agree(tmp_path: Path) -> None:
    ids = [p.stem for p in VECTORS]
    folder = Path(os.environ[RESULTS_ENV]) if os.environ.get(RESULTS_ENV) else None
    if folder is None:
        folder = tmp_path / "results"
        folder.mkdir()
        for runner, aio in (("python-sync", False), ("python-async", True)):
            vectors = run_all(tmp_path / runner, aio)
            (folder / f"{runner}.results.json").write_text(results_document(runner, vectors))
    problems = compare(folder, ids)
    assert not problems, "\n".join(problems)


def test_compare_sees_a_skip_and_a_difference(tmp_path: Path) -> None:
    ids = [f"v{i}" for i in range(MINIMUM)]
    call = {"status": 200, "raises": None, "attempts": [["p1", "ok"]], "served": "p1/default"}
    vectors = {i: {"calls": [call]} for i in ids}
    (tmp_path / "a.results.json").write_text(results_document("python-sync", vectors))
    (tmp_path / "b.results.json").write_text(results_document("go", vectors))
    assert compare(tmp_path, ids) == []
    del vectors["v3"]
    (tmp_path / "b.results.json").write_text(results_document("go", vectors))
    assert any("skipped or failed vectors: v3" in p for p in compare(tmp_path, ids))
    vectors["v3"] = {"calls": [{**call, "served": None}]}
    (tmp_path / "b.results.json").write_text(results_document("go", vectors))
    assert any("differs" in p for p in compare(tmp_path, ids))
    assert any("needs 60+" in p for p in compare(tmp_path, ids[:10]))


@pytest.mark.parametrize("name", ["python-sync", "python-async"])
def test_results_file_shape(name: str) -> None:
    text = results_document(name, {"x": {"calls": []}})
    assert text.endswith("}\n") and '  "format"' in text
