"""A stand-in OpenAI-compatible provider whose models answer from a script (for evals).

It is `FakeProvider` (key checks, fault injection, call counts) with one change:
a chat completion's text comes from `answer(model, messages)`, so a test can
make one model answer well and another worse on purpose, and a judge model
reply with a verdict. Calls are counted per model (`model_calls`), which is
how the eval tests prove a second run makes no provider call.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from testing.fake_provider import FakeProvider, _error, _reply

Answer = Callable[[str, list[dict[str, Any]]], str]


class ScriptedProvider(FakeProvider):
    """FakeProvider whose chat answers come from ANSWER(model, messages)."""

    def __init__(self, name: str, keys: Iterable[str], answer: Answer, **kwargs: Any) -> None:
        super().__init__(name, keys, **kwargs)
        self.answer = answer
        self.model_calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0  # the most chat calls answered at once
        self._count_lock = threading.Lock()

    def _provider_call(self, h: Any, raw: bytes, chat: bool,
                       path: str = "/chat/completions") -> None:
        if not (chat and path.endswith("/chat/completions")):
            super()._provider_call(h, raw, chat, path)
            return
        auth = h.headers.get("Authorization") or ""
        key = auth[7:] if auth[:7].lower() == "bearer " else ""
        status, _mode, body = self.admit(key, raw, parse=True)
        if status != 200:
            _reply(h, status, _error(status, f"status {status}", "error"), self.name)
            return
        model = str(body.get("model", ""))
        messages = list(body.get("messages") or [])
        with self._count_lock:
            self.model_calls[model] = self.model_calls.get(model, 0) + 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            text = self.answer(model, messages)
        finally:
            with self._count_lock:
                self.in_flight -= 1
        prompt = sum(len(str(m.get("content", "")).split()) for m in messages)
        done = len(text.split())
        doc = {"id": "chatcmpl-" + secrets.token_hex(6), "object": "chat.completion",
               "created": int(time.time()), "model": model,
               "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text}}],
               "usage": {"prompt_tokens": prompt, "completion_tokens": done,
                         "total_tokens": prompt + done}}
        _reply(h, 200, json.dumps(doc).encode(), self.name)
