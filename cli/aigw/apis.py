"""Every per-API fact the CLI uses, in one table (docs/catalog.md#wire-apis-and-families).

A provider's ``api`` names the wire protocol its endpoint speaks. Each API
belongs to one *family*: the request shape a caller's SDK speaks. An alias's
routes must all share one family (``aigw validate`` checks it) because aigw
fails over underneath the caller's SDK; it does not translate between shapes.

The client runtime keeps its own table of the same APIs (aigw.client.wire):
it must not import CLI code, and this module must not import httpx.
"""

from __future__ import annotations

from dataclasses import dataclass

API_KEY_FIELDS = ("api_key",)
AWS_FIELDS = ("aws_access_key_id", "aws_secret_access_key")


@dataclass(frozen=True)
class Api:
    """One wire API: family, secret fields, auth, base_url need, LiteLLM prefix."""

    name: str
    family: str
    secret_fields: tuple[str, ...]
    auth: str
    needs_base_url: bool
    litellm_prefix: str
    example_base_url: str = ""
    # The provider `extra` key that names the AWS region (LiteLLM's name for it).
    region_extra: str | None = None

    @property
    def is_aws(self) -> bool:
        """True when the slot holds AWS access keys (rendered as a credentials file)."""
        return self.secret_fields == AWS_FIELDS


APIS: dict[str, Api] = {a.name: a for a in (
    Api("openai", "openai", API_KEY_FIELDS, "Authorization: Bearer", True, "openai",
        "https://api.openai.com/v1"),
    Api("anthropic", "anthropic", API_KEY_FIELDS, "x-api-key + anthropic-version", True,
        "anthropic", "https://api.anthropic.com"),
    Api("bedrock", "anthropic", AWS_FIELDS, "AWS SigV4", False, "bedrock",
        region_extra="aws_region_name"),
    Api("bedrock-api-key", "anthropic", API_KEY_FIELDS, "Authorization: Bearer (Bedrock API key)",
        False, "bedrock", region_extra="aws_region_name"),
)}
API_NAMES = tuple(APIS)
FAMILIES = ("openai", "anthropic")


def secret_fields(api: str) -> tuple[str, ...]:
    """The data fields of a slot of a provider speaking `api` (docs/architecture.md)."""
    return APIS[api].secret_fields
