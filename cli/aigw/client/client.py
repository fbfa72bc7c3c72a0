"""`Client`: call a model alias; routes, keys and failover come from aigw-client.json.

Generated from aio.py by scripts/unasync.py: edit aio.py, then run
``python scripts/unasync.py`` (tests/client/test_unasync.py checks that the
two agree).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from aigw.apis import ANTHROPIC, OPENAI

from .config import ClientConfig
from .core import BaseClient
from .dictapi import chat_call, chat_value, check, provider_of, request_call, sanitized
from .sdk import inner_httpx2, make_sdk
from .streaming import ChatStream
from .transport import FailoverTransport


class Client(BaseClient):
    """Calls providers directly for one service, following its aigw-client.json.

    Create one per process (thread-safe) and reuse it. It follows
    its config file (see `BaseClient`, docs/client.md "Live config"): no restart
    for a new one. Use ``with Client...`` or `close` to stop the file
    watcher and close the connection pools.
    """

    def __init__(self, config: ClientConfig, *,
                 transport: httpx.BaseTransport | None = None, **kwargs: Any) -> None:
        """Build a client; see `BaseClient` for the other keyword arguments.

        `transport` is the httpx transport that reaches providers for the dict
        API (default: a pooled ``httpx.HTTPTransport``; tests and benchmarks
        pass an ``httpx.MockTransport``). The caller closes a transport it passed.
        Key files are checked with a cheap `os.stat` (at most every
        `key_check_interval`), which needs no thread.
        """
        super().__init__(config, **kwargs)
        self._owns_inner = transport is None
        self._inner = transport or httpx.HTTPTransport(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50))
        self._inner_sdk: Any = None
        self.transport = FailoverTransport(self, self._inner, httpx, None)
        self._chat_transport = FailoverTransport(self, self._inner, httpx, OPENAI)
        self.chat = Chat(self)

    def close(self) -> None:
        """Stop the key watcher and close the connection pools this client made."""
        self._stop_watcher()
        self._telemetry.close()  # records the queued metrics
        if self._owns_inner:
            self._inner.close()
        if self._inner_sdk is not None:
            self._inner_sdk.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sdk(self, family: str, *, transport: Any = None, **kwargs: Any) -> Any:
        """The SDK client of a wire family (its wire's `sdk` hook), over aigw.

        `kwargs` go to the SDK (not api_key, base_url, max_retries or
        http_client: aigw sets those). `transport` is an httpx2 transport to
        reach providers with (default: this client's pool).
        """
        return make_sdk(self, family, transport or self._sdk_inner(), aio=False, kwargs=kwargs)

    def openai(self, *, transport: Any = None, **kwargs: Any) -> Any:
        """An ``openai.OpenAI`` whose requests go through aigw (the alias is `model`).

        ``sdk("openai", ...)``: `kwargs` go to ``openai.OpenAI``.
        """
        return self.sdk(OPENAI, transport=transport, **kwargs)

    def anthropic(self, *, transport: Any = None, **kwargs: Any) -> Any:
        """An ``anthropic.Anthropic`` whose requests go through aigw (see `openai`)."""
        return self.sdk(ANTHROPIC, transport=transport, **kwargs)

    def _sdk_inner(self) -> Any:
        if self._inner_sdk is None:
            self._inner_sdk = inner_httpx2(aio=False)
        return self._inner_sdk

    def request(
            self, alias: str, method: str, path: str, *, json: Any = None,
            headers: dict[str, str] | None = None,
            session_id: str | None = None) -> httpx.Response:
        """Send `method` `path` (relative to each route's base_url) with failover.

        A JSON object body gets the route's ``model`` (and ``extra``). Returns
        the first non-failing response (including a 4xx other than 401/403/429);
        raises `AllRoutesFailed` when no route answered.
        """
        call = request_call(alias, method, path, json, headers, session_id)
        return sanitized(check(alias, self.transport.send(call)), method, path)

    def _chat(
            self, alias: str, messages: Iterable[dict[str, Any]], stream: bool,
            session_id: str | None, extra: dict[str, Any]) -> Any:
        resp = self._chat_transport.send(
            chat_call(alias, messages, stream, session_id, extra))
        if stream and resp.extensions.get("aigw.outcome") == "ok":
            return ChatStream(resp, provider_of(resp))
        return chat_value(alias, resp)


class Completions:
    """``client.chat.completions``: the OpenAI-shaped dict entry point."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
            self, *, model: str, messages: Iterable[dict[str, Any]], stream: bool = False,
            session_id: str | None = None, **extra: Any) -> Any:
        """Create a chat completion for the model alias `model` (an openai-family alias).

        Returns the provider's JSON as a dict, or with ``stream=True`` the chunk
        dicts in an iterator (`ChatStream`; failover happens only before its
        first chunk). `extra` keyword arguments go into the body, over the route's
        ``extra``.
        """
        return self._client._chat(model, messages, stream, session_id, extra)


class Chat:
    """``client.chat``."""

    def __init__(self, client: Client) -> None:
        self.completions = Completions(client)
