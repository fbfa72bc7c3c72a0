"""Pulumi dynamic providers over hvac for the Vault/OpenBao objects aigw manages.

One provider per kind: KV v2 mount, auth method, key slot (metadata only), ACL
policy, auth role, published client config. Rules every provider follows:

- `create` is an idempotent upsert that adopts what already exists: a killed
  run (state is written once per run, PULUMI_SKIP_CHECKPOINTS) may have created
  objects that the state does not know, and the next run creates them again.
- `read` reports the live object (or that it is gone), so `refresh` sees drift
  made by hand; `diff` compares only managed fields (never the address).
- Slots: only KV v2 `custom_metadata` is written. Secret data is never written,
  read or deleted here; deleting a slot that ever held a value keeps the entry.
- Client configs: the entry's data is exactly the rendered aigw-client.json (no
  key value in it); a new version is written only when that text differs.
- Mounts and auth methods are shared between environments and hold the keys
  and the roles of every environment: deleting them from a stack leaves them.

The classes live in this importable module so that dill pickles them by
reference (small state, and the provider process imports the same code). The
Pulumi resources that use them are in `aigw.stack.resources`.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, ClassVar

import hvac.exceptions
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from aigw.names import CONFIG_FIELD, CONFIG_VERSION_META
from aigw.stack._conn import ProviderFailure, as_ints, exit_with_engine, same, vault

Props = dict[str, Any]
_INTERNAL = ("__provider",)


def _outs(props: Props) -> Props:
    return {k: v for k, v in props.items() if k not in _INTERNAL}


class VaultProvider(ResourceProvider):
    """Shared create/update/diff/read logic; subclasses say how to ensure, read and delete."""

    # The provider object holds nothing secret: keep it out of the encrypted part of state.
    serialize_as_secret_always = False
    managed: ClassVar[tuple[str, ...]] = ()  # fields compared by diff and read back live
    identity: ClassVar[tuple[str, ...]] = ()  # fields whose change means a new object

    def object_id(self, props: Props) -> str:
        """The resource id (the object's path or name)."""
        return "/".join(str(props[k]) for k in self.identity)

    def ensure(self, props: Props) -> None:
        """Make the live object match `props` (create or adopt and converge)."""
        raise NotImplementedError

    def live(self, props: Props) -> Props | None:
        """The managed fields as they are in OpenBao, or None when the object is gone."""
        raise NotImplementedError

    def create(self, props: Props) -> CreateResult:
        """Upsert: adopt an existing object and converge it."""
        self.ensure(props)
        return CreateResult(self.object_id(props), _outs(props))

    def update(self, _id: str, _olds: Props, news: Props) -> UpdateResult:
        """Converge the live object to the new inputs."""
        self.ensure(news)
        return UpdateResult(_outs(news))

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """Changes in managed fields; a change of identity replaces the object."""
        changed = [k for k in (*self.identity, *self.managed)
                   if not same(olds.get(k), news.get(k))]
        replaces = [k for k in changed if k in self.identity]
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=bool(replaces))

    def read(self, id_: str, props: Props) -> ReadResult:
        """Refresh: the live managed fields, or an empty id when the object is gone."""
        found = self.live(props)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**_outs(props), **found})


class KvMountProvider(VaultProvider):
    """A KV v2 secrets engine with its max_versions and cas_required settings."""

    managed = ("max_versions", "cas_required")
    identity = ("path",)

    def _mount(self, client: Any, path: str) -> Props | None:
        mounts: Props = client.sys.list_mounted_secrets_engines()["data"]
        found: Props | None = mounts.get(f"{path}/")
        return found

    def ensure(self, props: Props) -> None:
        """Enable the mount if missing (refusing another kind), then set its config."""
        path = props["path"]
        with vault(props) as client:
            mount = self._mount(client, path)
            if mount is None:
                client.sys.enable_secrets_engine("kv", path=path, options={"version": "2"})
            elif mount.get("type") != "kv" or (mount.get("options") or {}).get("version") != "2":
                raise ProviderFailure("VaultError", f"mount {path}/ exists but is not KV "
                                      "version 2; aigw needs a KV v2 mount there")
            _retry_while_upgrading(lambda: client.secrets.kv.v2.configure(
                max_versions=as_ints(props["max_versions"]),
                cas_required=bool(props["cas_required"]), mount_point=path))

    def live(self, props: Props) -> Props | None:
        """The mount's KV v2 config, or None when it is not mounted."""
        with vault(props) as client:
            if self._mount(client, props["path"]) is None:
                return None
            config = client.read(f"{props['path']}/config") or {}
            data = config.get("data", {})
            return {"max_versions": data.get("max_versions"),
                    "cas_required": data.get("cas_required")}

    def delete(self, _id: str, _props: Props) -> None:
        """Keep the mount: it holds every environment's key values."""


def _retry_while_upgrading(call: Any, timeout: float = 90.0) -> None:
    """Run CALL, retrying while a new KV v2 mount finishes its one-time upgrade.

    Right after a KV v2 mount is enabled, OpenBao answers "Upgrading from
    non-versioned to versioned data..." for a moment; that is not an error to report.
    On a cluster, a standby node may also not route to a mount or auth method the
    active node enabled a moment ago (404, "no handler for route": a role or config
    written under a new auth method), and a standby's copy of
    the mount reports the upgrade until it next checks the active node's (seconds,
    more under load): retried the same way, for up to TIMEOUT seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except hvac.exceptions.VaultError as exc:
            transient = ("upgrad" in str(exc).lower()  # "Upgrading...", "Waiting for the primary to upgrade..."
                         or isinstance(exc, hvac.exceptions.InvalidPath))
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class AuthBackendProvider(VaultProvider):
    """An auth method (AppRole by default) enabled at a path."""

    managed = ("method",)
    identity = ("path",)

    def _methods(self, client: Any) -> Props:
        methods: Props = client.sys.list_auth_methods()["data"]
        return methods

    def ensure(self, props: Props) -> None:
        """Enable the method if missing; refuse a different method at that path."""
        path, method = props["path"], props["method"]
        with vault(props) as client:
            found = self._methods(client).get(f"{path}/")
            if found is None:
                client.sys.enable_auth_method(method, path=path)
            elif found.get("type") != method:
                raise ProviderFailure("VaultError", f"auth/{path}/ is a {found.get('type')} "
                                      f"auth method, not {method}")

    def live(self, props: Props) -> Props | None:
        """The method enabled at the path, or None."""
        with vault(props) as client:
            found = self._methods(client).get(f"{props['path']}/")
        return None if found is None else {"method": found.get("type")}

    def delete(self, _id: str, _props: Props) -> None:
        """Keep the method: roles of other environments live in it."""


class KvSlotProvider(VaultProvider):
    """A key slot's KV v2 metadata (custom_metadata); the secret data is never touched."""

    managed = ("custom_metadata",)
    identity = ("mount", "path")

    def _metadata(self, client: Any, props: Props) -> Props | None:
        found: Props | None = client.read(f"{props['mount']}/metadata/{props['path']}")
        return found.get("data") if found else None

    def _write(self, client: Any, props: Props, custom: dict[str, str]) -> None:
        client.adapter.post(f"/v1/{props['mount']}/metadata/{props['path']}",
                            json={"custom_metadata": custom})

    def ensure(self, props: Props) -> None:
        """Merge our custom_metadata keys into the entry (creating it without a version)."""
        with vault(props) as client:
            def write() -> None:
                meta = self._metadata(client, props)
                current = dict((meta or {}).get("custom_metadata") or {})
                merged = {**current, **props["custom_metadata"]}
                if meta is None or merged != current:
                    self._write(client, props, merged)

            _retry_while_upgrading(write)

    def live(self, props: Props) -> Props | None:
        """Our custom_metadata keys as stored, or None when the entry is gone."""
        with vault(props) as client:
            meta = self._metadata(client, props)
        if meta is None:
            return None
        current = meta.get("custom_metadata") or {}
        return {"custom_metadata": {k: current[k] for k in props["custom_metadata"]
                                    if k in current}}

    def delete(self, _id: str, props: Props) -> None:
        """Remove an entry that never held a value; otherwise drop only our metadata keys."""
        with vault(props) as client:
            meta = self._metadata(client, props)
            if meta is None:
                return
            if not meta.get("versions"):
                client.adapter.delete(f"/v1/{props['mount']}/metadata/{props['path']}")
                return
            current = meta.get("custom_metadata") or {}
            self._write(client, props, {k: v for k, v in current.items()
                                        if k not in props["custom_metadata"]})


class PolicyProvider(VaultProvider):
    """An ACL policy, compared by its exact text."""

    managed = ("policy",)
    identity = ("name",)

    def ensure(self, props: Props) -> None:
        """Write the policy (create or overwrite)."""
        with vault(props) as client:
            client.sys.create_or_update_acl_policy(props["name"], props["policy"])

    def live(self, props: Props) -> Props | None:
        """The stored policy text, or None."""
        with vault(props) as client:
            found = client.read(f"sys/policies/acl/{props['name']}")
        return None if not found else {"policy": found["data"]["policy"]}

    def delete(self, _id: str, props: Props) -> None:
        """Delete the policy (absent is fine)."""
        with vault(props) as client:
            client.sys.delete_acl_policy(props["name"])


class AuthRoleProvider(VaultProvider):
    """A role at `auth/<mount>/role/<name>` (AppRole, Kubernetes or JWT: same layout)."""

    managed = ("params",)
    identity = ("mount", "name")

    def _path(self, props: Props) -> str:
        return f"auth/{props['mount']}/role/{props['name']}"

    def ensure(self, props: Props) -> None:
        """Write the role's parameters (create or overwrite those fields)."""
        with vault(props) as client:  # right after its method is enabled: see the retry
            _retry_while_upgrading(lambda: client.adapter.post(
                f"/v1/{self._path(props)}", json=as_ints(props["params"])))

    def live(self, props: Props) -> Props | None:
        """The role's managed parameters as stored, or None."""
        with vault(props) as client:
            found = client.read(self._path(props))
        if not found:
            return None
        data = found.get("data") or {}
        return {"params": {k: data[k] for k in props["params"] if k in data}}

    def delete(self, _id: str, props: Props) -> None:
        """Delete the role (absent is fine, and so is an auth method that is gone)."""
        with vault(props) as client, contextlib.suppress(hvac.exceptions.InvalidPath):
            client.adapter.delete(f"/v1/{self._path(props)}")


def _revision_of(text: str | None) -> str:
    """The `revision` a config text claims, or a word saying why there is none."""
    try:
        doc = json.loads(text or "")
    except ValueError:
        return "(not JSON)"
    revision = doc.get("revision") if isinstance(doc, dict) else None
    return revision if isinstance(revision, str) else "(no revision)"


class ClientConfigProvider(VaultProvider):
    """A service's published aigw-client.json at `<mount>/data/<prefix>/_aigw/config/<service>`.

    Upsert: read the latest version; write a new one (check-and-set on that
    version, so a concurrent writer fails the step rather than being overwritten)
    only when the text differs. `revision` and `catalog_commit` are recorded in the
    entry's custom_metadata with each write but are not compared: the config's
    bytes alone decide whether anything changes, so an apply after an unrelated
    commit leaves the entry (and its version) alone.
    """

    managed = ("text",)
    identity = ("mount", "path")

    def _latest(self, client: Any, props: Props) -> tuple[int, str | None, Props]:
        """(current version, its text, custom_metadata); (0, None, {}) when never written."""
        found = client.read(f"{props['mount']}/data/{props['path']}")
        if found and found.get("data"):
            body = found["data"]
            text = (body.get("data") or {}).get(CONFIG_FIELD)
            meta = body.get("metadata") or {}
            return int(meta["version"]), text, dict(meta.get("custom_metadata") or {})
        meta = client.read(f"{props['mount']}/metadata/{props['path']}")
        return (int(meta["data"]["current_version"]) if meta else 0), None, {}

    def ensure(self, props: Props) -> None:
        """Write the text as a new version when it differs from the latest one; then the
        custom_metadata naming that version and its revision (what `aigw plan` lists,
        aigw.stack.listing.published_revision), also when an equal text lacks it."""
        with vault(props) as client:
            def write() -> None:
                version, text, custom = self._latest(client, props)
                base = f"/v1/{props['mount']}"
                if text != props["text"]:
                    written = client.adapter.post(f"{base}/data/{props['path']}", json={
                        "options": {"cas": version}, "data": {CONFIG_FIELD: props["text"]}})
                    version = int(((written or {}).get("data") or {}).get("version") or 0)
                vouch = {"revision": props["revision"], CONFIG_VERSION_META: str(version)}
                if text == props["text"]:  # adopted as is: keep its commit, vouch for it
                    if any(custom.get(k) != v for k, v in vouch.items()):
                        client.adapter.post(f"{base}/metadata/{props['path']}",
                                            json={"custom_metadata": {**custom, **vouch}})
                    return
                wanted = {"service": props["service"], "environment": props["environment"],
                          **vouch}
                if props.get("catalog_commit"):
                    wanted["catalog_commit"] = props["catalog_commit"]
                client.adapter.post(f"{base}/metadata/{props['path']}",
                                    json={"custom_metadata": wanted})

            _retry_while_upgrading(write)

    def live(self, props: Props) -> Props | None:
        """The latest version's text (and the revision it claims), or None when gone."""
        with vault(props) as client:
            _version, text, _custom = self._latest(client, props)
        if text is None:
            return None
        return {"text": text, "revision": _revision_of(text)}

    def delete(self, _id: str, props: Props) -> None:
        """Remove the entry with its history (it only ever held this service's config)."""
        with vault(props) as client, contextlib.suppress(hvac.exceptions.InvalidPath):
            client.adapter.delete(f"/v1/{props['mount']}/metadata/{props['path']}")


class AuthConfigProvider(VaultProvider):
    """An auth method's `auth/<path>/config` (the CI's JWT issuer and keys).

    Only the given fields are written and compared. Deleting leaves the config:
    it belongs to the method, which is shared and kept.
    """

    managed = ("config",)
    identity = ("path",)

    def object_id(self, props: Props) -> str:
        """`auth/<path>/config`."""
        return f"auth/{props['path']}/config"

    def ensure(self, props: Props) -> None:
        """Write the config fields."""
        with vault(props) as client:  # right after its method is enabled: see the retry
            _retry_while_upgrading(lambda: client.adapter.post(
                f"/v1/auth/{props['path']}/config", json=as_ints(props["config"])))

    def live(self, props: Props) -> Props | None:
        """The managed config fields as stored, or None when the method has no config."""
        with vault(props) as client, contextlib.suppress(hvac.exceptions.InvalidPath):
            found = client.read(f"auth/{props['path']}/config")
            if found:
                data = found.get("data") or {}
                return {"config": {k: _normal(data.get(k)) for k in props["config"]}}
        return None

    def delete(self, _id: str, _props: Props) -> None:
        """Keep the config with its (kept) auth method."""


def _normal(value: Any) -> Any:
    """OpenBao reads back an unset list as None and an unset string as ""."""
    return [] if value is None else value


# Imported in the provider process when the engine unpickles a provider: a run
# killed with SIGKILL must not leave that process behind.
exit_with_engine()
