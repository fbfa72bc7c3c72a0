"""KV v2 reads and check-and-set writes for the key commands, with errors mapped once.

Every write passes `cas` (the mount may require it, and rotation depends on it):
`cas=0` creates only when the entry has no version yet, `cas=N` replaces only
version N. A lost race raises `CasConflict`; every other hvac/requests failure
becomes a `VaultError` through `aigw.vault.vault_errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import hvac
import hvac.exceptions as hx

from aigw.vault import vault_errors


class CasConflict(Exception):
    """A check-and-set write lost: the entry is not at the version the writer expected."""


@dataclass(frozen=True)
class Entry:
    """One KV v2 entry: the latest data (None when deleted/destroyed) and its version."""

    data: dict[str, Any] | None
    version: int
    created: float | None = None


def parse_time(text: str | None) -> float | None:
    """OpenBao's RFC 3339 time (nanoseconds, `Z`) -> POSIX seconds; None for empty/zero."""
    if not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.fromisoformat(head + "+00:00").timestamp()
    return stamp + (float("0." + frac[:9]) if frac else 0.0)


class KV:
    """KV v2 operations on one mount (paths are relative to the mount)."""

    def __init__(self, client: hvac.Client, mount: str, addr: str | None = None,
                 redact: Sequence[str] = ()) -> None:
        self.client = client
        self.mount = mount
        self.addr = addr or str(client.url)
        self.redact = [*redact, str(client.token or "")]
        self._kv = client.secrets.kv.v2

    def _errors(self) -> Any:
        return vault_errors(self.addr, redact=self.redact)

    def read(self, path: str, *, metadata_fallback: bool = True) -> Entry | None:
        """The latest version of PATH; None when it has never been written.

        A deleted or destroyed latest version gives `Entry(None, version)` (when
        METADATA_FALLBACK), so a writer still knows which `cas` to pass.
        """
        for _ in range(3):
            with self._errors():
                try:
                    resp = self._kv.read_secret_version(path=path, mount_point=self.mount,
                                                        raise_on_deleted_version=True)
                    break
                except hx.InvalidPath:
                    pass
            if not metadata_fallback:
                return None
            meta = self.metadata(path)
            if meta is None:
                return None
            version = int(meta.get("current_version") or 0)
            info = (meta.get("versions") or {}).get(str(version)) or {}
            if info.get("destroyed") or info.get("deletion_time"):
                return Entry(None, version)
            # Written between our two reads (no deletion recorded): read the data again.
        else:
            return Entry(None, version)
        body = resp["data"]
        meta = body.get("metadata") or {}
        return Entry(dict(body.get("data") or {}), int(meta.get("version") or 0),
                     parse_time(meta.get("created_time")))

    def read_version(self, path: str, version: int) -> Entry | None:
        """Version VERSION of PATH; None when it does not exist or was deleted."""
        with self._errors():
            try:
                resp = self._kv.read_secret_version(path=path, version=version,
                                                    mount_point=self.mount,
                                                    raise_on_deleted_version=True)
            except hx.InvalidPath:
                return None
        body = resp["data"]
        meta = body.get("metadata") or {}
        return Entry(dict(body.get("data") or {}), int(meta.get("version") or version),
                     parse_time(meta.get("created_time")))

    def metadata(self, path: str) -> dict[str, Any] | None:
        """KV v2 metadata of PATH (current_version, versions...), or None."""
        with self._errors():
            try:
                return dict(self._kv.read_secret_metadata(path=path,
                                                          mount_point=self.mount)["data"])
            except hx.InvalidPath:
                return None

    def write(self, path: str, data: Mapping[str, Any], cas: int) -> int:
        """Write DATA as the next version if PATH is at version CAS; return the new version."""
        with self._errors():
            try:
                resp = self._kv.create_or_update_secret(path=path, secret=dict(data), cas=cas,
                                                        mount_point=self.mount)
            except hx.InvalidRequest as exc:
                if "check-and-set" in str(exc):
                    raise CasConflict(path) from None
                raise
        return int(resp["data"]["version"])

    def create(self, path: str, data: Mapping[str, Any]) -> int:
        """Write DATA only if PATH has no version yet (raises CasConflict otherwise)."""
        return self.write(path, data, cas=0)

    def delete_all(self, path: str) -> None:
        """Remove PATH with every version and its metadata (no error if absent)."""
        with self._errors():
            try:
                self._kv.delete_metadata_and_all_versions(path=path, mount_point=self.mount)
            except hx.InvalidPath:
                pass

    def destroy(self, path: str, versions: Sequence[int]) -> None:
        """Destroy the data of VERSIONS of PATH for good (metadata stays)."""
        if versions:
            with self._errors():
                self._kv.destroy_secret_versions(path=path, versions=list(versions),
                                                 mount_point=self.mount)

    def list(self, path: str) -> list[str]:
        """The names directly under folder PATH (folders end with `/`); [] if none."""
        with self._errors():
            try:
                resp = self._kv.list_secrets(path=path, mount_point=self.mount)
            except hx.InvalidPath:
                return []
        return sorted(resp["data"].get("keys") or [])
