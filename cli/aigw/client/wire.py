"""What a wire API module provides (`Wire`), and the helpers those modules share.

A route's ``api`` names its wire API. Its data (family, secret fields, auth
kind, stream format...) is a row of `aigw.apis.APIS`; its behaviour is one
module of `aigw.client.wires` (``openai``, ``anthropic``, ``bedrock``,
``bedrock_api_key``) matching the `Wire` Protocol, the shape of pre-commit's
``Language``: a module of plain functions, registered in one dict
(`aigw.client.wires.WIRES`). What each built-in API sends is in
docs/client.md#wire-apis; adding an API is one module and one registration
(docs/architecture.md#adding-a-wire-api).

Some hooks belong to the *family* (the request shape a caller's SDK speaks):
how a request names its alias and asks to stream, the error body, the SDK
(`Family`). The module of the API a family is named after provides them too
(``openai``, ``anthropic``); ``bedrock`` needs none of its own.

This module and the wire modules are pure: they prepare requests and never
send one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

try:  # optional accelerator: the same JSON, several times faster
    import orjson
except ImportError:  # pragma: no cover - exercised when orjson is absent
    orjson = None  # type: ignore[assignment]

from aigw.apis import Api

if TYPE_CHECKING:
    from .config import Route
    from .streaming import FirstEvent
    from .usage import Tokens

# Headers travel as httpx keeps them: (name as sent, lower-case name, value), all
# bytes, so neither the SDK's request nor ours is normalised again per request.
Header = tuple[bytes, bytes, bytes]
Headers = list[Header]
header_name = itemgetter(1)  # a triple's lower-case name
name_value = itemgetter(1, 2)  # (lower-case name, value)
Prepared = tuple[str, Headers, bytes]  # (URL, headers, body) to send to one route


class BadRequest(Exception):
    """The request cannot be sent on this route (e.g. a path Bedrock has no API for)."""


class Wire(Protocol):
    """One wire API's behaviour over its data row `api` (a module of aigw.client.wires)."""

    api: Api

    def parse_secret(self, text: str) -> tuple[Any, str] | None:
        """A key file's text as (credential, fingerprint); None when it holds none."""

    def ready(self, where: str) -> None:
        """Raise ConfigError naming `where` when this client cannot call the API
        (an optional dependency is missing)."""

    def default_base_url(self, region: str) -> str:
        """The endpoint of a route with no base_url (only when not `api.needs_base_url`)."""

    def auth_headers(self, credential: Any) -> Headers:
        """The auth headers of a key-file credential ([] when each request is signed).
        The transport caches them per route and credential."""

    def prepare(self, route: Route, method: str, path: str, body: dict[str, Any] | None,
                raw: bytes | None, stream: bool, headers: Headers, credential: Any,
                auth: Headers) -> Prepared:
        """The URL, headers and body to send to `route` for one request (`body` is the
        JSON object sent, else `raw` the bytes; `auth` is ``auth_headers(credential)``).
        Raises BadRequest when the API has no such endpoint."""

    def first_event(self, content_type: str) -> FirstEvent | None:
        """A reader of a 2xx streaming answer up to its first event (converting it to
        the family's SSE), or None when an answer of `content_type` is not a stream."""


class Family(Protocol):
    """A wire family's hooks: what the caller's request shape decides, whichever route
    serves it. The module of the API the family is named after provides them."""

    def alias_of(self, path: str, body: dict[str, Any] | None) -> str | None:
        """The alias a request of this family names, when no x-aigw-alias header or
        multipart `model` field does (openai/anthropic: the body's ``model``)."""

    def streams(self, path: str, body: dict[str, Any] | None) -> bool:
        """True when a request of this family asks for a streaming answer (openai,
        anthropic: ``"stream": true`` in the body)."""

    def error_body(self, status: int, message: str) -> bytes:
        """An error answer in the family's own shape, so its SDK raises its own error."""

    def sdk(self, http_client: Any, aio: bool, options: dict[str, Any]) -> Any:
        """The family's SDK client over `http_client` (an httpx2 client whose transport
        is aigw's); `options` are the caller's keyword arguments."""

    def usage_tokens(self, usage: Any) -> Tokens | None:
        """The disjoint token classes (aigw.client.usage) of one ``usage`` object of an
        answer of this family, or None if it holds no counts: what metrics, spans and
        prices read, for every route of the family."""


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


def names(*names: str) -> frozenset[bytes]:
    """Lower-case header names as the triples hold them."""
    return frozenset(n.encode() for n in names)


# Headers a caller's SDK sets that aigw replaces per route.
DROP = names("host", "content-length", "authorization", "x-api-key", "api-key",
             "connection", "x-aigw-alias", "x-aigw-session")
# A stream is read as it comes: ask for it uncompressed.
DROP_STREAM = DROP | names("accept-encoding")


def key_auth(api: Api, credential: str) -> Headers:
    """The header presenting a key as `api` says (`bearer` or `header`)."""
    if api.auth == "header":
        return [header(api.key_header, credential)]
    return [header("authorization", "Bearer " + credential)]


def merged_body(body: dict[str, Any], model: str, extra: dict[str, Any]) -> dict[str, Any]:
    """The caller's body with the route's model; the route's `extra` fills keys it lacks."""
    if extra:
        out = {k: v for k, v in extra.items() if k not in body}
        out.update(body)
        out["model"] = model
        return out
    return {**body, "model": model}  # "model" keeps its place


def dumps(body: Any) -> bytes:
    """Compact JSON bytes (orjson when installed)."""
    if orjson is not None:
        try:
            return orjson.dumps(body)
        except TypeError:
            pass  # what orjson refuses (int keys, big ints...), json may still encode
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


# Decode a JSON body (bytes; ValueError when it is not JSON: orjson.JSONDecodeError is one).
loads: Callable[[bytes], Any] = orjson.loads if orjson is not None else json.loads


def prepare_json(route: Route, path: str, body: dict[str, Any] | None, raw: bytes | None,
                 stream: bool, headers: Headers, auth: Headers) -> Prepared:
    """The request of an API that takes the model in its JSON body at base_url + path
    (openai, anthropic): the caller's headers without the replaced ones, then `auth`."""
    drop = DROP_STREAM if stream else DROP
    out = [h for h in headers if h[1] not in drop]
    if body is None:
        content = raw or b""
    elif route.extra:
        content = dumps(merged_body(body, route.model, route.extra))
    else:  # (merged_body without its call: "model" keeps its place)
        content = dumps({**body, "model": route.model})
    out += auth
    return route.base_url + path, out, content




# What an official SDK (openai, anthropic) is built with: its base URL is replaced by
# each route's, and the key it sends is dropped by the transport, which sets the route's.
SDK_BASE_URL = "http://aigw.invalid"
PLACEHOLDER_KEY = "aigw-routes-set-the-key"
_SET_BY_AIGW = ("api_key", "base_url", "max_retries", "http_client")


def official_sdk(package: str, cls_name: str, http_client: Any,
                 options: dict[str, Any]) -> Any:
    """``package.cls_name`` (e.g. ``openai.OpenAI``) over `http_client`, its own retries
    off (aigw owns retries and failover); ClientError naming the extra when missing."""
    import importlib

    from .errors import ClientError

    try:
        module = importlib.import_module(package)
    except ImportError:
        raise ClientError(f"the {package} SDK is not installed: "
                          f"pip install 'aigw[{package}]'") from None
    for name in _SET_BY_AIGW:
        if name in options:
            raise TypeError(f"{name} is set by aigw (routes come from aigw-client.json)")
    return getattr(module, cls_name)(api_key=PLACEHOLDER_KEY, base_url=SDK_BASE_URL,
                                     max_retries=0, http_client=http_client, **options)
