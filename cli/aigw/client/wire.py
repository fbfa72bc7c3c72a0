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
from dataclasses import dataclass
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


def _both(*names: str) -> frozenset[str | bytes]:
    """Header names as str and bytes (SDK requests carry raw bytes, the dict API str)."""
    return frozenset([*names, *(n.encode() for n in names)])


# Headers a caller's SDK sets that aigw replaces per route (lower case).
_DROP = _both("host", "content-length", "authorization", "x-api-key", "api-key",
              "connection", "x-aigw-alias", "x-aigw-session")
# A stream is read as it comes: ask for it uncompressed.
_DROP_STREAM = _DROP | _both("accept-encoding")
_BEDROCK_DROP = _DROP_STREAM | _both("anthropic-version", "anthropic-beta", "content-type",
                                     "accept")
_VERSION = _both("anthropic-version")
_BETA = _both("anthropic-beta")

Headers = list[tuple[Any, Any]]  # (name, value) as str or bytes


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
    else:
        out = dict(body)
    out["model"] = model
    return out


def _dumps(body: dict[str, Any]) -> bytes:
    if orjson is not None:
        try:
            return orjson.dumps(body)
        except TypeError:
            pass  # what orjson refuses (int keys, big ints...), json may still encode
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def loads(raw: bytes) -> Any:
    """Decode a JSON body (ValueError when it is not JSON)."""
    if orjson is not None:
        return orjson.loads(raw)  # orjson.JSONDecodeError is a ValueError
    return json.loads(raw)


def prepare(route: Any, method: str, path: str, body: dict[str, Any] | None,
            raw: bytes | None, stream: bool, headers: Headers,
            credential: Any) -> tuple[str, Headers, bytes]:
    """The URL, headers and body to send to one route (a config `Route`) for one request.

    Raises BadRequest when the route's API has no such endpoint.
    """
    wire: Wire = route.wire
    if wire.is_bedrock:
        return _prepare_bedrock(wire, route, method, path, body, stream, headers, credential)
    drop = _DROP_STREAM if stream else _DROP
    out = [(k, v) for k, v in headers if k.lower() not in drop]
    content = _dumps(merged_body(body, route.model, route.extra)) if body is not None \
        else (raw or b"")
    if wire.auth == "x-api-key":
        out.append(("x-api-key", credential))
        if not any(k.lower() in _VERSION for k, _ in out):
            out.append(("anthropic-version", ANTHROPIC_VERSION))
    else:
        out.append(("authorization", "Bearer " + credential))
    return route.base_url + path, out, content


def _prepare_bedrock(wire: Wire, route: Any, method: str, path: str,
                     body: dict[str, Any] | None, stream: bool, headers: Headers,
                     credential: Any) -> tuple[str, Headers, bytes]:
    if path.split("?", 1)[0] != "/v1/messages" or method != "POST" or body is None:
        raise BadRequest(f"Bedrock serves only POST /v1/messages here, not {method} {path}")
    data = merged_body(body, route.model, route.extra)
    del data["model"]
    data.pop("stream", None)
    data.setdefault("anthropic_version", BEDROCK_ANTHROPIC_VERSION)
    betas = [v.decode() if isinstance(v, bytes) else v for k, v in headers
             if k.lower() in _BETA]
    if betas:
        data.setdefault("anthropic_beta", [b.strip() for v in betas for b in v.split(",")])
    content = _dumps(data)
    action = "invoke-with-response-stream" if stream else "invoke"
    url = f"{route.base_url}/model/{quote(route.model, safe=':;')}/{action}"
    out = [(k, v) for k, v in headers if k.lower() not in _BEDROCK_DROP]
    out.append(("content-type", "application/json"))
    out.append(("accept", "application/vnd.amazon.eventstream" if stream
                else "application/json"))
    if wire.auth == "sigv4":
        assert isinstance(credential, AwsCredentials)
        out.extend(sign("POST", url, content, credential, route.aws_region, BEDROCK_SERVICE))
    else:
        out.append(("authorization", "Bearer " + credential))
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
