"""The fork pool render works on: chunks of a list handed to forked workers.

Rendering ten thousand services is CPU-bound pure Python, so many deployments
are split into one chunk per CPU (at most 8), each run in a worker forked from
this process. Workers inherit the work and the items (nothing is pickled to them
but two numbers); only the work's results come back. Below `PARALLEL_FROM`
items, or without `fork`, the work runs here, on the whole list.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
PARALLEL_FROM = 1500
MAX_WORKERS = 8
_FORKED: tuple[Callable[[list[Any]], Any], list[Any]] | None = None


def in_parallel(work: Callable[[list[T]], R], items: list[T]) -> list[R]:
    """WORK over chunks of ITEMS, in order; forked workers when there are many.

    The objects that exist already are frozen out of the garbage collector's
    scans while WORK runs (they are most of the heap, and nothing frees them
    meanwhile).
    """
    global _FORKED
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    gc.freeze()
    try:
        if len(items) < PARALLEL_FROM or workers < 2 or "fork" not in mp.get_all_start_methods():
            return [work(items)]
        size = -(-len(items) // workers)
        _FORKED = (work, items)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            return list(pool.map(_forked, range(0, len(items), size), [size] * workers))
    finally:
        _FORKED = None
        gc.unfreeze()


def _forked(start: int, size: int) -> Any:
    assert _FORKED is not None, "only called in a worker forked by in_parallel"
    work, items = _FORKED
    # A worker lives for one chunk and then exits: the collector's passes over its
    # growing heap (a sixth of its time at 10,000 services) would free nothing it needs.
    gc.disable()
    return work(items[start:start + size])
