"""The one registry of outputs: what a service's `outputs:` may name, and how each renders.

The catalog's allowed names are this table's keys (catalog.models); `aigw render`
walks it (render.Renderer). An output is a template under `templates/` printing the
deployment's plain-data context into one file of `DIR/<env>/<service>/`, plus what
it needs beyond the common context. No Jinja or pydantic here: `aigw validate`
imports this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Output:
    """One output a service can ask for."""

    name: str
    file: str  # what it writes in DIR/<env>/<service>/
    template: str  # the template (under templates/) that prints it
    # It runs an OpenBao/Vault agent, whose templates write one key file per slot:
    # the context carries each slot's agent template and the live config's.
    agent: bool = False
    # It also writes those agent templates beside its file (templates/*.ctmpl).
    agent_templates: bool = False
    # It configures Kubernetes (the stack declares the service's Kubernetes auth role).
    kubernetes: bool = False


OUTPUTS: dict[str, Output] = {o.name: o for o in (
    Output("aigw-client", "aigw-client.json", "aigw-client.json.j2"),
    Output("litellm", "litellm.yaml", "litellm.yaml.j2"),
    Output("env", "aigw.env", "aigw.env.j2"),
    Output("bao-agent", "bao-agent.hcl", "bao-agent.hcl.j2", agent=True, agent_templates=True),
    Output("k8s-injector", "k8s-injector.yaml", "k8s-injector.yaml.j2", agent=True,
           kubernetes=True),
    Output("k8s-csi", "k8s-csi.yaml", "k8s-csi.yaml.j2", kubernetes=True),
)}
OUTPUT_NAMES = tuple(OUTPUTS)
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
