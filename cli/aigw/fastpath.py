"""The one switch of aigw's fast paths: ``AIGW_NO_FASTPATH=1`` turns them all off.

A fast path is a speed trick with a plain twin that gives the same result through
public APIs only: building httpx requests from its internal header triples,
``tuple.__new__`` on NamedTuples, shared caches of resolved catalog parts. Each
layer keeps its tricks in one module (``aigw.client.fastpath``; the catalog's route
cache in ``aigw.catalog.view``) and picks the trick or its twin from `ENABLED`, read
once when this module is first imported (the switch is per process: set it in the
environment before aigw starts). The tests run the conformance vectors and the
golden renders both ways (tests/test_fastpath.py); docs/architecture.md#fast-paths.

Standard library only: the client and the CLI's start-up path both import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from aigw.envvars import NO_FASTPATH

_OFF = frozenset({"", "0", "false", "no", "off"})


def enabled(env: Mapping[str, str]) -> bool:
    """Whether ENV leaves the fast paths on (``AIGW_NO_FASTPATH`` unset, empty or ``0``)."""
    return env.get(NO_FASTPATH, "").strip().lower() in _OFF


ENABLED: bool = enabled(os.environ)
