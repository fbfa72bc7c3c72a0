"""`bedrock`: Claude on Amazon Bedrock, signed with SigV4 from an AWS credentials file.

InvokeModel takes the Messages body with ``model`` in the URL
(``/model/<id>/invoke``) and ``anthropic_version``/``anthropic_beta`` in the
body; invoke-with-response-stream answers in AWS event-stream frames, re-emitted
as the Anthropic SSE events they carry (client/eventstream.py). Only POST
``/v1/messages`` has a Bedrock equivalent. A route without base_url calls its
region's runtime endpoint. Anthropic-family (its requests' alias, error body
and SDK are the `anthropic` module's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aigw.apis import APIS

from ..sigv4 import AwsCredentials, parse_aws_credentials, require_botocore, sign
from ..streaming import EventStreamToSSE, FirstEvent
from ..wire import (
    DROP_STREAM,
    BadRequest,
    Headers,
    Prepared,
    dumps,
    header,
    headers_of,
    merged_body,
    names,
    sse_stream,
)

if TYPE_CHECKING:
    from ..config import Route

api = APIS["bedrock"]
parse_secret = parse_aws_credentials

ANTHROPIC_VERSION = "bedrock-2023-05-31"
ENDPOINT = "https://bedrock-runtime.{region}.amazonaws.com"
SERVICE = "bedrock"
EVENTSTREAM = "application/vnd.amazon.eventstream"
_DROP = DROP_STREAM | names("anthropic-version", "anthropic-beta", "content-type", "accept")
_BETA = b"anthropic-beta"
_JSON = header("content-type", "application/json")
_ACCEPT = {False: header("accept", "application/json"),
           True: header("accept", EVENTSTREAM)}


def ready(where: str) -> None:
    """SigV4 needs botocore (``pip install 'aigw[bedrock]'``)."""
    require_botocore(where)


def default_base_url(region: str) -> str:
    """The Bedrock runtime endpoint of an AWS region."""
    return ENDPOINT.format(region=region)


def auth_headers(credential: Any) -> Headers:
    """None: each request is signed (`prepare`)."""
    return []


def invoke(route: Route, method: str, path: str, body: dict[str, Any] | None,
           stream: bool, headers: Headers) -> Prepared:
    """The InvokeModel request for a Messages request, unsigned (both Bedrock wires)."""
    if path.split("?", 1)[0] != "/v1/messages" or method != "POST" or body is None:
        raise BadRequest(f"Bedrock serves only POST /v1/messages here, not {method} {path}")
    data = merged_body(body, route.model, route.extra)
    del data["model"]
    data.pop("stream", None)
    data.setdefault("anthropic_version", ANTHROPIC_VERSION)
    betas = [h[2].decode("latin-1") for h in headers if h[1] == _BETA]
    if betas:
        data.setdefault("anthropic_beta", [b.strip() for v in betas for b in v.split(",")])
    content = dumps(data)
    action = "invoke-with-response-stream" if stream else "invoke"
    url = f"{route.base_url}/model/{quote(route.model, safe=':;')}/{action}"
    out = [h for h in headers if h[1] not in _DROP]
    out += (_JSON, _ACCEPT[stream])
    return url, out, content


def prepare(route: Route, method: str, path: str, body: dict[str, Any] | None,
            raw: bytes | None, stream: bool, headers: Headers, credential: Any,
            auth: Headers) -> Prepared:
    """InvokeModel, signed with the route's AWS credentials and region."""
    url, out, content = invoke(route, method, path, body, stream, headers)
    assert isinstance(credential, AwsCredentials)
    out += headers_of(sign("POST", url, content, credential, route.aws_region, SERVICE))
    return url, out, content


def first_event(content_type: str) -> FirstEvent | None:
    """Event-stream frames, converted to Anthropic SSE (an exception frame first fails
    the stream); SSE (a proxy in front of Bedrock) by the spec's rule."""
    if EVENTSTREAM in content_type:
        return FirstEvent(conv=EventStreamToSSE())
    return sse_stream(content_type)
