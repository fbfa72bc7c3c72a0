"""`openai-admin`: project service-account API keys through the OpenAI admin API.

Each new key is a new project service account named with the rotation's label
(`aigw-<env>-<provider>-<slot>-<run>-<attempt>`); OpenAI returns the account's
key value once, at creation. Revoking a key deletes its service account (an
account's key cannot be deleted on its own). The label lets a resumed run find
an account it created but did not record, and delete it: no orphaned keys.
`last_used_at` of the project's API keys is the evidence that consumers moved.
OpenAI has no way to disable a key, so the `old_disabled` step is skipped.

`projects: per-service`: the key of a service's own slot (`svc-<service>`, `keys:
per-service`) lives in a project of its own, `aigw-<env>-<service>`, which the driver
finds by name or creates (`POST /organization/projects`); usage by project is then
exact per service, and so are project rate limits (docs/limits.md). Shared slots
stay in `project_id`.

Params: `project_id` (required, except for per-service slots with `projects:
per-service`), `projects` (`single`, the default, or `per-service`), `admin_base_url` (default
`https://api.openai.com/v1`), `admin_key_env` (default `OPENAI_ADMIN_KEY`: the
name of the variable holding an admin key, never the key), `verify_url`
(default `<base_url>/models`), `timeout`, `verify_attempts`, `verify_delay`.
Keys found by `identify` may also be user keys (`key_...` ids): those are
revoked with `DELETE /api_keys/<id>`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from aigw.catalog.limits import find_project, service_project_name
from aigw.envvars import OPENAI_ADMIN_KEY
from aigw.errors import RotationError
from aigw.names import PER_SERVICE_SLOT_PREFIX
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

DEFAULT_ADMIN_URL = "https://api.openai.com/v1"
_SK = re.compile(r"sk-[A-Za-z0-9_\-]{4,}")


class OpenAIAdminDriver:
    """Mint, verify, revoke and watch project service-account keys."""

    name: ClassVar[str] = "openai-admin"
    can_mint: ClassVar[bool] = True
    can_disable: ClassVar[bool] = False
    can_revoke: ClassVar[bool] = True
    reports_last_used: ClassVar[bool] = True

    def __init__(self, spec: DriverSpec, admin_key: str, *,
                 http: httpx.Client | None = None) -> None:
        """HTTP (optional) is a client whose base URL is the admin API's."""
        self.spec = spec
        self.per_service = (param(spec, "projects") == "per-service"
                            and spec.slot.startswith(PER_SERVICE_SLOT_PREFIX))
        if not self.per_service:
            param(spec, "project_id", required=True)
        base = str(param(spec, "admin_base_url", DEFAULT_ADMIN_URL)).rstrip("/")
        self.http = http or http_client(spec, base)
        self._api = AdminApi(self.http, "OpenAI admin API", spec.slot_id,
                             {"Authorization": f"Bearer {admin_key}"}, admin_key, _SK, "sk-***")
        self.verify_url = param(spec, "verify_url") or f"{(spec.base_url or base).rstrip('/')}/models"

    @classmethod
    def from_spec(cls, spec: DriverSpec, secret_input: SecretInput) -> OpenAIAdminDriver:
        """Build from the catalog; the admin key comes from the variable `admin_key_env`."""
        var = str(param(spec, "admin_key_env", OPENAI_ADMIN_KEY))
        key = os.environ.get(var)
        if not key:
            raise RotationError(f"{spec.slot_id}: ${var} is not set (an OpenAI admin key)",
                                hint="create one under Organization settings > Admin keys")
        return cls(spec, key)

    @functools.cached_property
    def project(self) -> str:
        """The project holding the slot's keys: `project_id`, or the service's own
        (`projects: per-service`), found by name or created."""
        if not self.per_service:
            return str(param(self.spec, "project_id"))
        service = self.spec.slot.removeprefix(PER_SERVICE_SLOT_PREFIX)
        found = find_project(self._api.call, service_project_name(self.spec.env, service),
                             create=True)
        assert found is not None
        return found

    # -- HTTP ----------------------------------------------------------------
    def _call(self, method: str, path: str, *, ok404: bool = False, **kw: Any) -> Any:
        return self._api.call(method, f"/organization/projects/{self.project}/{path}",
                              ok404=ok404, **kw)

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            params = {"limit": 100, **({"after": after} if after else {})}
            page = self._call("GET", path, params=params)
            data = page.get("data") or []
            yield from data
            if not page.get("has_more") or not data:
                return
            after = page.get("last_id") or data[-1].get("id")

    # -- Driver --------------------------------------------------------------
    def _slot_prefix(self) -> str:
        return f"aigw-{self.spec.env}-{self.spec.provider}-{self.spec.slot}-"

    def inventory(self) -> list[str]:
        """Not needed: keys minted by aigw carry the rotation's label."""
        return []

    def mint(self, label: str, keep: Sequence[str]) -> Minted:
        """Create a service account named LABEL; its key is the new key."""
        acct = self._call("POST", "service_accounts", json={"name": label})
        value = ((acct or {}).get("api_key") or {}).get("value")
        if not value or not acct.get("id"):
            raise RotationError(f"{self.spec.slot_id}: the admin API returned no key value")
        return Minted(str(acct["id"]), {"api_key": str(value)})

    def find_minted(self, label_prefix: str, preexisting: Sequence[str]) -> list[str]:
        """Service accounts named with LABEL_PREFIX (this rotation's label)."""
        return [str(a["id"]) for a in self._pages("service_accounts")
                if str(a.get("name", "")).startswith(label_prefix)]

    def identify(self, secret: Mapping[str, str]) -> str | None:
        """Match the key against the project's redacted key values (`sk-ab...wxyz`)."""
        value = secret.get("api_key") or ""
        hits = []
        for key in self._pages("api_keys"):
            head, _, tail = str(key.get("redacted_value", "")).partition("...")
            if head and tail and value.startswith(head) and value.endswith(tail):
                owner = key.get("owner") or {}
                acct = owner.get("service_account") or {}
                hits.append(str(acct.get("id") or key.get("id")))
        return hits[0] if len(hits) == 1 else None

    def verify(self, secret: Mapping[str, str]) -> str:
        """GET `<base_url>/models` with the new key."""
        headers = {"Authorization": f"Bearer {secret.get('api_key', '')}"}
        verify_with_retries(self.spec, lambda: check_url(self.http, str(self.verify_url),
                                                         headers))
        return f"GET {self.verify_url}: ok"

    def last_used(self, key_id: str) -> float | None:
        """`last_used_at` of the key owned by service account KEY_ID (or key KEY_ID)."""
        for key in self._pages("api_keys"):
            acct = ((key.get("owner") or {}).get("service_account") or {}).get("id")
            if key_id in (key.get("id"), acct):
                used = key.get("last_used_at")
                return float(used) if used else None
        return None

    def disable(self, key_id: str) -> None:
        """OpenAI keys cannot be disabled."""
        raise RotationError(f"{self.spec.slot_id}: OpenAI keys cannot be disabled")

    def revoke(self, key_id: str) -> None:
        """Delete the service account (or a user key `key_...`); gone already is fine."""
        path = f"api_keys/{key_id}" if key_id.startswith("key_") else f"service_accounts/{key_id}"
        self._call("DELETE", path, ok404=True)

    def list_keys(self) -> list[KeyInfo]:
        """The slot's aigw-minted service accounts."""
        prefix = self._slot_prefix()
        return [KeyInfo(str(a["id"]), str(a.get("name", "")), a.get("created_at"))
                for a in self._pages("service_accounts")
                if str(a.get("name", "")).startswith(prefix)]
