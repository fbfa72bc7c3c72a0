"""The hooks shared by the APIs that take the model in the JSON body (openai, anthropic).

Each is named as the `Wire` and `Family` Protocols name it, so a module imports
the ones it shares in one line: a key file holds one key, nothing beyond httpx
is needed, providers give their base_url, streams are SSE read by the spec's
first-event rule, and a request names its alias and asks to stream in its body.
"""

from __future__ import annotations

from typing import Any

from ..keys import parse_token
from ..streaming import FirstEvent, sse_first_event

parse_secret = parse_token


def ready(where: str) -> None:
    """Nothing beyond httpx is needed."""


def default_base_url(region: str) -> str:
    """Never asked: these APIs' providers give their base_url (`api.needs_base_url`)."""
    raise ValueError("this API's routes give their base_url (api.needs_base_url)")


def first_event(content_type: str) -> FirstEvent | None:
    """SSE, read by the spec's first-event rule (spec/README.md R5)."""
    return FirstEvent(sse_first_event) if "text/event-stream" in content_type else None


def alias_of(path: str, body: dict[str, Any] | None) -> str | None:
    """The alias as these requests name it: the body's ``model``."""
    model = body.get("model") if body else None
    return model if isinstance(model, str) else None


def streams(path: str, body: dict[str, Any] | None) -> bool:
    """Whether the request streams: ``"stream": true`` in its body."""
    return bool(body and body.get("stream") is True)
