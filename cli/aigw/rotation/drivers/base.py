"""The rotation driver protocol: what aigw asks of a provider to rotate one key slot.

A driver mints a key, verifies it works, reports when keys were last used,
disables and revokes keys, and finds keys it minted but aigw never recorded
(a crash between minting and the journal write). `manual` cannot mint: the
operator supplies the key through `SecretInput`. Drivers raise `RotationError`
with a message that names key ids at most, never values.

Drivers are built by `build_driver(name, spec, secret_input)` from the one
registry (`aigw.drivers.DRIVERS`); tests pass their own factory.
"""

from __future__ import annotations

import functools
import re
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from aigw.drivers import DRIVERS, load_driver_class
from aigw.errors import RotationError


@dataclass(frozen=True)
class DriverSpec:
    """What a driver knows about its slot: names, the provider's API and the catalog params."""

    env: str
    provider: str
    slot: str
    api: str
    base_url: str | None
    params: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[str, ...] = ("api_key",)

    @property
    def slot_id(self) -> str:
        """`prod/openai/default`."""
        return f"{self.env}/{self.provider}/{self.slot}"


@dataclass(frozen=True)
class Minted:
    """A new key: its provider-side id (None when the provider has none) and its value."""

    key_id: str | None
    secret: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class KeyInfo:
    """A provider-side key, as listed (never its value)."""

    key_id: str
    label: str = ""
    created_at: float | None = None
    active: bool = True


class SecretInput(Protocol):
    """Asks the operator for a key: returns one value per field (never echoed)."""

    def __call__(self, prompt: str, fields: Sequence[str]) -> dict[str, str]:
        """Return {field: value} for FIELDS, PROMPT saying which slot it is for."""
        ...


class VerifySkipped(str):
    """What `Driver.verify` returns when it checked nothing; the text says why.

    The state machine records such a step as `verify_skipped`, never `verified`.
    """


def no_secret_input(prompt: str, fields: Sequence[str]) -> dict[str, str]:
    """A SecretInput for runs that must not ask anyone (raises)."""
    raise RotationError(f"{prompt}: this driver needs the new key from the operator",
                        hint="run interactively, or pipe the key on stdin")


@runtime_checkable
class Driver(Protocol):
    """One provider's key operations for one slot."""

    name: ClassVar[str]
    can_mint: ClassVar[bool]        # False: the operator supplies new keys
    can_disable: ClassVar[bool]     # a reversible step before revoking
    can_revoke: ClassVar[bool]      # False: the operator revokes by hand
    reports_last_used: ClassVar[bool]

    def inventory(self) -> list[str]:
        """Ids of keys that exist before minting (used to spot unrecorded ones later)."""
        ...

    def mint(self, label: str, keep: Sequence[str]) -> Minted:
        """Create a key named LABEL (when the provider names keys); never touch KEEP."""
        ...

    def find_minted(self, label_prefix: str, preexisting: Sequence[str]) -> list[str]:
        """Ids of keys this rotation minted but did not record (to be revoked)."""
        ...

    def identify(self, secret: Mapping[str, str]) -> str | None:
        """The provider-side id of the key with this value, when it can be found."""
        ...

    def verify(self, secret: Mapping[str, str]) -> str:
        """Check the key works; return how it was checked; raise RotationError if not.

        Return a `VerifySkipped` (saying why) when nothing could be checked.
        """
        ...

    def last_used(self, key_id: str) -> float | None:
        """When the key was last used (POSIX seconds), None if never or unknown."""
        ...

    def disable(self, key_id: str) -> None:
        """Make the key stop working, reversibly (only when `can_disable`)."""
        ...

    def revoke(self, key_id: str) -> None:
        """Delete the key for good; a key already gone is not an error."""
        ...

    def list_keys(self) -> list[KeyInfo]:
        """The slot's keys at the provider (for status and orphan checks)."""
        ...


DriverFactory = Callable[[str, DriverSpec, SecretInput], Driver]


def build_driver(name: str, spec: DriverSpec, secret_input: SecretInput) -> Driver:
    """Build the registered driver NAME for SPEC (each driver has `from_spec`)."""
    if name not in DRIVERS:
        raise RotationError(f"{spec.slot_id}: unknown rotation driver {name!r}",
                            hint=f"one of {', '.join(sorted(DRIVERS))}")
    driver: Driver = load_driver_class(name).from_spec(spec, secret_input)
    return driver


def param(spec: DriverSpec, name: str, default: Any = None, *, required: bool = False) -> Any:
    """A driver parameter from the catalog (`rotation.params`), with a clear error if missing."""
    value = spec.params.get(name, default)
    if required and value in (None, ""):
        raise RotationError(f"{spec.slot_id}: rotation.params.{name} is required by this driver",
                            hint=f"add it under providers.{spec.provider}.rotation.params")
    return value


def verify_with_retries(spec: DriverSpec, check: Callable[[], str | None]) -> None:
    """Call CHECK until it returns None (the key works) or the attempts run out.

    CHECK returns why the key does not work yet. New keys may take a moment to
    work (IAM is eventually consistent), so drivers retry: `verify_attempts`
    (default 5) tries, `verify_delay` (default 1 s) apart, from the catalog params.
    """
    attempts = max(1, int(param(spec, "verify_attempts", 5)))
    delay = float(param(spec, "verify_delay", 1.0))
    why = "not checked"
    for i in range(attempts):
        why_not = check()
        if why_not is None:
            return
        why = why_not
        if i + 1 < attempts:
            time.sleep(delay)
    raise RotationError(f"{spec.slot_id}: the new key does not work: {why}")


@functools.cache
def _tls() -> ssl.SSLContext:
    # Building a TLS context (loading the CA bundle) costs ~0.1 s: do it once per process.
    return httpx.create_ssl_context()


def http_client(spec: DriverSpec, base_url: str = "") -> httpx.Client:
    """An httpx client for a driver (TLS verified; `timeout` param, default 30 s)."""
    return httpx.Client(base_url=base_url, timeout=float(param(spec, "timeout", 30.0)),
                        verify=_tls())


@dataclass(frozen=True)
class AdminApi:
    """A provider's key-management API as a driver calls it: an HTTP failure or a non-2xx
    answer becomes a RotationError naming the slot, the call and the provider's own
    message, with the admin key and anything shaped like a key (KEY_PATTERN) masked."""

    http: httpx.Client
    label: str  # "OpenAI admin API"
    slot_id: str
    headers: Mapping[str, str]
    admin_key: str
    key_pattern: re.Pattern[str]
    key_mask: str

    def call(self, method: str, url: str, *, ok404: bool = False, **kw: Any) -> Any:
        """The JSON answer of METHOD URL (None for a 404 when OK404)."""
        try:
            resp = self.http.request(method, url, headers=dict(self.headers), **kw)
        except httpx.HTTPError as exc:
            raise RotationError(f"{self.slot_id}: {self.label} {method} {url} failed "
                                f"({type(exc).__name__})") from None
        if resp.status_code == 404 and ok404:
            return None
        if not resp.is_success:
            raise RotationError(f"{self.slot_id}: {self.label} {method} {url}: "
                                f"HTTP {resp.status_code} {self.said(resp)}".rstrip())
        return resp.json()

    def said(self, resp: httpx.Response) -> str:
        """The provider's error message, masked and cut to 200 characters."""
        try:
            text = str(resp.json().get("error", {}).get("message", ""))
        except (ValueError, AttributeError):
            text = ""
        return self.key_pattern.sub(self.key_mask, text.replace(self.admin_key, "***"))[:200]
