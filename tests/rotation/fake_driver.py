"""A FakeDriver implementing the real Driver protocol over an in-memory provider.

`FakeKeys` is the provider's side (its keys, who used which when); `FakeDriver`
is what aigw sees. Unit tests of the state machine use it instead of mocks, and
the driver contract test runs it next to the real drivers.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from aigw.errors import RotationError
from aigw.rotation.drivers.base import DriverSpec, KeyInfo, Minted, SecretInput


@dataclass
class FakeKey:
    """One provider-side key."""

    value: str = field(repr=False)
    label: str
    created_at: float
    active: bool = True
    last_used: float | None = None


class FakeKeys:
    """The provider: live keys by id, with use tracking and fault switches."""

    def __init__(self) -> None:
        self.keys: dict[str, FakeKey] = {}
        self.lock = threading.Lock()
        self.fail_verify = False
        self.minted = 0

    def add(self, label: str = "existing") -> tuple[str, str]:
        """A key made outside aigw: (id, value)."""
        key_id = "fk_" + secrets.token_hex(6)
        value = "fake-" + secrets.token_urlsafe(20)
        with self.lock:
            self.keys[key_id] = FakeKey(value, label, time.time())
        return key_id, value

    def use(self, value: str) -> bool:
        """A consumer call with VALUE: True when accepted (records last use)."""
        with self.lock:
            for key in self.keys.values():
                if key.value == value and key.active:
                    key.last_used = time.time()
                    return True
        return False

    def valid(self, value: str) -> bool:
        """True when VALUE is a live, active key."""
        return any(k.value == value and k.active for k in self.keys.values())


class FakeDriver:
    """The Driver protocol over `FakeKeys`."""

    name: ClassVar[str] = "fake"
    can_mint: ClassVar[bool] = True
    can_disable: ClassVar[bool] = True
    can_revoke: ClassVar[bool] = True
    reports_last_used: ClassVar[bool] = True

    def __init__(self, provider: FakeKeys, spec: DriverSpec | None = None) -> None:
        self.provider = provider
        self.spec = spec

    @classmethod
    def factory(cls, provider: FakeKeys):  # type: ignore[no-untyped-def]
        """A DriverFactory building FakeDrivers over PROVIDER (whatever the catalog says)."""
        def build(name: str, spec: DriverSpec, secret_input: SecretInput) -> FakeDriver:
            return cls(provider, spec)
        return build

    def inventory(self) -> list[str]:
        """Ids of every key."""
        return sorted(self.provider.keys)

    def mint(self, label: str, keep: Sequence[str]) -> Minted:
        """A new active key named LABEL."""
        key_id, value = self.provider.add(label)
        self.provider.minted += 1
        return Minted(key_id, {"api_key": value})

    def find_minted(self, label_prefix: str, preexisting: Sequence[str]) -> list[str]:
        """Keys whose label starts with LABEL_PREFIX."""
        return [i for i, k in self.provider.keys.items() if k.label.startswith(label_prefix)]

    def identify(self, secret: Mapping[str, str]) -> str | None:
        """The id of the key with this value."""
        return next((i for i, k in self.provider.keys.items()
                     if k.value == secret.get("api_key")), None)

    def verify(self, secret: Mapping[str, str]) -> str:
        """Accepted unless `fail_verify` is set or the key is not live."""
        if self.provider.fail_verify or not self.provider.valid(secret.get("api_key", "")):
            raise RotationError("fake provider rejected the key")
        return "fake: ok"

    def last_used(self, key_id: str) -> float | None:
        """Last use of the key (None when unknown)."""
        key = self.provider.keys.get(key_id)
        return key.last_used if key else None

    def disable(self, key_id: str) -> None:
        """Deactivate."""
        if key_id in self.provider.keys:
            self.provider.keys[key_id].active = False

    def revoke(self, key_id: str) -> None:
        """Delete (gone already is fine)."""
        with self.provider.lock:
            self.provider.keys.pop(key_id, None)

    def list_keys(self) -> list[KeyInfo]:
        """Every key."""
        return [KeyInfo(i, k.label, k.created_at, k.active) for i, k in self.provider.keys.items()]
