"""Every conformance vector (spec/vectors/*.json) on the Python sync and async clients.

Each run writes its results file (spec/README.md#the-results-file) into
$AIGW_SPEC_RESULTS (default spec/results/): `python-sync.results.json` and
`python-async.results.json`, holding the vectors that passed (a failed or
skipped vector is absent, so tests/spec/test_results_agree.py fails on it).
No provider is needed: httpx.MockTransport plays every upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .player import VECTORS, play, results_dir, results_document

RUNNERS = {"python-sync": False, "python-async": True}


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, dict[str, Any]]]:
    """What each runner observed; written as its results file when the module ends."""
    seen: dict[str, dict[str, Any]] = {name: {} for name in RUNNERS}
    yield seen
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for runner, vectors in seen.items():
        if vectors:
            (folder / f"{runner}.results.json").write_text(
                results_document(runner, dict(sorted(vectors.items()))), encoding="utf-8")


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector(path: Path, runner: str, tmp_path: Path,
                results: dict[str, dict[str, Any]]) -> None:
    results[runner][path.stem] = play(path, tmp_path, RUNNERS[runner])
