"""The one registry of outputs: what a service's `outputs:` may name, and how each renders.

The catalog's allowed names are this table's keys, read when a catalog is validated
(catalog.models), so an output `register`ed before then validates; `aigw render`
walks it (aigw.render). An output writes one file of `DIR/<env>/<service>/`: a
template under `templates/` printing the deployment's plain-data context, or
(with no template) bytes its `content` hook builds.

The table here is plain data: no Jinja or pydantic, since `aigw validate` imports
it. What an output adds to the common context and the files it writes beside its
own are hooks (`OutputHooks`), registered for every output by the render layer
(aigw.render_outputs) and looked up with `hooks(name)`: a new output is a row here,
its template, and its hooks there when it needs more than the common context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Output:
    """One output a service can ask for."""

    name: str
    file: str  # what it writes in DIR/<env>/<service>/
    template: str | None  # the template (under templates/) that prints it; None: `content`
    # It runs an OpenBao/Vault agent, whose templates write one key file per slot:
    # the context carries each slot's agent template and the live config's.
    agent: bool = False
    # It configures Kubernetes (the stack declares the service's Kubernetes auth role).
    kubernetes: bool = False
    # Its agent runs in the deployment's folder and keeps files there beside the rendered
    # one (its login and pid file: aigw.names.AGENT_FILES), never render's to touch.
    agent_files: bool = False


OUTPUTS: dict[str, Output] = {o.name: o for o in (
    Output("aigw-client", "aigw-client.json", None),
    Output("litellm", "litellm.yaml", "litellm.yaml.j2"),
    Output("env", "aigw.env", "aigw.env.j2"),
    Output("bao-agent", "bao-agent.hcl", "bao-agent.hcl.j2", agent=True, agent_files=True),
    Output("k8s-injector", "k8s-injector.yaml", "k8s-injector.yaml.j2", agent=True,
           kubernetes=True),
    Output("k8s-csi", "k8s-csi.yaml", "k8s-csi.yaml.j2", kubernetes=True),
)}
# The client runtime's config; a service with this output gets its config published.
CLIENT_OUTPUT = "aigw-client"
AGENT_OUTPUT = "bao-agent"
DEFAULT_OUTPUTS = (CLIENT_OUTPUT, "litellm", "env", AGENT_OUTPUT)
AGENT_TEMPLATE_DIR = "templates"
# The uid the rendered Kubernetes Deployments run the app container as (not root). The
# injector's agent runs as the same uid (`agent-run-as-same-user`), so the key files it
# writes 0600 are the app's to read and no other user's; the CSI driver's files are 0644 in
# a volume only this pod mounts. Change it to your image's user
# (docs/stacks.md#kubernetes-manifests).
K8S_APP_UID = 10001
# The Deployment's CSI volume (k8s-csi); the injector brings its own (`vault-secrets`).
K8S_KEY_VOLUME = "aigw-keys"

# A hook's first argument is the renderer (aigw.render.Renderer), the second the
# deployment (aigw.catalog.view.Deployment): both live above this table.
ContextPart = Callable[[Any, Any], Mapping[str, Any]]


@dataclass(frozen=True)
class OutputHooks:
    """What one output needs beyond the common context and its template.

    `context`: parts, each adding keys to the deployment's context; a part two
    outputs share (the pods' identity, the agent's templates) is called once.
    `content`: the file's bytes, for an output without a template.
    `files`: the files it writes beside its own, (renderer, deployment, context) ->
    {path in the deployment folder: bytes}.
    """

    context: tuple[ContextPart, ...] = ()
    content: Callable[[Any, Any], bytes] | None = None
    files: Callable[[Any, Any, Mapping[str, Any]], Mapping[str, bytes]] | None = None


_HOOKS: dict[str, OutputHooks] = {}


def register_hooks(name: str, hooks: OutputHooks) -> None:
    """Give output NAME its hooks (once: a second registration is a bug)."""
    if name not in OUTPUTS:
        raise ValueError(f"no output {name!r} to hook (aigw.outputs.OUTPUTS)")
    if name in _HOOKS:
        raise ValueError(f"output {name!r} has its hooks already")
    output = OUTPUTS[name]
    if (output.template is None) == (hooks.content is None):
        raise ValueError(f"output {name!r} needs exactly one of a template and a content hook")
    _HOOKS[name] = hooks


def register(output: Output, hooks: OutputHooks) -> None:
    """Add OUTPUT, with its HOOKS, to the registry: code outside aigw adds an output this
    way (the catalog's `outputs:` accepts it from then on; tests/render/test_seams.py)."""
    if output.name in OUTPUTS:
        raise ValueError(f"output {output.name!r} exists already")
    OUTPUTS[output.name] = output
    try:
        register_hooks(output.name, hooks)
    except ValueError:
        del OUTPUTS[output.name]
        raise


def unregister(name: str) -> None:
    """Remove output NAME and its hooks (what `register` added, when its user is done)."""
    OUTPUTS.pop(name, None)
    _HOOKS.pop(name, None)


def hooks(name: str) -> OutputHooks:
    """The hooks of output NAME; every output has them once aigw.render_outputs is imported."""
    try:
        return _HOOKS[name]
    except KeyError:
        raise LookupError(f"output {name!r} has no hooks registered (aigw.render_outputs)") \
            from None
