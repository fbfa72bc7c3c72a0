"""Render per-service outputs from the catalog with sandboxed Jinja2 (`templates/`).

Output bytes are deterministic (sorted, no timestamps). Each deployment's files
are its `.gitignore`, then each output it names, in the registry's order
(aigw.outputs): its template printed over the deployment's context, or the bytes
its `content` hook builds, plus the files its `files` hook writes beside it. The
context is plain data: the common part is built here, the part only some outputs
need by their hooks (aigw.render_outputs). `aigw-client.json` is no template:
aigw.client_config builds it. Writing into a folder is aigw.render_sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template

from aigw import render_outputs  # noqa: F401  (registers every output's hooks)
from aigw.apis import APIS
from aigw.catalog import LoadedCatalog, environment_view
from aigw.catalog.models import Catalog
from aigw.catalog.view import Deployment, SlotRef, check_scope, deployments
from aigw.client_config import (
    CLIENT_CONFIG,
    ClientConfigs,
    publishes_config,
    routes_key,
)
from aigw.names import (
    AGENT_PID_FILE,
    APPROLE_MOUNT,
    CONFIG_FIELD,
    DEPLOYMENT_GITIGNORE,
    ROLE_ID_FILE,
    SECRET_ID_FILE,
    TOKEN_FILES,
    aws_key_parts,
    config_path,
    data_path,
    deployment_ignores,
    key_file_env,
    slot_path,
)
from aigw.outputs import AGENT_TEMPLATE_DIR, OUTPUTS, OutputHooks, hooks
from aigw.package_data import templates_dir
from aigw.render_fast import environment_class, flatten_globals, memo, quoted
from aigw.render_pool import in_parallel

# How the agent writes its token there: a template over its own token's lookup (its policy
# allows `auth/token/lookup-self`). Not a file sink: a sink's folder must exist when the
# agent starts, while templates create the key folder.
TOKEN_TEMPLATE = '{{ with secret "auth/token/lookup-self" }}{{ .Data.id }}{{ end }}'
# A deployment folder's .gitignore (names.deployment_ignores).
_GITIGNORE = "deployment.gitignore.j2"
_KEY_TEMPLATE = "bao-agent-key.ctmpl.j2"


class Renderer:
    """Renders the outputs of deployments; one Jinja environment, reused.

    Templates only loop and print: everything they show is resolved first into
    plain dicts, lists and strings (attribute lookups and calls through the
    sandbox cost more than the rendering itself), and what is the same for many
    deployments (an alias's part, a slot's agent template) is built once: the
    hooks keep theirs in `cache(name)`, keyed by canonical values.
    """

    def __init__(self, loaded: LoadedCatalog | Catalog, template_dir: Path | None = None) -> None:
        self.catalog = loaded if isinstance(loaded, Catalog) else loaded.catalog
        self.env = environment_class(
            loader=FileSystemLoader(str(template_dir or templates_dir())),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        # YAML/HCL-safe double-quoted string (JSON string syntax), without jinja's
        # HTML escaping. This and the rest of render's speed tricks: aigw.render_fast.
        self.env.filters["q"] = quoted
        self._templates = {name: self.env.get_template(name) for name in self.env.list_templates()}
        flatten_globals(self._templates.values())
        self.configs = ClientConfigs()
        # Each distinct routes_key gets a number: the caches below hash it once, not per lookup.
        self._interned: dict[tuple[Any, ...], int] = {}
        self._keys: tuple[Deployment | None, dict[str, int]] = (None, {})
        self._hooks: dict[str, OutputHooks] = {name: hooks(name) for name in OUTPUTS}
        self._caches: dict[str, dict[Any, Any]] = {}

    def template(self, name: str) -> Template:
        """A template under templates/, loaded once."""
        return self._templates[name]

    def cache(self, name: str) -> dict[Any, Any]:
        """A hook's own memo (one per renderer, so per worker; keeps nothing on the plain
        path: aigw.render_fast.memo)."""
        found = self._caches.get(name)
        if found is None:
            found = self._caches[name] = memo()
        return found

    def _gitignore(self, key_dir: str) -> bytes:
        """A deployment folder's .gitignore (the same for every deployment with this key_dir)."""
        cache = self.cache("gitignore")
        found = cache.get(key_dir)
        if found is None:
            found = cache[key_dir] = self._templates[_GITIGNORE].render(
                ignores=deployment_ignores(key_dir)).encode()
        return found

    def alias_keys(self, dep: Deployment) -> dict[str, int]:
        """Each alias's `routes_key`, as its number in this renderer: what render's shared
        parts are found by (equal numbers: equal values). Made once per deployment (the
        hooks of its outputs all ask)."""
        last, keys = self._keys
        if last is not dep:
            interned = self._interned
            keys = {alias: interned.setdefault(routes_key(alias, routes), len(interned))
                    for alias, routes in dep.aliases.items()}
            self._keys = (dep, keys)
        return keys

    def slot_list(self, dep: Deployment, agent: bool) -> list[dict[str, Any]]:
        """What the templates print per slot; AGENT: with its agent template too.

        A deployment's slots are those of its routes (catalog.view): deployments of an
        environment whose aliases resolve alike share one list.
        """
        cache = self.cache("slot lists")
        key = (dep.environment, dep.key_dir, agent, *self.alias_keys(dep).values())
        found = cache.get(key)
        if found is None:
            key_dir = dep.key_dir.rstrip("/")
            apis = {(r.provider, r.slot): r.api for rs in dep.aliases.values() for r in rs}
            found = cache[key] = [
                self._slot(dep, slot, apis[(slot.provider, slot.slot)], key_dir, agent)
                for slot in dep.slots]
        return found

    def _slot(self, dep: Deployment, slot: SlotRef, api: str, key_dir: str,
              agent: bool) -> dict[str, Any]:
        cache = self.cache("slots")
        key = (dep.environment, slot.provider, slot.slot, api, key_dir, agent)
        found = cache.get(key)
        if found is None:
            secret = data_path(dep.env, slot_path(dep.environment, dep.env, slot))
            aws = APIS[api].is_aws
            found = cache[key] = {
                "file_name": slot.file_name,
                "source": f"{AGENT_TEMPLATE_DIR}/{slot.file_name}.ctmpl",
                "key_path": f"{key_dir}/{slot.file_name}",
                "file_env": key_file_env(slot),
                "secret_path": secret,
                "csi_objects": (aws_key_parts(slot.file_name) if aws
                                else [(slot.file_name, "api_key")]),
            }
            if agent:
                found["key_template"] = self._templates[_KEY_TEMPLATE].render(
                    aws=aws, secret_path=secret)
        return found

    def context(self, dep: Deployment, outputs: list[str]) -> dict[str, Any]:
        """The plain data the templates of one deployment print: the common part, then
        what the hooks of its OUTPUTS add (a part two outputs share is built once)."""
        svc = environment_view(self.catalog, dep.environment).services[dep.service]
        key_dir = dep.key_dir.rstrip("/")
        context: dict[str, Any] = {
            "service": dep.service,
            "environment": dep.environment,
            "key_dir": dep.key_dir,
            "policy_name": dep.policy_name,
            "role_name": dep.role_name,
            "slots": self.slot_list(dep, agent=False),
            "client_config_file": CLIENT_CONFIG,
            "client_config_path": f"{key_dir}/{CLIENT_CONFIG}",
            "token_file": f"{key_dir}/{TOKEN_FILES[0]}",
            "approle_mount": APPROLE_MOUNT,
            "role_id_file": ROLE_ID_FILE,
            "secret_id_file": SECRET_ID_FILE,
            "pid_file": AGENT_PID_FILE,
            "openbao_address": dep.env.openbao_address,
            "token_template": TOKEN_TEMPLATE,
            "publishes_config": publishes_config(self.catalog, dep),
            "config_secret_path": data_path(dep.env, config_path(dep.environment, dep.env,
                                                                  dep.service)),
            "config_field": CONFIG_FIELD,
            "render_interval": f"{dep.env.agent_refresh}s",
            "retries": svc.defaults.retries,
            "cooldown": svc.defaults.cooldown,
        }
        done: set[Any] = set()
        for name in outputs:
            for part in self._hooks[name].context:
                if part not in done:
                    done.add(part)
                    context.update(part(self, dep))
        return context

    def render(self, dep: Deployment) -> dict[str, bytes]:
        """Every file of one deployment, keyed by path relative to the output folder.

        First its `.gitignore` (what an agent may write there never reaches git), then
        each output the service names, in the registry's order (aigw.outputs).
        """
        wanted = set(environment_view(self.catalog, dep.environment).services[dep.service].outputs)
        outputs = [name for name in OUTPUTS if name in wanted]
        context = self.context(dep, outputs)
        base = f"{dep.environment}/{dep.service}"
        files: dict[str, bytes] = {f"{base}/{DEPLOYMENT_GITIGNORE}": self._gitignore(dep.key_dir)}
        for name in outputs:
            output, hook = OUTPUTS[name], self._hooks[name]
            if output.template is None:
                assert hook.content is not None  # outputs.register_hooks checked it
                files[f"{base}/{output.file}"] = hook.content(self, dep)
            else:
                files[f"{base}/{output.file}"] = self._templates[output.template].render(
                    context).encode()
            if hook.files is not None:
                for rel, data in hook.files(self, dep, context).items():
                    files[f"{base}/{rel}"] = data
        return files


def render_all(
    loaded: LoadedCatalog, env: str | None = None, service: str | None = None
) -> dict[str, bytes]:
    """Render every deployment in scope, in memory (what `aigw diff` and `aigw apply` read)."""
    cat = loaded.catalog
    check_scope(cat, env, service)
    files: dict[str, bytes] = {}

    def work(deps: list[Deployment]) -> dict[str, bytes]:
        renderer = Renderer(loaded)
        out: dict[str, bytes] = {}
        for dep in deps:
            out.update(renderer.render(dep))
        return out

    for part in in_parallel(work, deployments(cat, env=env, service=service)):
        files.update(part)
    return files
