"""The eval cache: what a route answered for a case, so a re-run calls no provider.

One JSON file per answer under `<catalog>/.aigw/eval-cache/` (git-ignored: the
scaffold's .gitignore lists `.aigw/`), named by the SHA-256 of what decides the
answer: the alias's routes as the client sees them (provider, api, model,
base_url, extra: `Route.identity` without the slot, whose key does not change
what a model says) and the request sent. A grader re-grades the cached answer;
an `llm-rubric` judge's own answer is cached the same way, under the judge's
routes. Failed calls are never cached. Nothing secret is stored: answers,
latencies and the provider's usage object only (cost is computed when read, from
the catalog's prices then).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from aigw.fsutil import atomic_write

CACHE_DIR = Path(".aigw") / "eval-cache"


def route_identity(route: Any) -> list[Any]:
    """What makes a route answer the same: provider, api, model, base_url and extra."""
    return [route.provider, route.api, route.model, route.base_url,
            json.dumps(route.extra, sort_keys=True)]


def answer_key(routes: Sequence[Any], request: dict[str, Any]) -> str:
    """The cache key of one request to an alias served by ROUTES."""
    doc = {"routes": [route_identity(r) for r in routes], "request": request}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


class AnswerCache:
    """Answers by key, as files in FOLDER (None: nothing kept across runs).

    Within a run, one request is made once: a second identical request (the
    same case on a base and a head with the same routes, the same judge prompt)
    waits for the first one's answer instead of calling again.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def fetch(self, key: str, compute: Callable[[], dict[str, Any]]
              ) -> tuple[dict[str, Any], bool]:
        """(the answer for KEY, whether it was cached); COMPUTE makes it on a miss."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                known = self._memory.get(key)
            if known is not None:
                with self._guard:
                    self.hits += 1
                return known, True
            hit = self.get(key)
            if hit is not None:
                return hit, True
            value = compute()
            self.put(key, value)
            with self._guard:
                self._memory[key] = value
            return value, False

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer, or None (a missing or unreadable entry is a miss)."""
        value = None
        if self.folder is not None:
            try:
                value = json.loads(self._path(key).read_bytes())
            except (OSError, ValueError):
                value = None
        with self._guard:
            if isinstance(value, dict):
                self.hits += 1
                return value
            self.misses += 1
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store an answer (atomically: a concurrent reader sees all of it or nothing)."""
        if self.folder is not None:
            atomic_write(self._path(key), json.dumps(value, sort_keys=True).encode(),
                         0o600, durable=False)
