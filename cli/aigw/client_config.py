"""The `aigw-client.json` document of a deployment: built, serialized, its revision. No Jinja.

What `aigw render` writes into each deployment's folder and what `aigw apply`
publishes into OpenBao are the same bytes, built here (docs/architecture.md,
"aigw-client.json"): deterministic JSON (sorted keys, 2-space indent, trailing
newline), never a key value.

`revision` (`config_revision`): the first 16 hex digits of the SHA-256 of the
document without that field, as compact key-sorted JSON. `ClientConfigs` builds
many deployments' documents and builds an alias's part once per distinct routes
(keyed by their canonical value, `routes_key`): ten thousand services call the
same few aliases resolved the same few ways.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import orjson

from aigw.apis import APIS
from aigw.catalog import environment_view
from aigw.catalog.models import Catalog
from aigw.catalog.view import Deployment, ResolvedRoute
from aigw.names import TOKEN_FILES, acks_folder
from aigw.outputs import CLIENT_OUTPUT, OUTPUTS

CLIENT_CONFIG = OUTPUTS[CLIENT_OUTPUT].file
REVISION_FIELD = "revision"
REVISION_LEN = 16

AliasEntry = Callable[[str, list[ResolvedRoute]], dict[str, Any]]
# What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` gives,
# made once (json.dumps builds a new encoder on every call with these arguments).
canonical: Callable[[Any], str] = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def acks_block(dep: Deployment) -> dict[str, Any]:
    """Where the runtime writes its acknowledgements (docs/rotation.md#acknowledgements).

    `address`: the environment's `openbao_address`; null: the service's BAO_ADDR /
    VAULT_ADDR, as for its agent. Never render's own BAO_ADDR. `path` is
    the folder under the KV v2 `mount`; entries are `<provider>/<slot>/<service>`.
    `token_files` are relative to `key_dir`.
    """
    return {"address": dep.env.openbao_address, "mount": dep.env.mount,
            "path": acks_folder(dep.environment, dep.env),
            "token_files": list(TOKEN_FILES)}


def client_config(dep: Deployment, entry: AliasEntry | None = None) -> dict[str, Any]:
    """The aigw-client.json document of one deployment, without its revision.

    ENTRY builds one alias's part (default `alias_entry`; `ClientConfigs` passes a
    memoised one, so an alias resolved the same way for many deployments is built once).
    """
    entry = entry or alias_entry
    return {
        "version": 1,
        "service": dep.service,
        "environment": dep.environment,
        "key_dir": dep.key_dir,
        "acks": acks_block(dep),
        "aliases": {alias: entry(alias, routes) for alias, routes in sorted(dep.aliases.items())},
    }


def alias_entry(alias: str, routes: list[ResolvedRoute]) -> dict[str, Any]:
    """One alias of aigw-client.json: its wire family and its routes in fallback order."""
    return {"family": APIS[routes[0].api].family, "routes": [_route_json(r) for r in routes]}


def _route_json(route: ResolvedRoute) -> dict[str, Any]:
    """One route of aigw-client.json; `extra` is exactly what goes into request bodies."""
    extra = dict(route.extra)
    out: dict[str, Any] = {
        "provider": route.provider,
        "api": route.api,
        "base_url": route.base_url,
        "model": route.model,
        "slot": route.slot,
        "key_file": route.key_file,
        "timeout": route.timeout,
        "retries": route.retries,
        "cooldown": route.cooldown,
        "weight": route.weight,
    }
    region_key = APIS[route.api].region_extra
    if region_key:
        # The client signs for and derives the endpoint from aws_region (base_url null).
        out["aws_region"] = extra.pop(region_key, None)
    out["extra"] = extra
    if route.price is not None:  # only when priced: unpriced configs keep their bytes
        out["price"] = route.price
    return out


def routes_key(alias: str, routes: list[ResolvedRoute]) -> tuple[Any, ...]:
    """A hashable value equal for two routes lists exactly when every field of theirs is.

    What render's per-alias caches are keyed by (not the lists' `id()`): `extra` and
    `price` are dicts, so they enter as their canonical JSON text.
    """
    return (alias, *[(r.provider, r.api, r.base_url, r.model, r.slot, r.key_file, r.timeout,
                      r.retries, r.cooldown, r.weight,
                      canonical(r.extra) if r.extra else None,
                      None if r.price is None else canonical(r.price)) for r in routes])


def config_revision(doc: Mapping[str, Any], *, parts: Mapping[str, str] | None = None) -> str:
    """The revision of an aigw-client.json document (docs/architecture.md).

    SHA-256 over the document without its `revision` field, serialized as compact
    JSON with sorted keys and UTF-8 text (`json.dumps(doc, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`), first 16 hex digits. Anyone can
    recompute it from the file; the catalog's git commit is deliberately not part
    of it (see docs/live-config.md).

    PARTS may hold the canonical text of some top-level fields, already serialized
    the same way (`ClientConfigs` reuses an alias's text across deployments): the
    result is byte for byte what serializing the whole document gives.
    """
    parts = parts or {}
    text = "{" + ",".join(
        f"{canonical(key)}:{parts[key] if key in parts else canonical(doc[key])}"
        for key in sorted(doc) if key != REVISION_FIELD) + "}"
    return hashlib.sha256(text.encode()).hexdigest()[:REVISION_LEN]


def serialize(doc: Mapping[str, Any]) -> bytes:
    """The file's bytes: sorted keys, 2-space indent, a trailing newline (orjson: the bytes
    of json.dumps(indent=2, sort_keys=True), 20x faster)."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def publishes_config(cat: Catalog, dep: Deployment) -> bool:
    """True when a deployment renders (and so `aigw apply` publishes) an aigw-client.json."""
    return CLIENT_OUTPUT in environment_view(cat, dep.environment).services[dep.service].outputs


class ClientConfigs:
    """The aigw-client.json of many deployments; what they share is built once.

    An alias's part and its canonical text are kept per distinct routes
    (`routes_key`), an environment's `acks` text per environment.
    """

    def __init__(self) -> None:
        self._aliases: dict[Hashable, tuple[dict[str, Any], str]] = {}
        self._acks: dict[str, str] = {}

    def document(self, dep: Deployment,
                 keys: Mapping[str, Hashable] | None = None) -> dict[str, Any]:
        """The document of a deployment, its revision stamped in.

        KEYS: each alias's `routes_key` (or a number standing for it), when the caller
        has them already; one ClientConfigs is always given keys of one kind.
        """
        texts: list[str] = []

        def entry(alias: str, routes: list[ResolvedRoute]) -> dict[str, Any]:
            key = keys[alias] if keys is not None else routes_key(alias, routes)
            hit = self._aliases.get(key)
            if hit is None:
                built = alias_entry(alias, routes)
                hit = self._aliases[key] = (built, f"{canonical(alias)}:{canonical(built)}")
            texts.append(hit[1])
            return hit[0]

        doc = client_config(dep, entry)  # aliases in sorted order: TEXTS are too
        acks = self._acks.get(dep.environment)
        if acks is None:  # the same for every deployment of an environment
            acks = self._acks[dep.environment] = canonical(doc["acks"])
        doc[REVISION_FIELD] = config_revision(
            doc, parts={"aliases": "{" + ",".join(texts) + "}", "acks": acks})
        return doc

    def file(self, dep: Deployment, keys: Mapping[str, Hashable] | None = None) -> bytes:
        """The bytes of one deployment's aigw-client.json (what render writes, apply publishes)."""
        return serialize(self.document(dep, keys))
