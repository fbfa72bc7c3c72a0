"""Every fact the client knows about a wire API, in one table (docs/client.md#wire-apis).

A route's ``api`` names its wire API; each belongs to one *family*, the request
shape its callers speak (an alias's routes all share one family):

- ``openai``: OpenAI chat completions, Responses, embeddings...; ``Authorization:
  Bearer <key>``; URL = route base_url + the SDK's path (``/chat/completions``).
- ``anthropic``: Anthropic Messages; ``x-api-key`` and ``anthropic-version``;
  URL = route base_url + the SDK's path (``/v1/messages``).
- ``bedrock``: Claude on Amazon Bedrock through InvokeModel (the Messages body,
  ``model`` in the URL) and invoke-with-response-stream (AWS event-stream frames,
  re-emitted as Anthropic SSE); SigV4 from an AWS credentials file.
- ``bedrock-api-key``: the same, with a Bedrock API key as ``Bearer``.

This module is pure: it prepares requests and never sends one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from urllib.parse import quote

try:  # optional accelerator: the same JSON, several times faster
    import orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    orjson = None  # type: ignore[assignment]

from .keys import Parse, parse_token
from .sigv4 import AwsCredentials, parse_aws_credentials, sign

OPENAI, ANTHROPIC = "openai", "anthropic"
FAMILIES = (OPENAI, ANTHROPIC)
# The Messages API version a caller gets when it sends none (the SDK always sends one).
ANTHROPIC_VERSION = "2023-06-01"
BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"
BEDROCK_ENDPOINT = "https://bedrock-runtime.{region}.amazonaws.com"
BEDROCK_SERVICE = "bedrock"


# Headers travel as httpx keeps them: (name as sent, lower-case name, value), all
# bytes, so neither the SDK's request nor ours is normalised again per request.
Header = tuple[bytes, bytes, bytes]
Headers = list[Header]
header_name = itemgetter(1)  # a triple's lower-case name
name_value = itemgetter(1, 2)  # (lower-case name, value)


def header(name: str, value: str | bytes) -> Header:
    """One header triple; `name` is lower case already."""
    raw = name.encode("ascii")
    return raw, raw, value if isinstance(value, bytes) else value.encode("latin-1")


def headers_of(items: Any) -> Headers:
    """Header triples from (name, value) pairs of str or bytes."""
    out = []
    for k, v in items:
        raw = k if isinstance(k, bytes) else k.encode("ascii")
        out.append((raw, raw.lower(), v if isinstance(v, bytes) else v.encode("latin-1")))
    return out


def _names(*names: str) -> frozenset[bytes]:
    return frozenset(n.encode() for n in names)


# Headers a caller's SDK sets that aigw replaces per route.
_DROP = _names("host", "content-length", "authorization", "x-api-key", "api-key",
               "connection", "x-aigw-alias", "x-aigw-session")
# A stream is read as it comes: ask for it uncompressed.
_DROP_STREAM = _DROP | _names("accept-encoding")
_BEDROCK_DROP = _DROP_STREAM | _names("anthropic-version", "anthropic-beta", "content-type",
                                      "accept")
_VERSION = b"anthropic-version"
_BETA = b"anthropic-beta"
_DEFAULT_VERSION = header("anthropic-version", ANTHROPIC_VERSION)


class BadRequest(Exception):
    """The request cannot be sent on this route (e.g. a path Bedrock has no API for)."""


@dataclass(frozen=True, slots=True)
class Wire:
    """One wire API: its family, how its secret is stored and how it authenticates."""

    name: str
    family: str
    secret: str  # "token": the key file holds one key; "aws": an AWS credentials file
    auth: str  # "bearer", "x-api-key" or "sigv4"
    needs_base_url: bool

    @property
    def parse_secret(self) -> Parse:
        """Turns a key file's text into (credential, fingerprint), None if empty."""
        return parse_aws_credentials if self.secret == "aws" else parse_token

    @property
    def is_bedrock(self) -> bool:
        """Bedrock InvokeModel: model in the URL, event-stream answers."""
        return not self.needs_base_url


WIRES: dict[str, Wire] = {
    "openai": Wire("openai", OPENAI, "token", "bearer", True),
    "anthropic": Wire("anthropic", ANTHROPIC, "token", "x-api-key", True),
    "bedrock": Wire("bedrock", ANTHROPIC, "aws", "sigv4", False),
    "bedrock-api-key": Wire("bedrock-api-key", ANTHROPIC, "token", "bearer", False),
}


def merged_body(body: dict[str, Any], model: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The caller's body with the route's model; the route's `extra` fills keys it lacks."""
    if extra:
        out = {k: v for k, v in extra.items() if k not in body}
        out.update(body)
        out["model"] = model
        return out
    return {**body, "model": model}  # "model" keeps its place


def _dumps(body: dict[str, Any]) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(body)
        except TypeError:
            pass  # what orjson refuses (int keys, big ints...), json may still encode
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# Decode a JSON body (bytes; ValueError when it is not JSON: orjson.JSONDecodeError is one).
loads: Callable[[bytes], Any] = orjson.loads if orjson is not None else json.loads


def auth_headers(wire: Wire, credential: Any) -> Headers:
    """The auth headers a key-file credential gives on `wire` ([] for SigV4, which signs
    each request). Callers cache them per route and credential."""
    if wire.auth == "x-api-key":
        return [header("x-api-key", credential)]
    if wire.auth == "bearer":
        return [header("authorization", "Bearer " + credential)]
    return []


def prepare(route: Any, wire: Wire, method: str, path: str, body: dict[str, Any] | None,
            raw: bytes | None, stream: bool, headers: Headers, credential: Any,
            auth: Headers) -> tuple[str, Headers, bytes]:
    """The URL, headers and body to send to one route (a config `Route`) for one request.

    `wire` is ``route.wire``, `auth` is ``auth_headers(wire, credential)``. Raises
    BadRequest when the route's API has no such endpoint.
    """
    if not wire.needs_base_url:  # Bedrock (`Wire.is_bedrock`)
        return _prepare_bedrock(wire, route, method, path, body, stream, headers,
                                credential, auth)
    drop = _DROP_STREAM if stream else _DROP
    out = [h for h in headers if h[1] not in drop]
    if body is None:
        content = raw or b""
    elif route.extra:
        content = _dumps(merged_body(body, route.model, route.extra))
    else:  # (merged_body without its call: "model" keeps its place)
        content = _dumps({**body, "model": route.model})
    out += auth
    if wire.auth == "x-api-key" and _VERSION not in map(header_name, out):
        out.append(_DEFAULT_VERSION)
    return route.base_url + path, out, content


_JSON = header("content-type", "application/json")
_ACCEPT = {False: header("accept", "application/json"),
           True: header("accept", "application/vnd.amazon.eventstream")}


def _prepare_bedrock(wire: Wire, route: Any, method: str, path: str,
                     body: dict[str, Any] | None, stream: bool, headers: Headers,
                     credential: Any, auth: Headers) -> tuple[str, Headers, bytes]:
    if path.split("?", 1)[0] != "/v1/messages" or method != "POST" or body is None:
        raise BadRequest(f"Bedrock serves only POST /v1/messages here, not {method} {path}")
    data = merged_body(body, route.model, route.extra)
    del data["model"]
    data.pop("stream", None)
    data.setdefault("anthropic_version", BEDROCK_ANTHROPIC_VERSION)
    betas = [h[2].decode("latin-1") for h in headers if h[1] == _BETA]
    if betas:
        data.setdefault("anthropic_beta", [b.strip() for v in betas for b in v.split(",")])
    content = _dumps(data)
    action = "invoke-with-response-stream" if stream else "invoke"
    url = f"{route.base_url}/model/{quote(route.model, safe=':;')}/{action}"
    out = [h for h in headers if h[1] not in _BEDROCK_DROP]
    out += (_JSON, _ACCEPT[stream])
    if wire.auth == "sigv4":
        assert isinstance(credential, AwsCredentials)
        out += headers_of(sign("POST", url, content, credential, route.aws_region,
                               BEDROCK_SERVICE))
    else:
        out += auth
    return url, out, content


def bedrock_base_url(region: str) -> str:
    """The Bedrock runtime endpoint of an AWS region."""
    return BEDROCK_ENDPOINT.format(region=region)


def error_body(family: str | None, status: int, message: str) -> bytes:
    """An error answer in the family's own shape, so its SDK raises its own exception."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    if family == ANTHROPIC:
        return _dumps({"type": "error", "error": {"type": kind, "message": message}})
    code = "model_not_found" if status == 404 else kind
    return _dumps({"error": {"message": message, "type": "invalid_request_error",
                             "param": "model", "code": code}})
