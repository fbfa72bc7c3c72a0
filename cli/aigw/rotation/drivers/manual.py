"""`manual`: the operator creates the new key in the provider's console and pastes it.

aigw stages it, verifies it (GET `rotation.params.verify_url` with the key, when
given), promotes it, waits for evidence that consumers moved, and then says that
the old key may be revoked by hand. It never sees the provider's admin side, so
it cannot mint, disable, revoke or report last use. This is the path for
providers without a key API: DeepSeek, Volcengine Ark, Bailian..., and
Anthropic without an Admin key (with one, `anthropic-admin` retires the old key).

Params: `verify_url` (e.g. `https://api.deepseek.com/models`), `verify_header`
(default: the header the provider's API presents keys in, `aigw.apis`:
`Authorization` with `Bearer `, `x-api-key` for Anthropic, which also gets its
`anthropic-version`), `verify_attempts`, `verify_delay`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import httpx

from aigw.apis import APIS
from aigw.errors import RotationError
from aigw.rotation.drivers.base import (
    DriverSpec,
    KeyInfo,
    Minted,
    SecretInput,
    VerifySkipped,
    http_client,
    param,
    verify_with_retries,
)


def auth_headers(spec: DriverSpec, key: str) -> dict[str, str]:
    """The headers presenting KEY to the provider's API (`verify_header` overrides the name)."""
    return APIS[spec.api].key_headers(key, param(spec, "verify_header") or None)


def check_url(http: httpx.Client, url: str, headers: dict[str, str]) -> str | None:
    """GET URL with HEADERS: None when it answers 2xx, else why not (no values)."""
    try:
        resp = http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return f"GET {url} failed ({type(exc).__name__})"
    if resp.is_success:
        return None
    return f"GET {url} answered HTTP {resp.status_code}"


class ManualDriver:
    """Keys supplied by the operator; revocation done by hand."""

    name: ClassVar[str] = "manual"
    can_mint: ClassVar[bool] = False
    can_disable: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = False
    reports_last_used: ClassVar[bool] = False

    def __init__(self, spec: DriverSpec, secret_input: SecretInput,
                 http: httpx.Client | None = None) -> None:
        self.spec = spec
        self.secret_input = secret_input
        self.http = http or http_client(spec)

    @classmethod
    def from_spec(cls, spec: DriverSpec, secret_input: SecretInput) -> ManualDriver:
        """Build from the catalog."""
        return cls(spec, secret_input)

    def inventory(self) -> list[str]:
        """Nothing is known about the provider's keys."""
        return []

    def mint(self, label: str, keep: Sequence[str]) -> Minted:
        """Ask the operator for the new key (never echoed)."""
        secret = self.secret_input(f"new key for {self.spec.slot_id}", self.spec.fields)
        return Minted(None, dict(secret))

    def find_minted(self, label_prefix: str, preexisting: Sequence[str]) -> list[str]:
        """Nothing is minted at the provider by aigw."""
        return []

    def identify(self, secret: Mapping[str, str]) -> str | None:
        """Unknown: the provider's ids are not visible to aigw."""
        return None

    def verify(self, secret: Mapping[str, str]) -> str:
        """GET verify_url with the key, if configured; otherwise a VerifySkipped saying why."""
        url = param(self.spec, "verify_url")
        if not url:
            return VerifySkipped("no rotation.params.verify_url")
        key = secret.get("api_key")
        if not key:
            return VerifySkipped("the slot has no api_key field to present")
        headers = auth_headers(self.spec, key)
        verify_with_retries(self.spec, lambda: check_url(self.http, str(url), headers))
        return f"GET {url}: ok"

    def last_used(self, key_id: str) -> None:
        """Not reported."""
        return None

    def disable(self, key_id: str) -> None:
        """Not possible: done by hand."""
        raise RotationError(f"{self.spec.slot_id}: the manual driver cannot disable keys")

    def revoke(self, key_id: str) -> None:
        """Not possible: done by hand."""
        raise RotationError(f"{self.spec.slot_id}: the manual driver cannot revoke keys")

    def list_keys(self) -> list[KeyInfo]:
        """Nothing is known about the provider's keys."""
        return []
