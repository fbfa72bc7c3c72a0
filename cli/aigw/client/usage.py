"""Token usage as providers report it, in aigw's disjoint billed classes.

Sans-I/O and dependency-free: the metrics thread (client/metrics.py) and anyone
pricing a call (client/cost.py, `aigw eval`) read usage through here. The
classes (spec/metrics.md) never overlap, so cost is a plain sum over them:

- ``input``: input tokens neither read from nor written to a cache;
- ``cache_read``: input tokens served from the provider's prompt cache;
- ``cache_write``: input tokens written to the cache (Anthropic's cache creation);
- ``output``: output tokens that are not reasoning tokens;
- ``reasoning``: reasoning (thinking) tokens the provider reports apart.

Shapes read: OpenAI Chat Completions (``prompt_tokens``, ``completion_tokens``
and their ``*_details``), the Responses API (``input_tokens`` including cached,
``*_tokens_details``), DeepSeek's ``prompt_cache_hit_tokens``, and Anthropic
Messages (``input_tokens`` excluding the cache, ``cache_read_input_tokens``,
``cache_creation_input_tokens``), also as Bedrock returns it. Streams: the
OpenAI chunk with ``usage`` (only when the caller sent
``stream_options.include_usage``), the Responses ``response.completed`` event,
and Anthropic's ``message_start`` plus ``message_delta`` events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

CLASSES = ("input", "cache_read", "cache_write", "output", "reasoning")
INPUT_CLASSES = ("input", "cache_read", "cache_write")
OUTPUT_CLASSES = ("output", "reasoning")

Tokens = dict[str, int]
# A family's reading of one `usage` object (aigw.client.wire.Family.usage_tokens).
UsageReader = Callable[[Any], "Tokens | None"]


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def anthropic_tokens(usage: Any) -> Tokens | None:
    """The token classes of an Anthropic Messages ``usage`` (also as Bedrock returns it),
    or None if it holds no counts: its ``input_tokens`` excludes cached tokens.
    What the `anthropic` family reads (aigw.client.wires.anthropic.usage_tokens)."""
    if not isinstance(usage, dict) or ("input_tokens" not in usage
                                       and "output_tokens" not in usage):
        return None
    return {"input": _int(usage.get("input_tokens")),
            "cache_read": _int(usage.get("cache_read_input_tokens")),
            "cache_write": _int(usage.get("cache_creation_input_tokens")),
            "output": _int(usage.get("output_tokens")), "reasoning": 0}


def openai_tokens(usage: Any) -> Tokens | None:
    """The token classes of an OpenAI-shaped ``usage`` (Chat Completions, Responses,
    DeepSeek's cache counts), or None if it holds no counts: its input totals include
    cached tokens. An object with Anthropic's cache keys (an OpenAI-compatible gateway
    in front of Claude) is read as Anthropic's. What the `openai` family reads
    (aigw.client.wires.openai.usage_tokens)."""
    if not isinstance(usage, dict):
        return None
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        return anthropic_tokens(usage)
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        total_in, total_out = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        in_details = usage.get("prompt_tokens_details")
        out_details = usage.get("completion_tokens_details")
    elif "input_tokens" in usage or "output_tokens" in usage:  # the Responses API
        total_in, total_out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        in_details = usage.get("input_tokens_details")
        out_details = usage.get("output_tokens_details")
    else:
        return None
    in_details = in_details if isinstance(in_details, dict) else {}
    out_details = out_details if isinstance(out_details, dict) else {}
    cache_read = _int(in_details.get("cached_tokens")) or _int(usage.get("prompt_cache_hit_tokens"))
    cache_write = _int(in_details.get("cache_write_tokens"))
    reasoning = _int(out_details.get("reasoning_tokens"))
    cache_read = min(cache_read, total_in)
    cache_write = min(cache_write, total_in - cache_read)
    reasoning = min(reasoning, total_out)
    return {"input": total_in - cache_read - cache_write, "cache_read": cache_read,
            "cache_write": cache_write, "output": total_out - reasoning,
            "reasoning": reasoning}


def input_total(tokens: Tokens) -> int:
    """Input tokens as the conventions count them (cached ones included)."""
    return sum(tokens.get(c, 0) for c in INPUT_CLASSES)


def output_total(tokens: Tokens) -> int:
    """Output tokens as the conventions count them (reasoning included)."""
    return sum(tokens.get(c, 0) for c in OUTPUT_CLASSES)


def from_body(body: bytes | None, read: UsageReader) -> tuple[Tokens | None, str | None]:
    """(token classes, response model) of a whole JSON response body; READ: the route's
    family's reading of its ``usage`` (`RouteState.usage`)."""
    if not body:
        return None, None
    found = top_level_usage(body) if len(body) > _PARSE_WHOLE else None
    if found is not None:
        usage, model = found
        return read(usage), model
    try:
        doc = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    model = doc.get("model")
    return read(doc.get("usage")), model if isinstance(model, str) else None


_DECODER = json.JSONDecoder()
_COLON = re.compile(r"[ \t\r\n]*:[ \t\r\n]*")
_COMMA = re.compile(r"[ \t\r\n]*,[ \t\r\n]*")
_PARSE_WHOLE = 1024  # a body this small is parsed whole (as fast as the shortcut)
_HEAD_MAX = 4096  # a first `model` key within this many bytes is checked by parsing the head


def top_level_usage(body: bytes) -> tuple[Any, str | None] | None:
    """(the top-level ``usage``, the top-level ``model``) of a JSON object, read
    without parsing the answer (an embeddings answer can be megabytes); None when
    that cannot be proven, and the caller parses the whole body.

    Providers put ``usage`` after the content. Its last occurrence is the
    top-level key when it is a key (an unescaped quote, then ``:``) and what
    follows its value closes the document (``}``, or more keys then ``}``, parsed
    to check). ``model`` is top-level when it is the first key-like occurrence
    and all before it parses as the start of the object (chat answers put it
    first), or when it is the key right before ``usage`` (embeddings answers).
    """
    i = body.rfind(b'"usage"')
    if i <= 0 or body[i - 1] == 0x5C:  # (a backslash: a quote inside a string)
        return None
    try:
        tail = body[i + 7:].decode()
        colon = _COLON.match(tail)
        if colon is None:
            return None
        usage, end = _DECODER.raw_decode(tail, colon.end())
        rest = tail[end:].strip()
        if rest != "}" and not (rest[:1] == "," and _closes("{" + rest[1:])):
            return None
        k = body.find(b'"model"', 0, i)
        if k < 0:
            return usage, None
        if k <= _HEAD_MAX:
            head = body[:k].decode().strip()
            if head != "{" and not (head[-1:] == "," and _closes(head[:-1] + "}")):
                return None
        else:
            k = body.rfind(b'"model"', 0, i)
        model, end = _value(body[k + 7:i].decode() if k > _HEAD_MAX else
                            body[k + 7:k + 1031].decode(errors="ignore"))
        if k > _HEAD_MAX and not _COMMA.fullmatch(body[k + 7:i].decode(), end):
            return None  # (not the key right before usage)
        if body[k - 1] == 0x5C:
            return None
    except ValueError:  # (UnicodeDecodeError included)
        return None
    return usage, model if isinstance(model, str) else None


def _value(text: str) -> tuple[Any, int]:
    """The JSON value after a key's colon in `text`, and where it ends."""
    colon = _COLON.match(text)
    if colon is None:
        raise ValueError("not a key")
    return _DECODER.raw_decode(text, colon.end())


def _closes(text: str) -> bool:
    """`text` is one whole JSON object."""
    doc, end = _DECODER.raw_decode(text)
    return isinstance(doc, dict) and end == len(text.rstrip())


def from_events(blocks: list[bytes], read: UsageReader) -> tuple[Tokens | None, str | None]:
    """(token classes, response model) from the SSE events of a stream that mention usage."""
    merged: dict[str, Any] = {}
    model: str | None = None
    for block in blocks:
        for event in block.split(b"\n\n"):
            for line in event.splitlines():
                if not line.startswith(b"data:"):
                    continue
                try:
                    doc = json.loads(line[5:])
                except ValueError:
                    continue
                if not isinstance(doc, dict):
                    continue
                inner = doc.get("message") or doc.get("response")  # Anthropic, Responses
                if isinstance(inner, dict):
                    if isinstance(inner.get("model"), str):
                        model = inner["model"]
                    usage = inner.get("usage")
                else:
                    if isinstance(doc.get("model"), str):
                        model = doc["model"]
                    usage = doc.get("usage")
                if isinstance(usage, dict):
                    # Anthropic's message_delta carries the final (cumulative) counts.
                    merged.update({k: v for k, v in usage.items() if v is not None})
    return (read(merged) if merged else None), model


class StreamTap:
    """Keeps the SSE events of a stream that carry ``usage`` (fed on the request path).

    Per chunk: one bytes search; an event split across chunks is joined first.
    At most `KEEP` events are kept (usage comes in the first and last ones).
    """

    __slots__ = ("blocks", "_tail")
    KEEP = 4

    def __init__(self) -> None:
        self.blocks: list[bytes] = []
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        """Note `chunk` (SSE bytes as passed to the caller)."""
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._tail = data[-65536:]
            return
        self._tail = data[end + 2:]
        if b'"usage"' in data[:end]:
            if len(self.blocks) >= self.KEEP:
                del self.blocks[1]  # keep the first (message_start) and the latest
            self.blocks.append(data[:end])
