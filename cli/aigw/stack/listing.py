"""KV v2 metadata of many entries in one request per folder (the keys-ready check's reads).

`aigw plan` checks, before it answers, that every slot a deployment reads holds a
key and what config each deployment has published (aigw.stack.readiness). Read
entry by entry that is one request per slot and per deployment (~1,500 at 1,000
services). OpenBao LISTs a folder's entries together with each one's metadata
(`LIST <mount>/detailed-metadata/<folder>`: current_version, versions,
custom_metadata), so `MetadataIndex.load` makes one request per folder: the
providers' slot folders and the published configs' folder.

A folder the server does not list that way (HashiCorp Vault has no such endpoint,
a token without `list` on it, an empty or missing folder) is unknown, and its
entries are read one by one as before (`MetadataIndex.knows`); an empty folder is
known to have no entries. Only metadata is read, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hvac
import hvac.exceptions as hx

from aigw.names import CONFIG_VERSION_META, EnvironmentPaths, detailed_metadata_path
from aigw.vault import vault_errors

Meta = Mapping[str, Any]
# What a detailed LIST may answer instead of the listing: no such endpoint (Vault), a
# token that may not list there. The entries are then read one by one.
_NOT_LISTED = (hx.InvalidPath, hx.Forbidden, hx.UnsupportedOperation, hx.InvalidRequest)


@dataclass(frozen=True)
class MetadataIndex:
    """The metadata of the entries of some folders, as one LIST per folder found them."""

    folders: dict[str, dict[str, Meta]] = field(default_factory=dict)  # folder -> name -> meta

    @classmethod
    def load(cls, client: hvac.Client, env: EnvironmentPaths,
             paths: Iterable[str]) -> MetadataIndex:
        """LIST the folder of every path (relative to the mount) once; unknown on refusal."""
        out: dict[str, dict[str, Meta]] = {}
        for folder in sorted({p.rpartition("/")[0] for p in paths}):
            listed = _list(client, detailed_metadata_path(env, folder))
            if listed is not None:
                out[folder] = listed
        return cls(out)

    def knows(self, path: str) -> bool:
        """Whether PATH's folder was listed (so `meta` is the server's answer)."""
        return path.rpartition("/")[0] in self.folders

    def meta(self, path: str) -> Meta | None:
        """PATH's metadata as listed; None when the folder has no such entry."""
        folder, _, name = path.rpartition("/")
        return self.folders.get(folder, {}).get(name)


def _list(client: hvac.Client, api_path: str) -> dict[str, Meta] | None:
    with vault_errors(str(client.url)):
        try:
            found = client.adapter.list(f"/v1/{api_path}")
        except hx.InvalidPath as exc:
            # An empty or missing folder is `404 {"errors": []}`; a path the mount does not
            # serve (no detailed-metadata: Vault) is a 404 with a warning and no errors list.
            return {} if exc.errors == [] else None
        except _NOT_LISTED:
            return None
    info = ((found or {}).get("data") or {}).get("key_info") if isinstance(found, dict) \
        else None
    if not isinstance(info, dict):
        return None
    return {str(k): v for k, v in info.items() if isinstance(v, dict)}


def current_version(meta: Meta) -> int:
    """The entry's current version when it is live (not deleted or destroyed), else 0."""
    version = int(meta.get("current_version") or 0)
    info = (meta.get("versions") or {}).get(str(version)) or {}
    if version <= 0 or info.get("destroyed") or info.get("deletion_time"):
        return 0
    return version


def holds_value(meta: Meta | None) -> bool:
    """True when an entry with metadata META has a current value (never read itself)."""
    return meta is not None and current_version(meta) > 0


def published_revision(meta: Meta) -> str | None:
    """The revision a published config's metadata vouches for, or None when it cannot.

    The stack writes the config's text as a new version, then custom_metadata naming
    that version and its revision (aigw.stack.providers.ClientConfigProvider). The
    revision describes the current text only when the version it names is the
    current one: a run stopped between the two writes, or an entry written by an
    older aigw (no version recorded), vouches for nothing and is read.
    """
    custom = meta.get("custom_metadata") or {}
    version = current_version(meta)
    if version == 0 or str(custom.get(CONFIG_VERSION_META, "")) != str(version):
        return None
    revision = custom.get("revision")
    return revision if isinstance(revision, str) and revision else None
