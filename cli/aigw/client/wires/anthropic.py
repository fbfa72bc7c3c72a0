"""`anthropic`: the Anthropic Messages API.

Route base_url + the SDK's path (``/v1/messages``), the route's ``model`` (and
``extra``) in the JSON body, the key in ``x-api-key``, and ``anthropic-version``
when the caller sends none (the SDK always sends one); streams are SSE. The
family's own API (Claude on Bedrock is anthropic-family too): a request names
its alias in the body's ``model``, errors come back as ``{"type": "error",
"error": {...}}``, and the SDK is ``anthropic.Anthropic`` / ``AsyncAnthropic``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aigw.apis import ANTHROPIC, APIS

from ..usage import Tokens, anthropic_tokens
from ..wire import (
    Headers,
    Prepared,
    dumps,
    header,
    header_name,
    key_auth,
    official_sdk,
    prepare_json,
)
from . import _body

if TYPE_CHECKING:
    from ..config import Route

api = APIS[ANTHROPIC]
# The hooks shared with `openai` (wires/_body.py): one key per file, SSE, model in the body.
parse_secret, ready, default_base_url = _body.parse_secret, _body.ready, _body.default_base_url
first_event, alias_of, streams = _body.first_event, _body.alias_of, _body.streams
_DEFAULTS = [header(name, value) for name, value in api.default_headers]


def auth_headers(credential: Any) -> Headers:
    """``x-api-key: <key>``."""
    return key_auth(api, credential)


def prepare(route: Route, method: str, path: str, body: dict[str, Any] | None,
            raw: bytes | None, stream: bool, headers: Headers, credential: Any,
            auth: Headers) -> Prepared:
    """base_url + path, the route's model and extra in the body, the route's key, and
    the default ``anthropic-version`` when the caller sent none."""
    url, out, content = prepare_json(route, path, body, raw, stream, headers, auth)
    for default in _DEFAULTS:
        if default[1] not in map(header_name, out):
            out.append(default)
    return url, out, content


def error_body(status: int, message: str) -> bytes:
    """Anthropic's error shape (the SDK raises NotFoundError, BadRequestError...)."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return dumps({"type": "error", "error": {"type": kind, "message": message}})


def sdk(http_client: Any, aio: bool, options: dict[str, Any]) -> Any:
    """``anthropic.Anthropic`` (``AsyncAnthropic`` when `aio`)."""
    return official_sdk("anthropic", "AsyncAnthropic" if aio else "Anthropic", http_client,
                        options)


def usage_tokens(usage: Any) -> Tokens | None:
    """``input_tokens`` excludes the cache (Messages, as Bedrock returns it too):
    aigw.client.usage.anthropic_tokens."""
    return anthropic_tokens(usage)
