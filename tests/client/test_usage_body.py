"""Reading a response's usage and model without parsing the whole answer
(client/usage.py `top_level_usage`): the same result as parsing it all, or None."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aigw.client.usage import from_body, openai_tokens, top_level_usage

USAGE = {"prompt_tokens": 812, "completion_tokens": 530, "total_tokens": 1342,
         "prompt_tokens_details": {"cached_tokens": 256}}
CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant",
                                             "content": 'say "usage": {"x": 1} "model": "m"'}}],
        "usage": USAGE, "service_tier": "default", "system_fingerprint": "fp_1"}
EMBEDDINGS = {"object": "list",
              "data": [{"object": "embedding", "index": 0, "embedding": [0.5] * 3000}],
              "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}}
ANTHROPIC = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
             "content": [{"type": "text", "text": "hi \\\"usage\\\": 1"}],
             "stop_reason": "end_turn",
             "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 3}}
RESPONSES = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed",
             "error": None, "model": "gpt-4.1", "output": [{"type": "message", "content": [
                 {"type": "output_text", "text": "x" * 5000}]}],
             "usage": {"input_tokens": 4, "output_tokens": 9,
                       "output_tokens_details": {"reasoning_tokens": 2}},
             "user": None, "metadata": {}}


def both(doc: Any, **dumps: Any) -> tuple[Any, Any]:
    body = json.dumps(doc, **dumps).encode()
    full = json.loads(body)
    return top_level_usage(body), (full.get("usage"), full.get("model"))


@pytest.mark.parametrize("doc", [CHAT, EMBEDDINGS, ANTHROPIC, RESPONSES],
                         ids=["chat", "embeddings", "anthropic", "responses"])
@pytest.mark.parametrize("style", [{}, {"indent": 2}, {"separators": (",", ":")}],
                         ids=["default", "indented", "compact"])
def test_read_without_parsing_the_answer(doc, style):
    fast, full = both(doc, **style)
    assert fast == full


@pytest.mark.parametrize("doc", [
    {"model": "m", "choices": [{"usage": {"prompt_tokens": 1}}]},            # nested, no top
    {"model": "m", "usage": {"prompt_tokens": 1}, "more": [{"usage": {}}]},  # nested last
    {"choices": [{"model": "inner"}], "model": "outer", "usage": {"prompt_tokens": 1}, "x": [1]},
    {"a\"usage": {"prompt_tokens": 1}},                                     # escaped quote key
    {"pad": "y" * 5000, "choices": [{"model": "inner"}], "usage": {"prompt_tokens": 1},
     "model": "outer"},
], ids=["nested-only", "nested-last", "inner-model", "escaped-key", "model-after-usage"])
def test_unproven_shapes_are_parsed_whole(doc):
    """Where the shortcut cannot prove it read the top level, from_body parses it all."""
    body = json.dumps(doc).encode()
    fast = top_level_usage(body)
    full = json.loads(body)
    if fast is not None:  # (only when it is right)
        assert fast == (full.get("usage"), full.get("model"))
    tokens, model = from_body(body, openai_tokens)
    assert model == (full.get("model") if isinstance(full.get("model"), str) else None)
    assert (tokens is None) == (not isinstance(full.get("usage"), dict)
                                or "prompt_tokens" not in full["usage"])


def test_an_array_or_broken_body_is_not_read():
    assert top_level_usage(b'[{"usage": {"prompt_tokens": 1}}]') is None
    assert top_level_usage(b'{"usage": {"prompt_tokens": 1}') is None
    assert from_body(b'{"usage": {"prompt_tokens": 1}', openai_tokens) == (None, None)
