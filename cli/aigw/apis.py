"""The one table of wire APIs: the data every part of aigw reads (docs/catalog.md#wire-apis-and-families).

A provider's ``api`` names the wire protocol its endpoint speaks. Each API
belongs to one *family*: the request shape a caller's SDK speaks. An alias's
routes must all share one family (``aigw validate`` checks it) because aigw
fails over underneath the caller's SDK; it does not translate between shapes.

This module is data only and sits at the bottom layer: it imports nothing but
the standard library, so ``aigw validate`` reads it without loading httpx, and
the client runtime (``aigw.client``) imports it too. The client's behaviour per
API (request preparation, streams, error bodies, SDKs) lives in one module per
API under ``aigw/client/wires/``, registered against a row of this table
(docs/architecture.md#adding-a-wire-api).
"""

from __future__ import annotations

from dataclasses import dataclass

API_KEY_FIELDS = ("api_key",)
AWS_FIELDS = ("aws_access_key_id", "aws_secret_access_key")
OPENAI, ANTHROPIC = "openai", "anthropic"
# The Messages API version a request carries when its caller sends none.
ANTHROPIC_VERSION = "2023-06-01"
# How a key is presented: `Authorization: Bearer <key>` ("bearer"), the key as the value
# of the API's `key_header` ("header"), or a signature per request ("sigv4").
AUTH_KINDS = ("bearer", "header", "sigv4")
# How a 2xx streaming answer arrives: Server-Sent Events, or AWS event-stream frames.
STREAM_FORMATS = ("sse", "aws-eventstream")


@dataclass(frozen=True)
class Api:
    """One wire API: its family, its slot's secret fields, how it authenticates and
    streams, whether a provider must give a base URL, and its LiteLLM prefix."""

    name: str
    family: str
    secret_fields: tuple[str, ...]
    auth: str  # one of AUTH_KINDS
    needs_base_url: bool
    litellm_prefix: str
    stream: str = "sse"  # one of STREAM_FORMATS
    example_base_url: str = ""
    # The provider `extra` key that names the AWS region (LiteLLM's name for it).
    region_extra: str | None = None
    # The header holding the key when `auth` is "header" (lower case).
    key_header: str = ""
    # Headers a request carries unless its caller sets them (lower-case name, value).
    default_headers: tuple[tuple[str, str], ...] = ()
    # The OTel `gen_ai.provider.name` of every endpoint of this API ("": by host, else
    # the catalog's provider name; an OpenAI-compatible API has many providers).
    otel_provider: str = ""

    @property
    def is_aws(self) -> bool:
        """True when the slot holds AWS access keys (rendered as a credentials file)."""
        return self.secret_fields == AWS_FIELDS

    def key_headers(self, key: str, header: str | None = None) -> dict[str, str]:
        """The headers presenting `key` to this API (`header` overrides the header name:
        `Authorization` gets ``Bearer <key>``, any other the key itself)."""
        if header is None:
            header = self.key_header if self.auth == "header" else "Authorization"
        headers = {header: f"Bearer {key}" if header.lower() == "authorization" else key}
        headers.update(self.default_headers)
        return headers


APIS: dict[str, Api] = {a.name: a for a in (
    Api(OPENAI, OPENAI, API_KEY_FIELDS, "bearer", True, "openai",
        example_base_url="https://api.openai.com/v1"),
    Api(ANTHROPIC, ANTHROPIC, API_KEY_FIELDS, "header", True, "anthropic",
        example_base_url="https://api.anthropic.com", key_header="x-api-key",
        default_headers=(("anthropic-version", ANTHROPIC_VERSION),), otel_provider="anthropic"),
    Api("bedrock", ANTHROPIC, AWS_FIELDS, "sigv4", False, "bedrock", "aws-eventstream",
        region_extra="aws_region_name", otel_provider="aws.bedrock"),
    Api("bedrock-api-key", ANTHROPIC, API_KEY_FIELDS, "bearer", False, "bedrock",
        "aws-eventstream", region_extra="aws_region_name", otel_provider="aws.bedrock"),
)}
# What the catalog accepts (its `api:` field is a Literal of these names).
API_NAMES = tuple(APIS)
FAMILIES = tuple(dict.fromkeys(a.family for a in APIS.values()))


def register(api: Api) -> None:
    """Add a wire API's row (the client's `wires.register` calls this for a new wire).

    Raises ValueError for a name that is taken by another row, or a family that is
    neither known nor the API's own name (a family is named after its first API).
    """
    known = APIS.get(api.name)
    if known is not None and known != api:
        raise ValueError(f"wire API {api.name!r} is registered already")
    if api.family != api.name and api.family not in {a.family for a in APIS.values()}:
        raise ValueError(f"wire API {api.name!r}: family {api.family!r} is unknown "
                         "(register the family's own API first)")
    if (api.auth not in AUTH_KINDS or api.stream not in STREAM_FORMATS
            or (api.auth == "header") != bool(api.key_header)):
        raise ValueError(f"wire API {api.name!r}: auth must be one of {AUTH_KINDS} (a "
                         f"key_header exactly with 'header'), stream one of {STREAM_FORMATS}")
    APIS[api.name] = api


def secret_fields(api: str) -> tuple[str, ...]:
    """The data fields of a slot of a provider speaking `api` (docs/architecture.md)."""
    return APIS[api].secret_fields
