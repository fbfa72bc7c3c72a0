"""Render per-service outputs from the catalog with sandboxed Jinja2, and sync them to disk.

Output bytes are deterministic (sorted, no timestamps). The output folder belongs
to aigw: it carries a `.aigw-rendered` marker, files no longer produced are
removed, unchanged files are not rewritten, and every write is atomic.
"""

from __future__ import annotations

import difflib
import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - optional accelerator
    orjson = None  # type: ignore[assignment]
from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from aigw.apis import APIS
from aigw.catalog import LoadedCatalog
from aigw.catalog.view import Deployment, ResolvedRoute, SlotRef, deployments, slot_path
from aigw.errors import UsageError
from aigw.fsutil import atomic_write
from aigw.resources import templates_dir

MARKER = ".aigw-rendered"
MARKER_TEXT = b"This folder is written by `aigw render`; edits here are overwritten.\n"


def _env_name(text: str) -> str:
    return text.upper().replace("-", "_")


def key_env(slot: SlotRef) -> str:
    """The environment variable naming a slot's key (LiteLLM's os.environ/...)."""
    return f"AIGW_KEY_{_env_name(slot.provider)}_{_env_name(slot.slot)}"


def client_config(dep: Deployment) -> dict[str, Any]:
    """The aigw-client.json document of one deployment (docs/architecture.md)."""
    return {
        "version": 1,
        "service": dep.service,
        "environment": dep.environment,
        "key_dir": dep.key_dir,
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
    }
    region_key = APIS[route.api].region_extra
    if region_key:
        # The client signs for and derives the endpoint from aws_region (base_url null).
        out["aws_region"] = extra.pop(region_key, None)
    out["extra"] = extra
    return out


def _pretty_json(value: Any) -> str:
    """Indented, key-sorted JSON; orjson when installed (same bytes, 20x faster)."""
    if orjson is not None:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


class Renderer:
    """Renders the templates for deployments; one Jinja environment, reused."""

    def __init__(self, loaded: LoadedCatalog, template_dir: Path | None = None) -> None:
        self.loaded = loaded
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

    def render(self, dep: Deployment) -> dict[str, bytes]:
        """Every file of one deployment, keyed by path relative to the output folder."""
        svc = self.loaded.catalog.services[dep.service]
        mount = dep.env.mount
        apis = {r.slot and (r.provider, r.slot): r.api for rs in dep.aliases.values() for r in rs}

        def secret_path(slot: SlotRef) -> str:
            return f"{mount}/data/{slot_path(dep.environment, dep.env, slot)}"

        def key_template(slot: SlotRef) -> str:
            return self._templates["bao-agent-key.ctmpl.j2"].render(
                api=apis[(slot.provider, slot.slot)], secret_path=secret_path(slot))

        def csi_objects(slot: SlotRef) -> list[tuple[str, str]]:
            if APIS[apis[(slot.provider, slot.slot)]].is_aws:
                return [(slot.file_name + ".id", "aws_access_key_id"),
                        (slot.file_name + ".secret", "aws_secret_access_key")]
            return [(slot.file_name, "api_key")]

        context = {
            "dep": dep,
            "client_config": client_config(dep),
            "client_config_path": f"{dep.key_dir.rstrip('/')}/aigw-client.json",
            "render_interval": f"{dep.env.agent_refresh}s",
            "retries": svc.defaults.retries,
            "cooldown": svc.defaults.cooldown,
            "has_fallbacks": any(len(r) > 1 for r in dep.aliases.values()),
            "key_path": lambda s: f"{dep.key_dir.rstrip('/')}/{s.file_name}",
            "slot_env": lambda s: f"{_env_name(s.provider)}_{_env_name(s.slot)}",
            "key_env": lambda r, suffix: key_env(SlotRef(r.provider, r.slot))
            + ("" if suffix == "API_KEY" else f"_{suffix}"),
            "litellm_name": lambda alias, i: alias if i == 1 else f"{alias}/fallback-{i - 1}",
            "litellm_model": lambda r: f"{APIS[r.api].litellm_prefix}/{r.model}",
            "secret_path": secret_path,
            "key_template": key_template,
            "csi_objects": csi_objects,
        }
        base = f"{dep.environment}/{dep.service}"
        files: dict[str, bytes] = {}
        outputs = set(svc.outputs)

        def emit(name: str, template: str, **extra: Any) -> None:
            files[f"{base}/{name}"] = self._templates[template].render(**context, **extra).encode()

        if "aigw-client" in outputs:
            emit("aigw-client.json", "aigw-client.json.j2")
        if "litellm" in outputs:
            emit("litellm.yaml", "litellm.yaml.j2")
        if "env" in outputs:
            emit("aigw.env", "aigw.env.j2")
        if "bao-agent" in outputs:
            emit("bao-agent.hcl", "bao-agent.hcl.j2")
            for slot in dep.slots:
                files[f"{base}/templates/{slot.file_name}.ctmpl"] = key_template(slot).encode()
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
    """What a render did (or, with check, would do) to the output folder."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    diff: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def _in_scope(rel: str, env: str | None, service: str | None) -> bool:
    parts = rel.split("/")
    if env is not None and parts[0] != env:
        return False
    return not (service is not None and (len(parts) < 2 or parts[1] != service))


def sync(
    out: Path, files: dict[str, bytes], *, env: str | None = None, service: str | None = None,
    check: bool = False,
) -> SyncResult:
    """Make OUT hold exactly FILES within the scope; with CHECK, only report the diff."""
    result = SyncResult()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} is not a folder", "pass --out a folder")
    existing: dict[str, Path] = {}
    if out.is_dir():
        has_marker = (out / MARKER).is_file()
        for root, _dirs, names in os.walk(out):
            for name in names:
                path = Path(root) / name
                rel = path.relative_to(out).as_posix()
                if rel != MARKER:
                    existing[rel] = path
        if existing and not has_marker:
            raise UsageError(f"{out} holds files aigw did not write (no {MARKER} marker)",
                             "render into an empty or aigw-owned folder")
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
    for rel in sorted(existing):
        if rel not in files and _in_scope(rel, env, service):
            result.removed.append(rel)
            if check:
                diffs.append(_diff(rel, existing[rel].read_bytes(), None))
            else:
                existing[rel].unlink()
    if not check:
        if not (out / MARKER).is_file():
            atomic_write(out / MARKER, MARKER_TEXT)
        _prune_empty_dirs(out)
    result.diff = "".join(diffs)
    return result


def _diff(rel: str, old: bytes | None, new: bytes | None) -> str:
    a = old.decode(errors="replace").splitlines(keepends=True) if old is not None else []
    b = new.decode(errors="replace").splitlines(keepends=True) if new is not None else []
    return "".join(difflib.unified_diff(
        a, b, fromfile=f"a/{rel}" if old is not None else "/dev/null",
        tofile=f"b/{rel}" if new is not None else "/dev/null"))


def _prune_empty_dirs(out: Path) -> None:
    for root, _dirs, _names in os.walk(out, topdown=False):
        path = Path(root)
        if path != out and not any(path.iterdir()):
            path.rmdir()
