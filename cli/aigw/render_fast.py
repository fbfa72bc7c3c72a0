"""Render's fast paths and their plain twins (docs/architecture.md#fast-paths).

Every speed trick of aigw.render lives here, beside the plain code that gives the
same bytes through Jinja's and json's public APIs; `aigw.fastpath.ENABLED` (off with
``AIGW_NO_FASTPATH=1``) picks one of each for the whole process:

- `quoted` (the templates' `q` filter): a string's JSON form from json's C encoder
  without `json.dumps`'s call overhead; plain: `json.dumps`;
- `environment_class`: the sandbox with `x.name` on a plain dict a dict lookup
  first; plain: Jinja's `SandboxedEnvironment` as it is;
- `flatten_globals`: each template's globals as one dict (Jinja copies them into
  every render's context, and a ChainMap's copy costs more than a small file); plain:
  left as Jinja made them;
- `memo`: the renderer's caches of shared parts (an alias's `model_list`, a slot's
  agent template, a `.gitignore`), kept; plain: a memo that keeps nothing, so every
  deployment builds its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _encode_str  # type: ignore[attr-defined]
from typing import Any

from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment

from aigw.fastpath import ENABLED


def _quoted_fast(value: Any) -> str:
    """`json.dumps(value)`; for a string (nearly always), its C encoder without the call."""
    return _encode_str(value) if type(value) is str else json.dumps(value)


def _quoted_plain(value: Any) -> str:
    """`json.dumps(value)`: a YAML/HCL-safe double-quoted string (JSON string syntax)."""
    return json.dumps(value)


class PlainDataEnvironment(SandboxedEnvironment):
    """The sandbox, with `x.name` on a plain dict a dict lookup first.

    Render's contexts are plain dicts, lists and strings (`Renderer.context`); the
    sandbox would first look for a dict *attribute* of that name, fail, and only then
    index: a dict lookup is what it falls back to anyway, so nothing unsafe is reachable.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`obj[attribute]` for a plain dict holding it, else the sandbox's own lookup."""
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def _flatten_fast(templates: Iterable[Template]) -> None:
    for template in templates:
        template.globals = dict(template.globals)


def _flatten_plain(templates: Iterable[Template]) -> None:
    """Jinja's own globals (a ChainMap over the environment's), untouched."""


class NoMemo(dict[Any, Any]):
    """A memo that keeps nothing: `get` always misses, so each caller builds its own."""

    def __setitem__(self, key: Any, value: Any) -> None:
        """Forget VALUE at once."""

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """DEFAULT, kept nowhere."""
        return default


def _memo_fast() -> dict[Any, Any]:
    return {}


def _memo_plain() -> dict[Any, Any]:
    return NoMemo()


quoted = _quoted_fast if ENABLED else _quoted_plain
environment_class: type[SandboxedEnvironment] = (
    PlainDataEnvironment if ENABLED else SandboxedEnvironment)
flatten_globals = _flatten_fast if ENABLED else _flatten_plain
memo = _memo_fast if ENABLED else _memo_plain
