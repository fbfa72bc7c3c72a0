"""Render per-service outputs from the catalog with sandboxed Jinja2, and sync them to disk.

Output bytes are deterministic (sorted, no timestamps). The output folder carries
a `.aigw-rendered` marker listing the files render wrote (its manifest): only
those are ever rewritten or removed, anything else found there (an agent's key
files, a note put there by hand) is reported and left alone. Unchanged files are
not rewritten, and every write is atomic.

`aigw-client.json` carries a `revision` (`config_revision`): the first 16 hex
digits of the SHA-256 of the document without that field, as compact key-sorted
JSON. The same bytes are what `aigw apply` publishes to OpenBao.
"""

from __future__ import annotations

import difflib
import functools
import gc
import hashlib
import json
import multiprocessing as mp
import os
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _encode_str  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any, TypeVar

import orjson
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from aigw.apis import APIS
from aigw.catalog import LoadedCatalog, environment_view
from aigw.catalog.models import Catalog
from aigw.catalog.view import (
    Deployment,
    ResolvedRoute,
    SlotRef,
    check_scope,
    deployment,
    deployment_pairs,
    deployments,
)
from aigw.errors import UsageError
from aigw.fsutil import atomic_write
from aigw.names import (
    AGENT_PID_FILE,
    CONFIG_FIELD,
    DEPLOYMENT_GITIGNORE,
    ROLE_ID_FILE,
    SECRET_ID_FILE,
    TOKEN_FILES,
    acks_folder,
    aws_key_parts,
    config_path,
    data_path,
    deployment_ignores,
    key_env,
    key_file_env,
    kubernetes_identity,
    slot_path,
)
from aigw.outputs import (
    AGENT_OUTPUT,
    AGENT_TEMPLATE_DIR,
    CLIENT_OUTPUT,
    K8S_APP_UID,
    K8S_KEY_VOLUME,
    OUTPUTS,
)
from aigw.package_data import templates_dir
from aigw.render_manifest import (
    MARKER,
    Entry,
    FileRecord,
    Fingerprints,
    Manifest,
    deployment_key,
    marker_bytes,
    read_state,
    record,
)

CLIENT_CONFIG = OUTPUTS[CLIENT_OUTPUT].file
REVISION_FIELD = "revision"
REVISION_LEN = 16
AGENT_CONFIG = OUTPUTS[AGENT_OUTPUT].file
# How the agent writes its token there: a template over its own token's lookup (its policy
# allows `auth/token/lookup-self`). Not a file sink: a sink's folder must exist when the
# agent starts, while templates create the key folder.
TOKEN_TEMPLATE = '{{ with secret "auth/token/lookup-self" }}{{ .Data.id }}{{ end }}'
# The files a running agent uses beside its config (named there, in templates/bao-agent.hcl.j2):
# its AppRole login (written by `aigw agent-credentials`) and its pid file. Not render's.
_AGENT_FILE = re.compile(
    r'^\s*(mount_path|role_id_file_path|secret_id_file_path|pid_file)\s*=\s*"([^"]*)"', re.M)


def agent_settings(config: bytes) -> dict[str, str]:
    """The agent's own paths in a rendered bao-agent.hcl: pid_file, role/secret-id files..."""
    return dict(_AGENT_FILE.findall(config.decode()))


def _agent_runtime_files(files: dict[str, bytes]) -> set[str]:
    out: set[str] = set()
    for rel, blob in files.items():
        if rel.endswith(f"/{AGENT_CONFIG}"):
            folder = rel.rsplit("/", 1)[0]
            out.update(f"{folder}/{v}" for k, v in agent_settings(blob).items()
                       if k != "mount_path" and not v.startswith("/"))
    return out



# A deployment folder's .gitignore (names.deployment_ignores).
_GITIGNORE = "deployment.gitignore.j2"
# The `model_list` entries of one alias, printed by litellm.yaml.j2 for each of its aliases.
_LITELLM_ALIAS = "litellm-alias.yaml.j2"
# The outputs that run an agent, which writes one key file per slot from its template.
_AGENT_OUTPUTS = frozenset(o.name for o in OUTPUTS.values() if o.agent)
# The outputs that print Kubernetes objects (their context carries the pods' identity).
_K8S_OUTPUTS = frozenset(o.name for o in OUTPUTS.values() if o.kubernetes)


AliasEntry = Callable[[str, list[ResolvedRoute]], dict[str, Any]]


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
    """The aigw-client.json document of one deployment (docs/architecture.md).

    ENTRY builds one alias's part (default `alias_entry`; the renderer passes a
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


def config_revision(doc: dict[str, Any], *, parts: Mapping[str, str] | None = None) -> str:
    """The revision of an aigw-client.json document (docs/architecture.md).

    SHA-256 over the document without its `revision` field, serialized as compact
    JSON with sorted keys and UTF-8 text (`json.dumps(doc, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`), first 16 hex digits. Anyone can
    recompute it from the file; the catalog's git commit is deliberately not part
    of it (see docs/live-config.md).

    PARTS may hold the canonical text of some top-level fields, already serialized
    the same way (the renderer reuses an alias's text across deployments): the
    result is byte for byte what serializing the whole document gives.
    """
    parts = parts or {}
    canonical = "{" + ",".join(
        f"{_canonical(key)}:{parts[key] if key in parts else _canonical(doc[key])}"
        for key in sorted(doc) if key != REVISION_FIELD) + "}"
    return hashlib.sha256(canonical.encode()).hexdigest()[:REVISION_LEN]


# What `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` uses,
# made once (json.dumps builds a new encoder on every call with these arguments).
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def publishes_config(cat: Catalog, dep: Deployment) -> bool:
    """True when a deployment renders (and so `aigw apply` publishes) an aigw-client.json."""
    return CLIENT_OUTPUT in environment_view(cat, dep.environment).services[dep.service].outputs


def litellm_deployments(alias: str, routes: list[ResolvedRoute]) -> list[tuple[str, ResolvedRoute]]:
    """LiteLLM deployments of an alias as (model_name, route), first the ones serving it.

    Routes with a weight above 0 become weighted deployments sharing the alias's
    name (LiteLLM's `litellm_params.weight`, picked by its default simple-shuffle);
    without weights the first route serves it. The rest, in order, are its
    fallbacks `<alias>/fallback-<n>`. A weight of 0 is a fallback only: LiteLLM
    divides by the group's total weight, which must never be 0.
    """
    weighted = [r for r in routes if r.weight]
    first = weighted or routes[:1]
    rest = [r for r in routes if r not in first] if weighted else routes[1:]
    return [(alias, r) for r in first] + [(f"{alias}/fallback-{i}", r)
                                          for i, r in enumerate(rest, 1)]


def _pretty_json(value: Any) -> str:
    """Indented, key-sorted JSON (orjson: the bytes of json.dumps(indent=2), 20x faster)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _quoted(value: Any) -> str:
    """`json.dumps(value)`; for a string (nearly always), its C encoder without the call overhead."""
    return _encode_str(value) if type(value) is str else json.dumps(value)


class _PlainDataEnvironment(SandboxedEnvironment):
    """The sandbox, with `x.name` on a plain dict a dict lookup first.

    Render's contexts are plain dicts, lists and strings (`Renderer._context`); the
    sandbox would first look for a dict *attribute* of that name, fail, and only then
    index: a dict lookup is what it falls back to anyway, so nothing unsafe is reachable.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class Renderer:
    """Renders the templates for deployments; one Jinja environment, reused.

    Templates only loop and print: everything they show is resolved here first
    into plain dicts, lists and strings (attribute lookups and calls through the
    sandbox cost more than the rendering itself), and what is the same for many
    deployments (a slot's agent template, its Vault path) is built once.
    """

    def __init__(self, loaded: LoadedCatalog | Catalog, template_dir: Path | None = None) -> None:
        self.catalog = loaded if isinstance(loaded, Catalog) else loaded.catalog
        self.env = _PlainDataEnvironment(
            loader=FileSystemLoader(str(template_dir or templates_dir())),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self.env.filters["to_json"] = _pretty_json
        # YAML/HCL-safe double-quoted string (JSON string syntax), without jinja's
        # HTML escaping and at C speed.
        self.env.filters["q"] = _quoted
        self._templates = {name: self.env.get_template(name) for name in self.env.list_templates()}
        for template in self._templates.values():
            # Jinja copies a template's globals into every render's context; as a ChainMap
            # (its default) that copy costs more than printing a small file.
            template.globals = dict(template.globals)
        self._slots: dict[tuple[str, SlotRef, str, str, bool], dict[str, Any]] = {}
        # Per alias, by its routes (deployments resolved alike share one list: catalog.view).
        self._aliases: dict[tuple[str, int], tuple[list[ResolvedRoute], dict[str, Any], str]] = {}
        self._litellm: dict[tuple[str, int], tuple[list[ResolvedRoute], dict[str, Any]]] = {}
        self._slot_lists: dict[tuple[Any, ...], tuple[tuple[list[ResolvedRoute], ...],
                                                     list[dict[str, Any]]]] = {}
        self._acks: dict[str, str] = {}
        self._ignores: dict[str, bytes] = {}

    def client_config_file(self, dep: Deployment) -> bytes:
        """The bytes of one deployment's aigw-client.json (what apply publishes)."""
        template = self._templates[OUTPUTS[CLIENT_OUTPUT].template]
        return template.render(client_config=self._client_doc(dep)).encode()

    def _gitignore(self, key_dir: str) -> bytes:
        """A deployment folder's .gitignore (the same for every deployment with this key_dir)."""
        found = self._ignores.get(key_dir)
        if found is None:
            found = self._ignores[key_dir] = self._templates[_GITIGNORE].render(
                ignores=deployment_ignores(key_dir)).encode()
        return found

    def _client_doc(self, dep: Deployment) -> dict[str, Any]:
        """The aigw-client.json document of a deployment, its revision stamped in."""
        doc = client_config(dep, self._alias_entry)
        aliases = ",".join(self._aliases[(alias, id(routes))][2]
                           for alias, routes in sorted(dep.aliases.items()))
        acks = self._acks.get(dep.environment)
        if acks is None:  # the same for every deployment of an environment
            acks = self._acks[dep.environment] = _canonical(doc["acks"])
        doc[REVISION_FIELD] = config_revision(doc, parts={"aliases": "{" + aliases + "}",
                                                          "acks": acks})
        return doc

    def _alias_entry(self, alias: str, routes: list[ResolvedRoute]) -> dict[str, Any]:
        """`alias_entry`, built once per distinct routes list, with its canonical text."""
        hit = self._aliases.get((alias, id(routes)))
        if hit is None or hit[0] is not routes:  # holding `routes` keeps its id unique
            entry = alias_entry(alias, routes)
            hit = self._aliases[(alias, id(routes))] = (
                routes, entry, f"{_canonical(alias)}:{_canonical(entry)}")
        return hit[1]

    def _slot_list(self, dep: Deployment, key_dir: str, agent: bool) -> list[dict[str, Any]]:
        """`_slot` of each of the deployment's slots; one list per distinct routes lists.

        A deployment's slots are those of its routes (catalog.view), so deployments
        whose aliases share the same route lists share the list.
        """
        routes = tuple(dep.aliases.values())
        cache_key = (dep.environment, key_dir, agent, *map(id, routes))
        hit = self._slot_lists.get(cache_key)
        if hit is None or any(a is not b for a, b in zip(hit[0], routes, strict=True)):
            apis = {(r.provider, r.slot): r.api for rs in routes for r in rs}
            hit = self._slot_lists[cache_key] = (routes, [
                self._slot(dep, s, apis[(s.provider, s.slot)], key_dir, agent)
                for s in dep.slots])
        return hit[1]

    def _slot(self, dep: Deployment, slot: SlotRef, api: str, key_dir: str,
              agent: bool) -> dict[str, Any]:
        """What the templates show of one slot (one dict, shared by the deployments reading it).

        AGENT adds its agent template (`key_template`), which only the agent outputs show.
        """
        cache_key = (dep.environment, slot, api, key_dir, agent)
        found = self._slots.get(cache_key)
        if found is None:
            secret = data_path(dep.env, slot_path(dep.environment, dep.env, slot))
            aws = APIS[api].is_aws
            found = self._slots[cache_key] = {
                "file_name": slot.file_name,
                "source": f"{AGENT_TEMPLATE_DIR}/{slot.file_name}.ctmpl",
                "key_path": f"{key_dir}/{slot.file_name}",
                "file_env": key_file_env(slot),
                "secret_path": secret,
                "csi_objects": (aws_key_parts(slot.file_name) if aws
                                else [(slot.file_name, "api_key")]),
            }
            if agent:
                found["key_template"] = self._templates["bao-agent-key.ctmpl.j2"].render(
                    aws=aws, secret_path=secret)
        return found

    def _context(self, dep: Deployment) -> dict[str, Any]:
        """The plain data the templates of one deployment print (only what its outputs use)."""
        svc = environment_view(self.catalog, dep.environment).services[dep.service]
        outputs = set(svc.outputs)
        agent = bool(outputs & _AGENT_OUTPUTS)
        key_dir = dep.key_dir.rstrip("/")
        config_secret = data_path(dep.env, config_path(dep.environment, dep.env, dep.service))
        context: dict[str, Any] = {
            "service": dep.service,
            "environment": dep.environment,
            "key_dir": dep.key_dir,
            "policy_name": dep.policy_name,
            "role_name": dep.role_name,
            "slots": self._slot_list(dep, key_dir, agent),
            "client_config_path": f"{key_dir}/{CLIENT_CONFIG}",
            "token_file": f"{key_dir}/{TOKEN_FILES[0]}",
            "role_id_file": ROLE_ID_FILE,
            "secret_id_file": SECRET_ID_FILE,
            "pid_file": AGENT_PID_FILE,
            "openbao_address": dep.env.openbao_address,
            "token_template": TOKEN_TEMPLATE,
            "publishes_config": publishes_config(self.catalog, dep),
            "config_secret_path": config_secret,
            "config_field": CONFIG_FIELD,
            "render_interval": f"{dep.env.agent_refresh}s",
            "retries": svc.defaults.retries,
            "cooldown": svc.defaults.cooldown,
        }
        if CLIENT_OUTPUT in outputs:
            context["client_config"] = self._client_doc(dep)
        if "litellm" in outputs:
            context["litellm"] = [self._litellm_alias(alias, routes)
                                  for alias, routes in sorted(dep.aliases.items())]
        if outputs & _K8S_OUTPUTS:
            context["kubernetes"] = self._kubernetes(dep)
        if agent:
            context["config_template"] = self._templates["bao-agent-config.ctmpl.j2"].render(
                secret_path=config_secret, field=CONFIG_FIELD)
        return context

    def _kubernetes(self, dep: Deployment) -> dict[str, Any]:
        """What the k8s templates print beyond the common context: the pods' identity
        (the one its Kubernetes-auth role is bound to), their uid and the CSI volume."""
        k8s = environment_view(self.catalog, dep.environment).services[dep.service].kubernetes
        namespace, account = kubernetes_identity(dep.environment, dep.service, k8s.namespace,
                                                 k8s.service_account)
        return {"namespace": namespace, "service_account": account, "app_uid": K8S_APP_UID,
                "volume": K8S_KEY_VOLUME}

    def _litellm_alias(self, alias: str, routes: list[ResolvedRoute]) -> dict[str, Any]:
        """One alias of litellm.yaml, built and its `model_list` entries printed once per
        distinct routes list (`litellm-alias.yaml.j2`), then reused by every deployment."""
        hit = self._litellm.get((alias, id(routes)))
        if hit is None or hit[0] is not routes:
            deps = litellm_deployments(alias, routes)
            entry = _litellm_alias(alias, deps, [name for name, _ in deps if name != alias])
            entry["model_list"] = self._templates[_LITELLM_ALIAS].render(alias=entry)
            hit = self._litellm[(alias, id(routes))] = (routes, entry)
        return hit[1]

    def render(self, dep: Deployment) -> dict[str, bytes]:
        """Every file of one deployment, keyed by path relative to the output folder.

        First its `.gitignore` (what an agent may write there never reaches git), then
        each output the service names (in the registry's order, aigw.outputs) prints
        its template over the deployment's context into its file.
        """
        context = self._context(dep)
        base = _folder(dep)
        files: dict[str, bytes] = {f"{base}/{DEPLOYMENT_GITIGNORE}": self._gitignore(dep.key_dir)}
        wanted = set(environment_view(self.catalog, dep.environment).services[dep.service].outputs)
        for output in OUTPUTS.values():
            if output.name not in wanted:
                continue
            files[f"{base}/{output.file}"] = self._templates[output.template].render(
                context).encode()
            if output.agent_templates:
                for slot in context["slots"]:
                    files[f"{base}/{slot['source']}"] = slot["key_template"].encode()
                if context["publishes_config"]:
                    files[f"{base}/{AGENT_TEMPLATE_DIR}/{CLIENT_CONFIG}.ctmpl"] = \
                        context["config_template"].encode()
        return files


def _folder(dep: Deployment) -> str:
    """Where a deployment's files go in the output folder: `<env>/<service>`."""
    return f"{dep.environment}/{dep.service}"


def _litellm_alias(alias: str, deps: list[tuple[str, ResolvedRoute]],
                   fallbacks: list[str]) -> dict[str, Any]:
    """One alias of litellm.yaml as plain data: its deployments, then its fallbacks line."""
    return {
        "name": alias,
        "deployments": [_litellm_deployment(name, route, name == alias) for name, route in deps],
        "fallbacks": ", ".join(json.dumps(n) for n in fallbacks),
    }


def _litellm_deployment(name: str, route: ResolvedRoute, serving: bool) -> dict[str, Any]:
    """One `model_list` entry: LiteLLM's model name, its key variables, the route's timeout,
    retries and cooldown (docs/live-config.md#litellm-users), weight and extra."""
    api = APIS[route.api]
    env = key_env(SlotRef(route.provider, route.slot))
    return {
        "name": name,
        "model": f"{api.litellm_prefix}/{route.model}",
        "api_base": route.base_url,
        "key_fields": [(f, "os.environ/" + (env if f == "api_key" else f"{env}_{f.upper()}"))
                       for f in api.secret_fields],
        "timeout": route.timeout,
        "retries": route.retries,
        "cooldown": route.cooldown,
        "weight": route.weight if route.weight and serving else None,
        # Jinja's dictsort order (case-insensitive), which these files were first rendered with.
        "extra": [(k, json.dumps(v, sort_keys=True))
                  for k, v in sorted(route.extra.items(), key=lambda kv: str(kv[0]).lower())],
    }


def render_all(
    loaded: LoadedCatalog, env: str | None = None, service: str | None = None
) -> dict[str, bytes]:
    """Render every deployment in scope, in memory (what `aigw diff` and `aigw apply` read)."""
    cat = loaded.catalog
    check_scope(cat, env, service)
    files: dict[str, bytes] = {}
    for part in _in_parallel(_render_files, loaded, deployments(cat, env=env, service=service)):
        files.update(part)
    return files


def _render_files(renderer: Renderer, deps: list[Deployment]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for dep in deps:
        files.update(renderer.render(dep))
    return files


T = TypeVar("T")
R = TypeVar("R")
PARALLEL_FROM = 1500
_FORKED: tuple[Callable[[Renderer, list[Any]], Any], LoadedCatalog, list[Any]] | None = None


def _in_parallel(work: Callable[[Renderer, list[T]], R], loaded: LoadedCatalog,
                 items: list[T]) -> list[R]:
    """WORK over chunks of ITEMS, each chunk with its own Renderer; forked workers for many.

    Workers inherit the catalog, the items and WORK (nothing is pickled to them
    but two numbers); only WORK's results come back. The objects that exist
    already are frozen out of the garbage collector's scans while WORK runs
    (they are most of the heap, and nothing frees them meanwhile).
    """
    global _FORKED
    workers = min(os.cpu_count() or 1, 8)
    gc.freeze()
    try:
        if len(items) < PARALLEL_FROM or workers < 2 or "fork" not in mp.get_all_start_methods():
            return [work(Renderer(loaded), items)]
        size = -(-len(items) // workers)
        _FORKED = (work, loaded, items)
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            return list(pool.map(_forked, range(0, len(items), size), [size] * workers))
    finally:
        _FORKED = None
        gc.unfreeze()


def _forked(start: int, size: int) -> Any:
    assert _FORKED is not None, "only called in a worker forked by _in_parallel"
    work, loaded, items = _FORKED
    # A worker lives for one chunk and then exits: the collector's passes over its
    # growing heap (a sixth of its time at 10,000 services) would free nothing it needs.
    gc.disable()
    return work(Renderer(loaded), items[start:start + size])


@dataclass
class SyncResult:
    """What a render did (or, with check, would do) to the output folder.

    `kept` are files in scope that render did not write (not in its manifest):
    an agent's key files, a note put there by hand. They are reported, never
    touched. `skipped` of the `deployments` in scope were not rendered again:
    their inputs and files were as the manifest recorded (their files are in
    `unchanged`).
    """

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    diff: str = ""
    deployments: int = 0
    skipped: int = 0
    # Files holding a credential an agent would write that git would commit (gitguard).
    committable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def _in_scope(rel: str, env: str | None, service: str | None) -> bool:
    parts = rel.split("/")
    if env is not None and parts[0] != env:
        return False
    return not (service is not None and (len(parts) < 2 or parts[1] != service))


def render_into(loaded: LoadedCatalog, out: Path, *, env: str | None = None,
                service: str | None = None, check: bool = False) -> SyncResult:
    """`aigw render`: make OUT hold the files of every deployment in scope.

    A deployment whose inputs fingerprint (render_manifest.Fingerprints) and files
    on disk are as OUT's manifest recorded is not rendered again; the others are
    rendered and synced as `sync` does. With CHECK, only report the diff.
    """
    cat = loaded.catalog
    check_scope(cat, env, service)
    manifest, existing = _scan(out)
    if manifest is None and existing:  # files but no marker: sync refuses unless agents' own
        result = sync(out, render_all(loaded, env, service), env=env, service=service,
                      check=check)
        result.deployments = len(deployment_pairs(cat, env, service))
        return result
    manifest = manifest or Manifest()
    base = os.fspath(out)
    fingerprints = Fingerprints(cat)
    pairs = deployment_pairs(cat, env, service)
    result = SyncResult(deployments=len(pairs))
    entries: dict[str, Entry] = {}
    todo: list[tuple[str, str, Deployment]] = []
    cache: dict[Any, Any] = {}  # deployments resolved alike share their routes (catalog.view)
    for name, env_name in pairs:
        key, fingerprint = f"{env_name}/{name}", fingerprints(name, env_name)
        old = manifest.entries.get(key)
        if old is not None and old.fingerprint == fingerprint and \
                old.intact(base, manifest.mtime_ns):
            entries[key] = old
            result.unchanged.extend(old.files)
            result.skipped += 1
        else:
            todo.append((key, fingerprint, deployment(cat, name, env_name, cache)))
    diffs: list[tuple[str, str]] = []
    work = functools.partial(_render_and_put, base=base, existing=existing, check=check)
    for part, done in _in_parallel(work, loaded, todo):
        entries.update(part)
        result.written += done.written
        result.unchanged += done.unchanged
        diffs += done.diffs
    result = _finish(out, manifest, existing, entries, result, diffs, env, service, check)
    if not check:
        result.committable = _committable(cat, out, pairs)
    return result


def _committable(cat: Catalog, out: Path, pairs: list[tuple[str, str]]) -> list[str]:
    """The credential files of these deployments (token, keys, login) git would commit.

    Files below OUT (a relative key folder, the login) go to git as relative paths in one
    `git check-ignore` run there, and only when OUT is in a work tree; an absolute key
    folder (usually one per environment, shared) is asked about once.
    """
    from aigw.gitguard import (
        LOGIN_FILES,
        committable,
        committable_under,
        in_work_tree,
        key_probes,
        shown,
    )

    out_in_git = in_work_tree(out)
    rels: list[str] = []
    absolute: set[str] = set()
    for name, env_name in pairs:
        svc = environment_view(cat, env_name).services[name]
        key_dir = svc.key_dir or cat.environments[env_name].key_dir
        if key_dir.startswith("/"):
            absolute.add(key_dir)
        elif out_in_git:
            rels += key_probes(f"{env_name}/{name}/{key_dir}")
        if out_in_git and set(svc.outputs) & _AGENT_OUTPUTS:
            rels += [f"{env_name}/{name}/{login}" for login in LOGIN_FILES]
    found = committable(Path(p) for keys in sorted(absolute) for p in key_probes(keys))
    found += [out / rel for rel in committable_under(out, rels)]
    return sorted(set(map(shown, found)))


@dataclass
class _Put:
    """What putting some files into the folder did (picklable: workers return it)."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    diffs: list[tuple[str, str]] = field(default_factory=list)

    def files(self, base: str, existing: Mapping[str, str], files: dict[str, bytes],
              check: bool) -> dict[str, FileRecord | None]:
        """Write the FILES that differ from what is on disk; their manifest records."""
        records: dict[str, FileRecord | None] = {}
        for rel, data in files.items():
            path = f"{base}/{rel}"
            old = _read(existing[rel]) if rel in existing else None
            if old == data:
                self.unchanged.append(rel)
                records[rel] = None if check else record(os.stat(path), data)  # noqa: PTH116
                continue
            self.written.append(rel)
            if check:
                self.diffs.append((rel, _diff(rel, old, data)))
                records[rel] = None
            else:
                records[rel] = record(atomic_write(path, data, durable=False), data)
        return records


def _render_and_put(renderer: Renderer, todo: list[tuple[str, str, Deployment]], *, base: str,
                    existing: Mapping[str, str], check: bool) -> tuple[dict[str, Entry], _Put]:
    entries: dict[str, Entry] = {}
    put = _Put()
    for key, fingerprint, dep in todo:
        files = renderer.render(dep)
        entries[key] = Entry(fingerprint, put.files(base, existing, files, check),
                             sorted(_agent_runtime_files(files)))
    return entries, put


def _scan(out: Path) -> tuple[Manifest | None, dict[str, str]]:
    """OUT's manifest (None without a marker) and every file in it but the marker (rel -> path)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder", "pass --out a folder")
    existing: dict[str, str] = {}
    if not out.is_dir():
        return None, existing
    # Plain strings and scandir, not Path objects or os.walk: tens of thousands of files.
    folders = [("", os.fspath(out))]
    while folders:
        prefix, folder = folders.pop()
        with os.scandir(folder) as found:
            for item in found:
                if not item.is_dir():
                    existing[prefix + item.name] = item.path
                elif not item.is_symlink():  # as os.walk: a linked folder is not entered
                    folders.append((f"{prefix}{item.name}/", item.path))
    existing.pop(MARKER, None)
    return read_state(out), existing


def sync(
    out: Path, files: dict[str, bytes], *, env: str | None = None, service: str | None = None,
    check: bool = False,
) -> SyncResult:
    """Make OUT hold FILES within the scope; with CHECK, only report the diff.

    Only files in the marker's manifest (written by an earlier render) are
    removed when no longer produced; every other file is reported in `kept`.
    The manifest records no fingerprint: the next `render_into` renders again.
    """
    manifest, existing = _scan(out)
    if manifest is None and set(existing) - _agent_runtime_files(files):
        raise UsageError(f"{out} holds files aigw did not write (no {MARKER} marker)",
                         "render into an empty or aigw-owned folder")
    by_folder: dict[str, dict[str, bytes]] = {}
    for rel, data in files.items():
        by_folder.setdefault(deployment_key(rel), {})[rel] = data
    base = os.fspath(out)
    put = _Put()
    entries = {key: Entry(None, put.files(base, existing, part, check),
                          sorted(_agent_runtime_files(part)))
               for key, part in by_folder.items()}
    result = SyncResult(written=put.written, unchanged=put.unchanged)
    return _finish(out, manifest, existing, entries, result, put.diffs, env, service, check)


def _finish(out: Path, manifest: Manifest | None, existing: Mapping[str, str],
            entries: dict[str, Entry], result: SyncResult, diffs: list[tuple[str, str]],
            env: str | None, service: str | None, check: bool) -> SyncResult:
    """Remove render's files no deployment in scope has now, then write the manifest, last."""
    produced = {rel for entry in entries.values() for rel in entry.files}
    runtime = {rel for entry in entries.values() for rel in entry.runtime}
    ours = manifest.files() if manifest else set()
    emptied: set[Path] = set()
    for rel in sorted(existing):
        if rel in produced or rel in runtime or not _in_scope(rel, env, service):
            continue
        if rel not in ours:
            result.kept.append(rel)
            continue
        result.removed.append(rel)
        if check:
            diffs.append((rel, _diff(rel, _read(existing[rel]), None)))
        else:
            os.unlink(existing[rel])  # noqa: PTH108
            emptied.add(Path(existing[rel]).parent)
    if not check:
        others = {key: entry for key, entry in (manifest.entries if manifest else {}).items()
                  if not _in_scope(key, env, service)}
        data = marker_bytes(others | entries)
        if manifest is None or manifest.raw != data:
            atomic_write(out / MARKER, data)
        _prune_empty_dirs(out, emptied)
    result.written.sort()
    result.unchanged.sort()
    result.diff = "".join(text for _rel, text in sorted(diffs))
    return result


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:  # noqa: PTH123
        return fh.read()


def _diff(rel: str, old: bytes | None, new: bytes | None) -> str:
    a = old.decode(errors="replace").splitlines(keepends=True) if old is not None else []
    b = new.decode(errors="replace").splitlines(keepends=True) if new is not None else []
    return "".join(difflib.unified_diff(
        a, b, fromfile=f"a/{rel}" if old is not None else "/dev/null",
        tofile=f"b/{rel}" if new is not None else "/dev/null"))


def _prune_empty_dirs(out: Path, emptied: set[Path]) -> None:
    """Remove the folders that removing render's own files left empty (and their empty parents)."""
    for folder in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        path = folder
        while path != out and path.is_dir() and not any(path.iterdir()):
            path.rmdir()
            path = path.parent
