"""`openai`: the OpenAI API and every OpenAI-compatible endpoint (DeepSeek, Ark, Bailian...).

Chat completions, Responses, embeddings... at route base_url + the SDK's path
(``/chat/completions``), the route's ``model`` (and ``extra``) in the JSON body,
``Authorization: Bearer <key>``; streams are SSE. The family's own API: an
openai-family request names its alias in the body's ``model``, errors come back
as ``{"error": {...}}``, and the SDK is ``openai.OpenAI`` / ``AsyncOpenAI``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aigw.apis import APIS, OPENAI

from ..usage import Tokens, openai_tokens
from ..wire import Headers, Prepared, dumps, key_auth, official_sdk, prepare_json
from . import _body

if TYPE_CHECKING:
    from ..config import Route

api = APIS[OPENAI]
# The hooks shared with `anthropic` (wires/_body.py): one key per file, SSE, model in the body.
parse_secret, ready, default_base_url = _body.parse_secret, _body.ready, _body.default_base_url
first_event, alias_of, streams = _body.first_event, _body.alias_of, _body.streams


def auth_headers(credential: Any) -> Headers:
    """``Authorization: Bearer <key>``."""
    return key_auth(api, credential)


def prepare(route: Route, method: str, path: str, body: dict[str, Any] | None,
            raw: bytes | None, stream: bool, headers: Headers, credential: Any,
            auth: Headers) -> Prepared:
    """base_url + path, the route's model and extra in the body, the route's key."""
    return prepare_json(route, path, body, raw, stream, headers, auth)


def error_body(status: int, message: str) -> bytes:
    """OpenAI's error shape (the SDK raises NotFoundError, BadRequestError...)."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    code = "model_not_found" if status == 404 else kind
    return dumps({"error": {"message": message, "type": "invalid_request_error",
                            "param": "model", "code": code}})


def sdk(http_client: Any, aio: bool, options: dict[str, Any]) -> Any:
    """``openai.OpenAI`` (``AsyncOpenAI`` when `aio`)."""
    return official_sdk("openai", "AsyncOpenAI" if aio else "OpenAI", http_client, options)


def usage_tokens(usage: Any) -> Tokens | None:
    """Input totals include cached tokens (Chat Completions, Responses, DeepSeek's
    cache counts): aigw.client.usage.openai_tokens."""
    return openai_tokens(usage)
