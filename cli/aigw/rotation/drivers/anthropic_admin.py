"""`anthropic-admin`: the operator pastes the new key; aigw retires the old one via the Admin API.

Anthropic's Admin API lists, reads and updates API keys but cannot create one
(Console > Settings > API keys does). So, as with `manual`, the operator
pastes the new key (stdin, never argv); aigw finds its id in the organization,
verifies it (GET `<base_url>/v1/models` with `x-api-key` + `anthropic-version`,
and the key must be an active key of the organization, in `workspace_id` when
the catalog names one), promotes it, waits for evidence (acknowledgements, or
grace + `--finish`: the Admin API reports no last use), then sets the old key
`inactive` (reversible) and, at revocation, `archived` (for good).

A key is found by its `partial_key_hint` (`sk-ant-api03-R2D...igAA`, the value's
first 16 and last 4 characters) when exactly one non-archived key of the
organization matches; the id is journaled, so the next rotation knows its old
key's id without matching again. A key aigw did not create is never archived
unless it was promoted into the slot: an aborted rotation leaves the pasted key
to the operator (docs/rotation.md).

Params: `admin_key_env` (default `ANTHROPIC_ADMIN_KEY`: the *name* of the variable
holding an Admin key, `sk-ant-admin...`, never the key), `admin_base_url` (default
`https://api.anthropic.com`), `workspace_id` (optional), `verify_url` (default
`<base_url>/v1/models`), `timeout`, `verify_attempts`, `verify_delay`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from aigw.apis import ANTHROPIC_VERSION
from aigw.errors import RotationError
from aigw.rotation.drivers.base import (
    AdminApi,
    DriverSpec,
    KeyInfo,
    Minted,
    SecretInput,
    http_client,
    param,
    verify_with_retries,
)
from aigw.rotation.drivers.manual import check_url

DEFAULT_ADMIN_URL = "https://api.anthropic.com"
DEFAULT_ADMIN_KEY_ENV = "ANTHROPIC_ADMIN_KEY"
PAGE_SIZE = 1000  # the API's maximum: one request for most organizations
_SK = re.compile(r"sk-ant-[A-Za-z0-9_\-]{4,}")


class AnthropicAdminDriver:
    """Operator-supplied keys; old keys deactivated and archived through the Admin API."""

    name: ClassVar[str] = "anthropic-admin"
    can_mint: ClassVar[bool] = False
    can_disable: ClassVar[bool] = True
    can_revoke: ClassVar[bool] = True
    reports_last_used: ClassVar[bool] = False

    def __init__(self, spec: DriverSpec, admin_key: str, secret_input: SecretInput, *,
                 http: httpx.Client | None = None) -> None:
        """HTTP (optional) is a client whose base URL is the Admin API's root."""
        self.spec = spec
        self.secret_input = secret_input
        base = str(param(spec, "admin_base_url", DEFAULT_ADMIN_URL)).rstrip("/")
        self.http = http or http_client(spec, base)
        self._api = AdminApi(self.http, "Anthropic Admin API", spec.slot_id,
                             {"x-api-key": admin_key, "anthropic-version": ANTHROPIC_VERSION},
                             admin_key, _SK, "sk-ant-***")
        self.workspace = param(spec, "workspace_id")
        self.verify_url = (param(spec, "verify_url")
                           or f"{(spec.base_url or DEFAULT_ADMIN_URL).rstrip('/')}/v1/models")

    @classmethod
    def from_spec(cls, spec: DriverSpec, secret_input: SecretInput) -> AnthropicAdminDriver:
        """Build from the catalog; the Admin key comes from the variable `admin_key_env`."""
        var = str(param(spec, "admin_key_env", DEFAULT_ADMIN_KEY_ENV))
        key = os.environ.get(var)
        if not key:
            raise RotationError(f"{spec.slot_id}: ${var} is not set (an Anthropic Admin key)",
                                hint="create one under Console > Settings > Admin keys")
        return cls(spec, key, secret_input)

    # -- HTTP ----------------------------------------------------------------
    def _call(self, method: str, path: str, *, ok404: bool = False, **kw: Any) -> Any:
        return self._api.call(method, f"/v1/organizations/api_keys{path}", ok404=ok404, **kw)

    def _keys(self) -> Iterator[dict[str, Any]]:
        """Every non-archived key (of the workspace, when set), following `after_id`."""
        after: str | None = None
        while True:
            query: dict[str, Any] = {"limit": PAGE_SIZE}
            if self.workspace:
                query["workspace_id"] = self.workspace
            if after:
                query["after_id"] = after
            page = self._call("GET", "", params=query) or {}
            data = page.get("data") or []
            yield from (k for k in data if k.get("status") != "archived")
            if not page.get("has_more") or not data:
                return
            after = page.get("last_id") or data[-1].get("id")

    def _get(self, key_id: str) -> dict[str, Any] | None:
        got: dict[str, Any] | None = self._call("GET", f"/{key_id}", ok404=True)
        return got

    def _set_status(self, key_id: str, status: str) -> None:
        self._call("POST", f"/{key_id}", json={"status": status})

    # -- Driver --------------------------------------------------------------
    def inventory(self) -> list[str]:
        """Not needed: aigw creates no keys."""
        return []

    def mint(self, label: str, keep: Sequence[str]) -> Minted:
        """Ask the operator for the new key (never echoed); its id when the org has it."""
        secret = dict(self.secret_input(f"new key for {self.spec.slot_id}", self.spec.fields))
        return Minted(self.identify(secret) if secret.get("api_key") else None, secret)

    def find_minted(self, label_prefix: str, preexisting: Sequence[str]) -> list[str]:
        """Nothing: aigw creates no keys at Anthropic."""
        return []

    def identify(self, secret: Mapping[str, str]) -> str | None:
        """The id of the one non-archived key whose `partial_key_hint` fits the value."""
        value = secret.get("api_key") or ""
        hits = []
        for key in self._keys():
            head, sep, tail = str(key.get("partial_key_hint") or "").partition("...")
            if (sep and head and tail and len(value) > len(head) + len(tail)
                    and value.startswith(head) and value.endswith(tail)):
                hits.append(str(key["id"]))
        return hits[0] if len(hits) == 1 else None

    def verify(self, secret: Mapping[str, str]) -> str:
        """GET /v1/models with the key, and the key is an active key of the organization."""
        headers = {"x-api-key": secret.get("api_key", ""), "anthropic-version": ANTHROPIC_VERSION}
        url = str(self.verify_url)
        verify_with_retries(self.spec, lambda: check_url(self.http, url, headers))
        key_id = self.identify(secret)
        where = f" in workspace {self.workspace}" if self.workspace else ""
        if key_id is None:
            raise RotationError(
                f"{self.spec.slot_id}: the new key works but is not a key of the "
                f"organization the Admin key manages{where} (no single key matches its hint)",
                hint="paste a key created in that organization's Console")
        info = self._get(key_id) or {}
        if info.get("status") != "active":
            raise RotationError(f"{self.spec.slot_id}: the new key {key_id} is "
                                f"{info.get('status', 'gone')}, not active")
        return f"GET {url}: ok; key {key_id} active{where}"

    def last_used(self, key_id: str) -> None:
        """Not reported by the Admin API."""
        return None

    def disable(self, key_id: str) -> None:
        """Set the key `inactive` (reversible in the Console); archived or gone is fine."""
        info = self._get(key_id)
        if info is not None and info.get("status") == "active":
            self._set_status(key_id, "inactive")

    def revoke(self, key_id: str) -> None:
        """Archive the key (deactivating it first); archived already or gone is fine."""
        info = self._get(key_id)
        if info is None or info.get("status") == "archived":
            return
        if info.get("status") == "active":
            self._set_status(key_id, "inactive")
        self._set_status(key_id, "archived")

    def list_keys(self) -> list[KeyInfo]:
        """The organization's (or workspace's) keys that are not archived."""
        return [KeyInfo(str(k["id"]), str(k.get("name", "")), _epoch(k.get("created_at")),
                        k.get("status") == "active") for k in self._keys()]


def _epoch(stamp: Any) -> float | None:
    """RFC 3339 -> POSIX seconds (None when absent or unreadable)."""
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
