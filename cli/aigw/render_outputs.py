"""Each output's hooks (aigw.outputs.OutputHooks): what it adds to the context, what it writes.

The outputs registry is plain data at the bottom layer; the behaviour an output
needs beyond the common context (aigw.render.Renderer.context) and its template
is registered here, for every output, when aigw.render imports this module:

- `aigw-client`: its bytes are the client config document (aigw.client_config);
- `litellm`: each alias's `model_list` entries and fallbacks, printed once per
  distinct routes (keyed by their canonical value) and reused;
- `bao-agent`: the agent templates of each slot and of the live config, also
  written beside its config as `templates/*.ctmpl`;
- `k8s-injector`: the agent templates and the pods' identity; `k8s-csi`: the identity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aigw.apis import APIS
from aigw.catalog import environment_view
from aigw.catalog.view import Deployment, ResolvedRoute, SlotRef
from aigw.client_config import CLIENT_CONFIG
from aigw.names import CONFIG_FIELD, config_path, data_path, key_field_env, kubernetes_identity
from aigw.outputs import (
    AGENT_TEMPLATE_DIR,
    K8S_APP_UID,
    K8S_KEY_VOLUME,
    OutputHooks,
    register_hooks,
)

if TYPE_CHECKING:
    from aigw.render import Renderer

# The `model_list` entries of one alias, printed by litellm.yaml.j2 for each of its aliases.
_LITELLM_ALIAS = "litellm-alias.yaml.j2"
_CONFIG_TEMPLATE = "bao-agent-config.ctmpl.j2"
# Where the agent reads the live config's template, beside its config.
CONFIG_TEMPLATE_FILE = f"{AGENT_TEMPLATE_DIR}/{CLIENT_CONFIG}.ctmpl"


def _client_config(renderer: Renderer, dep: Deployment) -> bytes:
    return renderer.configs.file(dep, renderer.alias_keys(dep))


def _agent(renderer: Renderer, dep: Deployment) -> Mapping[str, Any]:
    """The agent's templates: one per slot (in `slots`), and the live config's."""
    secret = data_path(dep.env, config_path(dep.environment, dep.env, dep.service))
    return {"slots": renderer.slot_list(dep, agent=True), "config_source": CONFIG_TEMPLATE_FILE,
            "config_template": renderer.template(_CONFIG_TEMPLATE).render(
                secret_path=secret, field=CONFIG_FIELD)}


def _agent_files(renderer: Renderer, dep: Deployment,
                 context: Mapping[str, Any]) -> dict[str, bytes]:
    """The agent templates bao-agent.hcl names, beside it."""
    files = {slot["source"]: slot["key_template"].encode() for slot in context["slots"]}
    if context["publishes_config"]:
        files[CONFIG_TEMPLATE_FILE] = context["config_template"].encode()
    return files


def _kubernetes(renderer: Renderer, dep: Deployment) -> Mapping[str, Any]:
    """The pods' identity (the one its Kubernetes-auth role is bound to), uid and CSI volume."""
    k8s = environment_view(renderer.catalog, dep.environment).services[dep.service].kubernetes
    namespace, account = kubernetes_identity(dep.environment, dep.service, k8s.namespace,
                                             k8s.service_account)
    return {"kubernetes": {"namespace": namespace, "service_account": account,
                           "app_uid": K8S_APP_UID, "volume": K8S_KEY_VOLUME}}


def _litellm(renderer: Renderer, dep: Deployment) -> Mapping[str, Any]:
    """Each alias of litellm.yaml, its `model_list` entries printed once per distinct routes."""
    cache = renderer.cache("litellm")
    template = renderer.template(_LITELLM_ALIAS)
    aliases = []
    keys = renderer.alias_keys(dep)
    for alias, routes in sorted(dep.aliases.items()):
        key = keys[alias]
        entry = cache.get(key)
        if entry is None:
            deps = litellm_deployments(alias, routes)
            entry = _litellm_alias(alias, deps, [name for name, _ in deps if name != alias])
            entry["model_list"] = template.render(alias=entry)
            cache[key] = entry
        aliases.append(entry)
    return {"litellm": aliases}


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
    ref = SlotRef(route.provider, route.slot)
    return {
        "name": name,
        "model": f"{api.litellm_prefix}/{route.model}",
        "api_base": route.base_url,
        "key_fields": [(f, "os.environ/" + key_field_env(ref, f)) for f in api.secret_fields],
        "timeout": route.timeout,
        "retries": route.retries,
        "cooldown": route.cooldown,
        "weight": route.weight if route.weight and serving else None,
        # Jinja's dictsort order (case-insensitive), which these files were first rendered with.
        "extra": [(k, json.dumps(v, sort_keys=True))
                  for k, v in sorted(route.extra.items(), key=lambda kv: str(kv[0]).lower())],
    }


HOOKS: dict[str, OutputHooks] = {
    "aigw-client": OutputHooks(content=_client_config),
    "litellm": OutputHooks(context=(_litellm,)),
    "env": OutputHooks(),
    "bao-agent": OutputHooks(context=(_agent,), files=_agent_files),
    "k8s-injector": OutputHooks(context=(_agent, _kubernetes)),
    "k8s-csi": OutputHooks(context=(_kubernetes,)),
}
for _name, _hooks in HOOKS.items():
    register_hooks(_name, _hooks)  # an output missing here: Renderer() fails, naming it
