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
import hashlib
import json
import multiprocessing as mp
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from aigw.apis import APIS
from aigw.catalog import LoadedCatalog
from aigw.catalog.models import Catalog
from aigw.catalog.view import (
    CONFIG_FIELD,
    Deployment,
    ResolvedRoute,
    SlotRef,
    config_path,
    data_path,
    deployments,
    slot_path,
)
from aigw.errors import UsageError
from aigw.fsutil import atomic_write
from aigw.resources import templates_dir
from aigw.rotation.slots import acks_folder

MARKER = ".aigw-rendered"
MARKER_TEXT = b"This folder is written by `aigw render`; edits here are overwritten.\n"
MANIFEST_HEAD = b"Files written by `aigw render` (the only ones it rewrites or removes):\n"
CLIENT_CONFIG = "aigw-client.json"
REVISION_FIELD = "revision"
REVISION_LEN = 16
AGENT_CONFIG = "bao-agent.hcl"
# The agent's token sink in the key folder (bao-agent.hcl.j2), then the file the Vault
# Agent injector writes with `agent-inject-token` (k8s-injector.yaml.j2): the runtime
# takes the first that exists to write its acknowledgements (aigw.client.acks).
TOKEN_FILES = (".aigw-token", "token")
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



def _env_name(text: str) -> str:
    return text.upper().replace("-", "_")


def key_env(slot: SlotRef) -> str:
    """The environment variable naming a slot's key (LiteLLM's os.environ/...)."""
    return f"AIGW_KEY_{_env_name(slot.provider)}_{_env_name(slot.slot)}"


def acks_block(dep: Deployment) -> dict[str, Any]:
    """Where the runtime writes its acknowledgements (docs/rotation.md#acknowledgements).

    `address` null: the service's BAO_ADDR / VAULT_ADDR, as for its agent. `path` is
    the folder under the KV v2 `mount`; entries are `<provider>/<slot>/<service>`.
    `token_files` are relative to `key_dir`.
    """
    return {"address": None, "mount": dep.env.mount,
            "path": acks_folder(dep.environment, dep.env),
            "token_files": list(TOKEN_FILES)}


def client_config(dep: Deployment) -> dict[str, Any]:
    """The aigw-client.json document of one deployment (docs/architecture.md)."""
    return {
        "version": 1,
        "service": dep.service,
        "environment": dep.environment,
        "key_dir": dep.key_dir,
        "acks": acks_block(dep),
        "aliases": {
            alias: {"family": APIS[routes[0].api].family,
                    "routes": [_route_json(r) for r in routes]}
            for alias, routes in sorted(dep.aliases.items())
        },
    }


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
    return out


def config_revision(doc: dict[str, Any]) -> str:
    """The revision of an aigw-client.json document (docs/architecture.md).

    SHA-256 over the document without its `revision` field, serialized as compact
    JSON with sorted keys and UTF-8 text (`json.dumps(doc, sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`), first 16 hex digits. Anyone can
    recompute it from the file; the catalog's git commit is deliberately not part
    of it (see docs/live-config.md).
    """
    body = {k: v for k, v in doc.items() if k != REVISION_FIELD}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:REVISION_LEN]


def with_revision(text: str) -> bytes:
    """The rendered client config with its `revision` stamped in (pretty, sorted, newline)."""
    doc = json.loads(text)
    doc[REVISION_FIELD] = config_revision(doc)
    return (_pretty_json(doc) + "\n").encode()


def publishes_config(cat: Catalog, dep: Deployment) -> bool:
    """True when a deployment renders (and so `aigw apply` publishes) an aigw-client.json."""
    return "aigw-client" in cat.services[dep.service].outputs


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


def litellm_aliases(dep: Deployment) -> list[tuple[str, list[tuple[str, ResolvedRoute]],
                                                      list[str]]]:
    """Per alias (sorted): its LiteLLM deployments and the names of its fallbacks."""
    out = []
    for alias, routes in sorted(dep.aliases.items()):
        deps = litellm_deployments(alias, routes)
        out.append((alias, deps, [name for name, _ in deps if name != alias]))
    return out


def _pretty_json(value: Any) -> str:
    """Indented, key-sorted JSON (orjson: the bytes of json.dumps(indent=2), 20x faster)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


class Renderer:
    """Renders the templates for deployments; one Jinja environment, reused."""

    def __init__(self, loaded: LoadedCatalog | Catalog, template_dir: Path | None = None) -> None:
        self.catalog = loaded if isinstance(loaded, Catalog) else loaded.catalog
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(template_dir or templates_dir())),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        self.env.filters["to_json"] = _pretty_json
        self.env.filters["to_json_inline"] = lambda v: json.dumps(v, sort_keys=True)
        # YAML/HCL-safe double-quoted string (JSON string syntax), without jinja's
        # HTML escaping and at C speed.
        self.env.filters["q"] = json.dumps
        self._templates = {name: self.env.get_template(name) for name in self.env.list_templates()}

    def client_config_file(self, dep: Deployment) -> bytes:
        """The bytes of one deployment's aigw-client.json (what apply publishes)."""
        return self._render_client(self._context(dep))

    def _render_client(self, context: dict[str, Any]) -> bytes:
        return with_revision(self._templates["aigw-client.json.j2"].render(**context))

    def _context(self, dep: Deployment) -> dict[str, Any]:
        svc = self.catalog.services[dep.service]
        apis = {r.slot and (r.provider, r.slot): r.api for rs in dep.aliases.values() for r in rs}
        key_dir = dep.key_dir.rstrip("/")
        config_secret = data_path(dep.env, config_path(dep.environment, dep.env, dep.service))

        def secret_path(slot: SlotRef) -> str:
            return data_path(dep.env, slot_path(dep.environment, dep.env, slot))

        def key_template(slot: SlotRef) -> str:
            return self._templates["bao-agent-key.ctmpl.j2"].render(
                api=apis[(slot.provider, slot.slot)], secret_path=secret_path(slot))

        def csi_objects(slot: SlotRef) -> list[tuple[str, str]]:
            if APIS[apis[(slot.provider, slot.slot)]].is_aws:
                return [(slot.file_name + ".id", "aws_access_key_id"),
                        (slot.file_name + ".secret", "aws_secret_access_key")]
            return [(slot.file_name, "api_key")]

        return {
            "dep": dep,
            "client_config": client_config(dep),
            "client_config_path": f"{key_dir}/{CLIENT_CONFIG}",
            "token_file": f"{key_dir}/{TOKEN_FILES[0]}",
            "token_template": TOKEN_TEMPLATE,
            "publishes_config": publishes_config(self.catalog, dep),
            "config_secret_path": config_secret,
            "config_field": CONFIG_FIELD,
            "render_interval": f"{dep.env.agent_refresh}s",
            "retries": svc.defaults.retries,
            "cooldown": svc.defaults.cooldown,
            "litellm_aliases": litellm_aliases(dep),
            "key_path": lambda s: f"{key_dir}/{s.file_name}",
            "slot_env": lambda s: f"{_env_name(s.provider)}_{_env_name(s.slot)}",
            "key_env": lambda r, suffix: key_env(SlotRef(r.provider, r.slot))
            + ("" if suffix == "API_KEY" else f"_{suffix}"),
            "litellm_model": lambda r: f"{APIS[r.api].litellm_prefix}/{r.model}",
            "secret_path": secret_path,
            "key_template": key_template,
            "csi_objects": csi_objects,
            "config_template": self._templates["bao-agent-config.ctmpl.j2"].render(
                secret_path=config_secret, field=CONFIG_FIELD),
        }

    def render(self, dep: Deployment) -> dict[str, bytes]:
        """Every file of one deployment, keyed by path relative to the output folder."""
        svc = self.catalog.services[dep.service]
        context = self._context(dep)
        base = f"{dep.environment}/{dep.service}"
        files: dict[str, bytes] = {}
        outputs = set(svc.outputs)

        def emit(name: str, template: str, **extra: Any) -> None:
            files[f"{base}/{name}"] = self._templates[template].render(**context, **extra).encode()

        if context["publishes_config"]:
            files[f"{base}/{CLIENT_CONFIG}"] = self._render_client(context)
        if "litellm" in outputs:
            emit("litellm.yaml", "litellm.yaml.j2")
        if "env" in outputs:
            emit("aigw.env", "aigw.env.j2")
        if "bao-agent" in outputs:
            emit(AGENT_CONFIG, "bao-agent.hcl.j2")
            for slot in dep.slots:
                files[f"{base}/templates/{slot.file_name}.ctmpl"] = \
                    context["key_template"](slot).encode()
            if context["publishes_config"]:
                files[f"{base}/templates/{CLIENT_CONFIG}.ctmpl"] = \
                    context["config_template"].encode()
        if "k8s-injector" in outputs:
            emit("k8s-injector.yaml", "k8s-injector.yaml.j2")
        if "k8s-csi" in outputs:
            emit("k8s-csi.yaml", "k8s-csi.yaml.j2")
        return files


def render_all(
    loaded: LoadedCatalog, env: str | None = None, service: str | None = None
) -> dict[str, bytes]:
    """Render every deployment in scope."""
    cat = loaded.catalog
    if env is not None and env not in cat.environments:
        raise UsageError(f"unknown environment '{env}'", f"known: {', '.join(sorted(cat.environments))}")
    if service is not None and service not in cat.services:
        raise UsageError(f"unknown service '{service}'", "see `services:` in the catalog")
    deps = deployments(cat, env=env, service=service)
    workers = min(os.cpu_count() or 1, 8)
    if len(deps) < PARALLEL_FROM or workers < 2 or "fork" not in mp.get_all_start_methods():
        return _render_chunk(loaded, deps)
    # Large catalogs: render chunks in forked workers (they inherit the parsed catalog).
    size = -(-len(deps) // workers)
    chunks = [deps[i:i + size] for i in range(0, len(deps), size)]
    files: dict[str, bytes] = {}
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        for part in pool.map(_render_chunk, [loaded] * len(chunks), chunks):
            files.update(part)
    return files


PARALLEL_FROM = 1500


def _render_chunk(loaded: LoadedCatalog, deps: list[Deployment]) -> dict[str, bytes]:
    renderer = Renderer(loaded)
    files: dict[str, bytes] = {}
    for dep in deps:
        files.update(renderer.render(dep))
    return files


@dataclass
class SyncResult:
    """What a render did (or, with check, would do) to the output folder.

    `kept` are files in scope that render did not write (not in its manifest):
    an agent's key files, a note put there by hand. They are reported, never
    touched.
    """

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    diff: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def _in_scope(rel: str, env: str | None, service: str | None) -> bool:
    parts = rel.split("/")
    if env is not None and parts[0] != env:
        return False
    return not (service is not None and (len(parts) < 2 or parts[1] != service))


def read_manifest(out: Path) -> set[str] | None:
    """The files render wrote into OUT, from its marker; None when OUT has no marker.

    A marker from before manifests (its first line only) lists nothing, so such a
    folder's files are all kept until render writes them again.
    """
    try:
        text = (out / MARKER).read_bytes()
    except FileNotFoundError:
        return None
    _head, _, listed = text.partition(MANIFEST_HEAD)
    return {line for line in listed.decode(errors="replace").splitlines() if line}


def _marker_bytes(manifest: set[str]) -> bytes:
    return MARKER_TEXT + MANIFEST_HEAD + "".join(f"{rel}\n" for rel in sorted(manifest)).encode()


def sync(
    out: Path, files: dict[str, bytes], *, env: str | None = None, service: str | None = None,
    check: bool = False,
) -> SyncResult:
    """Make OUT hold FILES within the scope; with CHECK, only report the diff.

    Only files in the marker's manifest (written by an earlier render) are
    removed when no longer produced; every other file is reported in `kept`.
    """
    result = SyncResult()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder", "pass --out a folder")
    existing: dict[str, Path] = {}
    manifest: set[str] | None = None
    if out.is_dir():
        manifest = read_manifest(out)
        runtime = _agent_runtime_files(files)  # an agent running in its folder: left alone
        for root, _dirs, names in os.walk(out):
            for name in names:
                path = Path(root) / name
                rel = path.relative_to(out).as_posix()
                if rel != MARKER and rel not in runtime:
                    existing[rel] = path
        if existing and manifest is None:
            raise UsageError(f"{out} holds files aigw did not write (no {MARKER} marker)",
                             "render into an empty or aigw-owned folder")
    ours = manifest or set()
    diffs: list[str] = []
    for rel in sorted(files):
        data = files[rel]
        path = out / rel
        old = path.read_bytes() if rel in existing else None
        if old == data:
            result.unchanged.append(rel)
            continue
        result.written.append(rel)
        if check:
            diffs.append(_diff(rel, old, data))
        else:
            atomic_write(path, data, durable=False)
    emptied: set[Path] = set()
    for rel in sorted(existing):
        if rel in files or not _in_scope(rel, env, service):
            continue
        if rel not in ours:
            result.kept.append(rel)
            continue
        result.removed.append(rel)
        if check:
            diffs.append(_diff(rel, existing[rel].read_bytes(), None))
        else:
            existing[rel].unlink()
            emptied.add(existing[rel].parent)
    if not check:
        new_manifest = {rel for rel in ours if not _in_scope(rel, env, service)} | set(files)
        if manifest != new_manifest:
            atomic_write(out / MARKER, _marker_bytes(new_manifest))
        _prune_empty_dirs(out, emptied)
    result.diff = "".join(diffs)
    return result


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
