"""What aigw manages in OpenBao, read back for exact comparisons in tests.

`live_objects(client)` lists every aigw policy, approle role and slot entry;
`expected_objects(catalog, envs)` computes the same shape from the catalog.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import hvac

from aigw.catalog import Catalog
from aigw.stack.spec import environment_spec

Objects = dict[str, dict[str, Any]]


def _list(client: hvac.Client, path: str) -> list[str]:
    found = client.list(path)
    return list(found["data"]["keys"]) if found else []


def _walk(client: hvac.Client, mount: str, folder: str = "") -> Iterable[str]:
    for key in _list(client, f"{mount}/metadata/{folder}"):
        if key.endswith("/"):
            yield from _walk(client, mount, folder + key)
        else:
            yield folder + key


def live_objects(client: hvac.Client, mount: str = "aigw") -> Objects:
    """Policies (name -> text), roles (name -> params) and slots (path -> custom_metadata)."""
    policies = {name: client.sys.read_acl_policy(name)["data"]["policy"]
                for name in client.sys.list_acl_policies()["data"]["keys"]
                if name.startswith("aigw-")}
    roles: dict[str, Any] = {}
    if "approle/" in client.sys.list_auth_methods()["data"]:
        for name in _list(client, "auth/approle/role"):
            roles[name] = client.read(f"auth/approle/role/{name}")["data"]
    slots: dict[str, Any] = {}
    if f"{mount}/" in client.sys.list_mounted_secrets_engines()["data"]:
        for path in _walk(client, mount):
            if "/_aigw/" in f"/{path}":
                continue
            meta = client.read(f"{mount}/metadata/{path}")["data"]
            slots[path] = meta.get("custom_metadata") or {}
    return {"policies": policies, "roles": roles, "slots": slots}


def expected_objects(catalog: Catalog, envs: Iterable[str]) -> Objects:
    """The same shape, computed from the catalog for the given environments."""
    out: Objects = {"policies": {}, "roles": {}, "slots": {}}
    for env in envs:
        spec = environment_spec(catalog, env)
        out["policies"].update({p.name: p.text for p in spec.policies})
        out["roles"].update({r.name: dict(r.params) for r in spec.roles})
        out["slots"].update({s.path: s.custom_metadata for s in spec.slots})
    return out


def assert_holds_exactly(client: hvac.Client, catalog: Catalog, envs: Iterable[str]) -> None:
    """OpenBao holds the catalog's objects: none missing, none extra, none different."""
    live, want = live_objects(client), expected_objects(catalog, envs)
    assert live["policies"] == want["policies"]
    assert sorted(live["slots"]) == sorted(want["slots"])
    assert live["slots"] == want["slots"]
    assert sorted(live["roles"]) == sorted(want["roles"])
    for name, params in want["roles"].items():
        got = {k: live["roles"][name].get(k) for k in params}
        assert got == params, name


def state_urns(backend: Path, stack: str, project: str = "aigw") -> list[str]:
    """The URNs of every resource in a stack's state file (file backend)."""
    folder = backend / ".pulumi" / "stacks" / project
    for name in (f"{stack}.json", f"{stack}.json.gz"):
        path = folder / name
        if path.exists():
            data = path.read_bytes()
            doc = json.loads(gzip.decompress(data) if name.endswith(".gz") else data)
            return [r["urn"] for r in doc["checkpoint"]["latest"].get("resources") or []]
    return []
