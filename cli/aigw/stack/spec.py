"""The desired Vault/OpenBao objects of one environment, computed from the catalog.

This is the pure half of the stack: `environment_spec(catalog, env)` returns
plain frozen records (mount, auth method, key slots, policies, roles) that the
Pulumi program turns into resources. No Pulumi and no hvac here, so the rules
(names, paths, what each policy grants) are unit-testable on their own.

Names (docs/architecture.md):

- policy and auth role of a service in an environment: `aigw-<env>-<service>`
- a slot's secret: `<mount>/data/<path_prefix>/providers/<provider>/<slot>`
- a service's published client config: `<mount>/data/<path_prefix>/_aigw/config/<service>`
- the CI's JWT roles and their policies (same names): `aigw-ci-plan`,
  `aigw-ci-apply-<env>`, `aigw-ci-rotate` (docs/ci.md)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aigw.catalog import Catalog, environment_view
from aigw.catalog.models import format_duration
from aigw.catalog.view import Deployment, SlotRef, check_scope, deployments, used_slots
from aigw.client_config import REVISION_FIELD, ClientConfigs, publishes_config, serialize
from aigw.errors import UsageError
from aigw.names import (
    CONFIG_FIELD,
    EVAL_SLOT,
    PREFIX,
    access_name,
    ack_path,
    config_path,
    data_path,
    path_prefix,
    shared_access_names,
    slot_path,
)
from aigw.names import (
    kubernetes_identity as _kubernetes_identity,
)
from aigw.names import metadata_path as _metadata_path
from aigw.outputs import OUTPUTS
from aigw.stack.auth import (
    K8S_AUTH_PATH,
    AuthConfig,
    ci_role_params,
    github_claims,
    jwt_config,
    kubernetes_role_params,
    role_params,
)
from aigw.stack.limits import LimitSpec, limit_notes, limit_specs
from aigw.stack.policy import render_policy, render_template

# KV v2 settings of the mount: check-and-set on every write (rotation relies on
# it to detect a concurrent writer) and enough versions to keep old and new
# keys plus some history. Not catalog fields yet; see docs/stacks.md.
MAX_VERSIONS = 10
CAS_REQUIRED = True


def policy_name(env_name: str, service: str) -> str:
    """The ACL policy of a service in an environment (same as Deployment.policy_name)."""
    return access_name(env_name, service)


def role_name(env_name: str, service: str) -> str:
    """The auth role of a service in an environment: named like its policy."""
    return policy_name(env_name, service)


CI_PREFIX = f"{PREFIX}-ci"


def ci_plan_role() -> str:
    """The JWT role (and policy) of pull-request jobs: `aigw plan --refresh`, read-only."""
    return f"{CI_PREFIX}-plan"


def ci_apply_role(env_name: str) -> str:
    """The JWT role (and policy) of the job applying one environment."""
    return f"{CI_PREFIX}-apply-{env_name}"


def ci_rotate_role() -> str:
    """The JWT role (and policy) of the scheduled rotation job."""
    return f"{CI_PREFIX}-rotate"


def secret_path(cat: Catalog, env_name: str, ref: SlotRef) -> str:
    """The full API path of a slot's KV v2 data: `aigw/data/prod/providers/deepseek/default`."""
    env = cat.environments[env_name]
    return data_path(env, slot_path(env_name, env, ref))


def config_secret_path(cat: Catalog, env_name: str, service: str) -> str:
    """The full API path of a service's published aigw-client.json (KV v2 data)."""
    env = cat.environments[env_name]
    return data_path(env, config_path(env_name, env, service))


def metadata_path(cat: Catalog, env_name: str, ref: SlotRef) -> str:
    """The full API path of a slot's KV v2 metadata (what the stack manages)."""
    env = cat.environments[env_name]
    return _metadata_path(env, slot_path(env_name, env, ref))


@dataclass(frozen=True)
class MountSpec:
    """A KV v2 secrets engine. Shared by every environment that names it."""

    path: str
    max_versions: int = MAX_VERSIONS
    cas_required: bool = CAS_REQUIRED


@dataclass(frozen=True)
class AuthBackendSpec:
    """An auth method that must be enabled (e.g. approle at `approle/`)."""

    method: str
    path: str


@dataclass(frozen=True)
class SlotSpec:
    """One key slot: the KV v2 metadata of its secret (never its data)."""

    mount: str
    path: str  # relative to the mount
    provider: str
    slot: str
    driver: str
    max_age: str

    @property
    def custom_metadata(self) -> dict[str, str]:
        """What the stack writes into the entry's KV v2 custom_metadata."""
        return {"provider": self.provider, "slot": self.slot, "driver": self.driver,
                "max_age": self.max_age}


@dataclass(frozen=True)
class PolicySpec:
    """One service's ACL policy in one environment."""

    name: str
    service: str
    read_paths: tuple[str, ...]  # full API paths of the slot data (and own config) it may read
    text: str
    ack_paths: tuple[str, ...] = ()  # full API paths of its own acknowledgements (writes)


@dataclass(frozen=True)
class ConfigSpec:
    """One deployment's published aigw-client.json: the KV v2 entry's data, exactly the file.

    `text` is byte for byte the rendered file; `revision` is its `revision` field.
    Neither holds a key value (the file references key files by name).
    """

    mount: str
    path: str  # relative to the mount
    service: str
    environment: str
    revision: str
    text: str

    @property
    def data(self) -> dict[str, str]:
        """The entry's KV v2 data."""
        return {CONFIG_FIELD: self.text}


@dataclass(frozen=True)
class RoleSpec:
    """One service's auth role, bound to its policy; `params` depend on the auth method."""

    method: str
    mount: str
    name: str
    service: str
    policy: str
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CiSpec:
    """The CI's login: a JWT auth method, its config, and one role and policy per job kind.

    The method, its config and the plan and rotate roles are shared by every
    environment (each stack declares them with the same inputs); the apply role
    is this environment's own.
    """

    auth: AuthBackendSpec
    config: Mapping[str, object]
    policies: tuple[PolicySpec, ...]
    roles: tuple[RoleSpec, ...]

    @property
    def resource_count(self) -> int:
        return 2 + len(self.policies) + len(self.roles)


# The outputs whose pods log in with Kubernetes auth (a role per deployment).
K8S_OUTPUTS = tuple(o.name for o in OUTPUTS.values() if o.kubernetes)


@dataclass(frozen=True)
class K8sSpec:
    """The Kubernetes auth method and one role per deployment with a k8s output.

    The method's config (kubernetes_host, CA) is the cluster's: an operator sets it
    (docs/stacks.md); the stack enables the method and writes the roles.
    """

    auth: AuthBackendSpec
    roles: tuple[RoleSpec, ...]

    @property
    def resource_count(self) -> int:
        return 1 + len(self.roles)


def uses_kubernetes(cat: Catalog, service: str, env_name: str | None = None) -> bool:
    """Whether a service renders an output whose pods log in with Kubernetes auth
    (in ENV_NAME's merged view; with None, in any of its environments)."""
    envs = cat.services[service].environments if env_name is None else [env_name]
    return any(o in K8S_OUTPUTS for e in envs
               for o in environment_view(cat, e).services[service].outputs)


def kubernetes_identity(cat: Catalog, env_name: str, service: str) -> tuple[str, str]:
    """(namespace, service account) a deployment's pods run as: the catalog's, else
    the environment's name and the service's name."""
    k8s = environment_view(cat, env_name).services[service].kubernetes
    return _kubernetes_identity(env_name, service, k8s.namespace, k8s.service_account)


@dataclass(frozen=True)
class EnvSpec:
    """Everything the stack of one environment declares."""

    environment: str
    mount: MountSpec
    auth: AuthBackendSpec
    slots: tuple[SlotSpec, ...]
    policies: tuple[PolicySpec, ...]
    roles: tuple[RoleSpec, ...]
    configs: tuple[ConfigSpec, ...] = ()
    ci: CiSpec | None = None
    k8s: K8sSpec | None = None
    limits: tuple[LimitSpec, ...] = ()  # provider rate limits (aigw.stack.limits)
    limit_notes: tuple[str, ...] = ()  # alias limits at providers with no limit API

    @property
    def resource_count(self) -> int:
        """How many Pulumi resources the program declares for this spec."""
        extra = (self.ci.resource_count if self.ci else 0) + (
            self.k8s.resource_count if self.k8s else 0) + len(self.limits)
        return 2 + len(self.slots) + len(self.policies) + len(self.roles) + len(self.configs) \
            + extra


def slot_spec(cat: Catalog, env_name: str, ref: SlotRef) -> SlotSpec:
    """The stack's record of one slot's KV v2 metadata in an environment."""
    env = cat.environments[env_name]
    rotation = environment_view(cat, env_name).providers[ref.provider].rotation
    return SlotSpec(mount=env.mount, path=slot_path(env_name, env, ref), provider=ref.provider,
                    slot=ref.slot, driver=rotation.driver,
                    max_age=format_duration(rotation.max_age))


def _policy_spec(cat: Catalog, dep: Deployment) -> PolicySpec:
    paths = tuple(sorted([*(secret_path(cat, dep.environment, ref) for ref in dep.slots),
                          *config_read_paths(cat, dep)]))
    acks = ack_write_paths(cat, dep)
    name = policy_name(dep.environment, dep.service)
    text = render_policy(name=name, service=dep.service, environment=dep.environment,
                         read_paths=paths, ack_paths=acks)
    return PolicySpec(name=name, service=dep.service, read_paths=paths, text=text,
                      ack_paths=acks)


def ack_write_paths(cat: Catalog, dep: Deployment) -> tuple[str, ...]:
    """The acknowledgement entries a service may write: one per slot it uses, its own name.

    Exact paths, not `acks/+/+/<service>`: the `+` glob would also let it create
    entries for slots it does not use (harmless to rotation, but more than it needs).
    """
    env = cat.environments[dep.environment]
    return tuple(sorted(data_path(env, ack_path(dep.environment, env, ref, dep.service))
                        for ref in dep.slots))


def config_read_paths(cat: Catalog, dep: Deployment) -> list[str]:
    """What a service's policy grants on published configs: its own, when it has one."""
    if not publishes_config(cat, dep):
        return []
    return [config_secret_path(cat, dep.environment, dep.service)]


def config_specs(cat: Catalog, env_name: str) -> tuple[ConfigSpec, ...]:
    """The client config every deployment of the environment publishes (sorted by service)."""
    env = cat.environments[env_name]
    deps = [d for d in deployments(cat, env=env_name) if publishes_config(cat, d)]
    if not deps:
        return ()
    configs = ClientConfigs()
    out = []
    for dep in deps:
        doc = configs.document(dep)
        out.append(ConfigSpec(mount=env.mount, path=config_path(env_name, env, dep.service),
                              service=dep.service, environment=env_name,
                              revision=doc[REVISION_FIELD], text=serialize(doc).decode()))
    return tuple(out)


def _check_unique_names(cat: Catalog, env_name: str) -> None:
    """Policies and roles are global in OpenBao: `aigw-a-b-c` must name one deployment."""
    pairs = [(env, svc_name) for svc_name, svc in cat.services.items() for env in svc.environments]
    for name, owners in shared_access_names(pairs).items():
        if any(env == env_name for env, _ in owners):
            which = " and ".join(f"service '{s}' in '{e}'" for e, s in owners)
            raise UsageError(f"{which} would share the OpenBao policy and role '{name}'",
                             hint="rename the service or the environment")


@dataclass(frozen=True)
class _Folder:
    mount: str
    prefix: str


def _ci_spec(cat: Catalog, env_name: str, auth: AuthConfig) -> CiSpec | None:
    """The CI objects of environment `env_name`'s stack (None without `ci:` settings)."""
    ci = cat.ci
    if ci is None:
        return None
    if ci.auth_path == auth.path:
        raise UsageError(f"ci.auth_path '{ci.auth_path}' is where services log in",
                         hint="give the CI's JWT method its own path (default `jwt`)")
    env = cat.environments[env_name]
    folders = sorted({_Folder(e.mount, path_prefix(n, e)) for n, e in cat.environments.items()},
                     key=lambda f: (f.mount, f.prefix))
    k8s = [K8S_AUTH_PATH] if any(uses_kubernetes(cat, s) for s in cat.services) else []
    common = {"ci_auth": ci.auth_path, "auth_paths": [auth.path, *k8s]}
    texts = {
        ci_plan_role(): render_template(
            "ci-plan.hcl.j2", name=ci_plan_role(), **common, slot_folders=folders,
            eval_slot=EVAL_SLOT,
            mounts=sorted({f.mount for f in folders})),
        ci_apply_role(env_name): render_template(
            "ci-apply.hcl.j2", name=ci_apply_role(env_name), environment=env_name,
            mount=env.mount, prefix=path_prefix(env_name, env), **common),
        ci_rotate_role(): render_template("ci-rotate.hcl.j2", name=ci_rotate_role(),
                                          slot_folders=folders),
    }
    claims = {
        ci_plan_role(): github_claims(ci.repository, environment=None, branch=ci.branch),
        ci_apply_role(env_name): github_claims(ci.repository, environment=env_name,
                                               branch=ci.branch),
        ci_rotate_role(): github_claims(ci.repository, environment=ci.rotation_environment,
                                        branch=ci.branch),
    }
    names = sorted(texts)
    return CiSpec(
        auth=AuthBackendSpec(method="jwt", path=ci.auth_path),
        config=jwt_config(ci),
        policies=tuple(PolicySpec(name=n, service="", read_paths=(), text=texts[n])
                       for n in names),
        roles=tuple(RoleSpec(method="jwt", mount=ci.auth_path, name=n, service="", policy=n,
                             params=ci_role_params(ci, n, claims[n])) for n in names),
    )


def _k8s_spec(cat: Catalog, env_name: str, auth: AuthConfig,
              policies: tuple[PolicySpec, ...]) -> K8sSpec | None:
    """Kubernetes-auth roles of the environment's deployments that render k8s outputs."""
    if auth.path == K8S_AUTH_PATH:  # the services' own method already is Kubernetes
        return None
    roles = []
    for pol in policies:
        if not uses_kubernetes(cat, pol.service, env_name):
            continue
        namespace, account = kubernetes_identity(cat, env_name, pol.service)
        roles.append(RoleSpec(method="kubernetes", mount=K8S_AUTH_PATH,
                              name=role_name(env_name, pol.service), service=pol.service,
                              policy=pol.name, params=kubernetes_role_params(
                                  auth, pol.name, namespace=namespace,
                                  service_account=account)))
    if not roles:
        return None
    return K8sSpec(auth=AuthBackendSpec(method="kubernetes", path=K8S_AUTH_PATH),
                   roles=tuple(roles))


def environment_spec(cat: Catalog, env_name: str, auth: AuthConfig | None = None) -> EnvSpec:
    """The objects the stack of environment `env_name` must hold, sorted and deterministic."""
    check_scope(cat, env_name)
    _check_unique_names(cat, env_name)
    auth = auth or AuthConfig()
    env = cat.environments[env_name]
    deps = deployments(cat, env=env_name)
    policies = tuple(_policy_spec(cat, dep) for dep in deps)
    roles = tuple(
        RoleSpec(method=auth.method, mount=auth.path, name=role_name(env_name, p.service),
                 service=p.service, policy=p.name, params=role_params(auth, p.service, env_name,
                                                                      p.name))
        for p in policies
    )
    return EnvSpec(
        environment=env_name,
        mount=MountSpec(path=env.mount),
        auth=AuthBackendSpec(method=auth.method, path=auth.path),
        slots=tuple(slot_spec(cat, env_name, ref) for ref in used_slots(cat, env_name)),
        policies=policies,
        roles=roles,
        configs=config_specs(cat, env_name),
        ci=_ci_spec(cat, env_name, auth),
        k8s=_k8s_spec(cat, env_name, auth, policies),
        limits=limit_specs(cat, env_name),
        limit_notes=limit_notes(cat, env_name),
    )
