"""`bedrock-api-key`: Claude on Amazon Bedrock with a Bedrock API key as ``Bearer``.

Everything as `bedrock` (InvokeModel, event-stream answers, the region's
endpoint), but the key file holds one key and no request is signed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aigw.apis import APIS

from ..keys import parse_token
from ..wire import Headers, Prepared, key_auth, nothing_to_check
from . import bedrock

if TYPE_CHECKING:
    from ..config import Route

api = APIS["bedrock-api-key"]
parse_secret = parse_token
ready = nothing_to_check
default_base_url = bedrock.default_base_url
first_event = bedrock.first_event


def auth_headers(credential: Any) -> Headers:
    """``Authorization: Bearer <Bedrock API key>``."""
    return key_auth(api, credential)


def prepare(route: Route, method: str, path: str, body: dict[str, Any] | None,
            raw: bytes | None, stream: bool, headers: Headers, credential: Any,
            auth: Headers) -> Prepared:
    """InvokeModel with the route's key."""
    url, out, content = bedrock.invoke(route, method, path, body, stream, headers)
    out += auth
    return url, out, content
