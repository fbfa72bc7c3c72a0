"""Every name and path aigw derives from catalog names, built in exactly one place.

Render, the Vault stack, rotation and `aigw keys` all call these, so a rule (the
`aigw-` prefix, the `svc-` slot of a per-service key, the `_aigw` bookkeeping
folder, a key's environment variable) cannot drift between them. Plain strings
in, plain strings out: this module imports nothing from aigw (docs/architecture.md,
"Names and Vault paths").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

PREFIX = "aigw"
# `keys: per-service` gives each service its own slot `svc-<service>` (reserved prefix).
PER_SERVICE_SLOT_PREFIX = "svc-"
# The slot of a provider's eval key: what `aigw eval` calls with, never a service's key.
EVAL_SLOT = "eval"
# The folder beside the slots holding rotation's bookkeeping and published configs.
BOOKKEEPING = "_aigw"
# The one field of a published config's KV v2 data: the file's exact text.
CONFIG_FIELD = "config"
# A published config's custom_metadata key naming the KV v2 version its `revision` was
# written with: a listed revision describes the entry only when this is its current version.
CONFIG_VERSION_META = "config_version"


class EnvironmentPaths(Protocol):
    """What the path builders read of an environment (catalog.models.Environment)."""

    @property
    def mount(self) -> str: ...

    @property
    def path_prefix(self) -> str | None: ...


class SlotName(Protocol):
    """A slot as the builders see it (catalog.view.SlotRef)."""

    @property
    def provider(self) -> str: ...

    @property
    def slot(self) -> str: ...


def access_name(env_name: str, service: str) -> str:
    """The OpenBao policy and auth roles of a service in an environment: `aigw-<env>-<service>`."""
    return f"{PREFIX}-{env_name}-{service}"


def kubernetes_identity(env_name: str, service: str, namespace: str | None = None,
                        service_account: str | None = None) -> tuple[str, str]:
    """(namespace, service account) a deployment's pods run as in Kubernetes.

    The catalog's `services.<s>.kubernetes` (NAMESPACE, SERVICE_ACCOUNT), else the
    environment's and the service's names. The stack binds the deployment's
    Kubernetes-auth role to them; the rendered k8s manifests create them.
    """
    return namespace or env_name, service_account or service


def shared_access_names(deployments: Iterable[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """The access names two or more (environment, service) pairs would share, sorted.

    OpenBao's policies and roles are global: `eu` + `west-app` and `eu-west` + `app`
    would both be `aigw-eu-west-app`.
    """
    owners: dict[str, set[tuple[str, str]]] = {}
    for env_name, service in deployments:
        owners.setdefault(access_name(env_name, service), set()).add((env_name, service))
    return {name: sorted(pairs) for name, pairs in sorted(owners.items()) if len(pairs) > 1}


def per_service_slot(service: str) -> str:
    """The slot of a service's own key under `keys: per-service`."""
    return f"{PER_SERVICE_SLOT_PREFIX}{service}"


def path_prefix(env_name: str, env: EnvironmentPaths) -> str:
    """The folder of an environment inside its mount."""
    return (env.path_prefix or env_name).strip("/")


def slot_path(env_name: str, env: EnvironmentPaths, ref: SlotName) -> str:
    """The KV v2 secret path of a slot, relative to the mount."""
    return f"{path_prefix(env_name, env)}/providers/{ref.provider}/{ref.slot}"


def bookkeeping_path(env_name: str, env: EnvironmentPaths, *parts: str) -> str:
    """A path in the environment's `_aigw` folder (journal, locks, audit, configs...)."""
    return "/".join((path_prefix(env_name, env), BOOKKEEPING, *parts))


def acks_folder(env_name: str, env: EnvironmentPaths) -> str:
    """The folder of an environment's consumer acknowledgements, relative to its mount."""
    return bookkeeping_path(env_name, env, "acks")


def ack_path(env_name: str, env: EnvironmentPaths, ref: SlotName, service: str) -> str:
    """Where SERVICE acknowledges the key of slot REF: `<folder>/<provider>/<slot>/<service>`.

    The one definition: the service's policy grants exactly these paths, its
    runtime writes them (aigw.client.acks, from the `acks` block of
    aigw-client.json), rotation and `aigw status` read them.
    """
    return f"{acks_folder(env_name, env)}/{ref.provider}/{ref.slot}/{service}"


def config_path(env_name: str, env: EnvironmentPaths, service: str) -> str:
    """The KV v2 path of a service's published `aigw-client.json`, relative to the mount.

    It sits in the environment's `_aigw` folder, beside rotation's bookkeeping, so
    it can never clash with a slot (`providers/...`) and is readable only by the
    service it names (docs/live-config.md).
    """
    return bookkeeping_path(env_name, env, "config", service)


def data_path(env: EnvironmentPaths, rel: str) -> str:
    """The full API path of a KV v2 entry's data: `<mount>/data/<rel>`."""
    return f"{env.mount}/data/{rel}"


def metadata_path(env: EnvironmentPaths, rel: str) -> str:
    """The full API path of a KV v2 entry's metadata: `<mount>/metadata/<rel>`."""
    return f"{env.mount}/metadata/{rel}"


def detailed_metadata_path(env: EnvironmentPaths, folder: str) -> str:
    """The API path LISTing a folder's entries with their KV v2 metadata (OpenBao's
    `detailed-metadata`; Vault has no such endpoint): `<mount>/detailed-metadata/<folder>`."""
    return f"{env.mount}/detailed-metadata/{folder}"


def key_file(provider: str, slot: str) -> str:
    """The file an agent writes a slot's key to (inside the deployment's key_dir)."""
    return f"{provider}.{slot}.key"


# An AWS slot's fields, one file each, where a volume cannot template a credentials file
# (the Kubernetes CSI driver writes one secret field per file): `<key file>.<suffix>`.
AWS_KEY_PARTS = (("id", "aws_access_key_id"), ("secret", "aws_secret_access_key"))


def aws_key_parts(file_name: str) -> list[tuple[str, str]]:
    """(file, field) of each file that holds one field of the AWS slot keyed at `file_name`."""
    return [(f"{file_name}.{suffix}", field) for suffix, field in AWS_KEY_PARTS]


# What a bao agent run beside its rendered bao-agent.hcl uses in that folder: the AppRole
# login `aigw agent-credentials` writes, and its pid file. Render passes these names to
# templates/bao-agent.hcl.j2, and `aigw agent-credentials` writes the login files by them.
ROLE_ID_FILE = "role-id"
SECRET_ID_FILE = "secret-id"
AGENT_PID_FILE = "agent.pid"
AGENT_FILES = (ROLE_ID_FILE, SECRET_ID_FILE, AGENT_PID_FILE)
# The AppRole auth method's mount the agent logs in at (`auth/<mount>`): where the stack
# enables AppRole and `aigw agent-credentials` reads the role-id and mints the secret-id.
APPROLE_MOUNT = "approle"
# A service's OpenBao token in its key folder: the one the bao-agent config writes, then
# the one the Vault Agent injector writes (`agent-inject-token`). The runtime takes the
# first that exists to write its acknowledgements (aigw.client.acks).
TOKEN_FILES = (".aigw-token", "token")
# The git ignore file `aigw render` writes into each deployment folder.
DEPLOYMENT_GITIGNORE = ".gitignore"


def key_file_patterns() -> list[str]:
    """Glob patterns of every file an agent or CSI volume writes per slot (git ignores them)."""
    pattern = key_file("*", "*")
    return [pattern, *(name for name, _field in aws_key_parts(pattern))]


def deployment_ignores(key_dir: str) -> list[str]:
    """What git must never take from a rendered deployment folder, as .gitignore lines.

    The agent's login and pid file beside its config, the key folder when `key_dir` is
    relative (it then lies inside the deployment folder: its tokens and keys), and the
    token and key file names wherever they land below the folder.
    """
    lines = [f"/{name}" for name in AGENT_FILES]
    rel = key_dir.strip().rstrip("/")
    if rel and not rel.startswith("/"):
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if parts and ".." not in parts:
            lines.append("/" + "/".join(parts) + "/")
    return lines + list(TOKEN_FILES) + key_file_patterns()


def _env_part(text: str) -> str:
    return text.upper().replace("-", "_")


def slot_env(ref: SlotName) -> str:
    """A slot's part of environment-variable names: `DEEPSEEK_SVC_BOT` for deepseek/svc-bot."""
    return f"{_env_part(ref.provider)}_{_env_part(ref.slot)}"


KEY_ENV_PREFIX = "AIGW_KEY_"
KEY_FILE_ENV_PREFIX = "AIGW_KEY_FILE_"


def key_env(ref: SlotName) -> str:
    """The environment variable holding a slot's key (LiteLLM's `os.environ/...`)."""
    return KEY_ENV_PREFIX + slot_env(ref)


def key_field_env(ref: SlotName, field: str) -> str:
    """The environment variable holding FIELD of a slot's secret: `key_env` for `api_key`,
    `<key_env>_<FIELD>` for the others (Bedrock's `..._AWS_ACCESS_KEY_ID`)."""
    base = key_env(ref)
    return base if field == "api_key" else f"{base}_{field.upper()}"


def key_file_env(ref: SlotName) -> str:
    """The aigw.env variable naming a slot's key file."""
    return KEY_FILE_ENV_PREFIX + slot_env(ref)
