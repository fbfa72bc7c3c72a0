"""The Vault stack's Pulumi program: one stack per environment, resources from an EnvSpec.

`declare_environment(spec, addr)` is the whole program: it turns the records of
`aigw.stack.spec` into dynamic resources. aigw runs it as an Automation API
inline program (`environment_program`); `stacks/__main__.py` runs the same
function for users of the official CLI. Unit tests run it under
`pulumi.runtime.Mocks`.

Logical names are stable and readable, since they become URNs and show in plans:
`mount.<path>`, `auth.<path>`, `slot.<provider>.<slot>`, `policy.<name>`,
`role.<auth-path>.<name>`, `config.<service>`, `authconfig.<auth-path>` (the CI's JWT method).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from aigw.catalog import Catalog, load_catalog
from aigw.stack.auth import AuthConfig
from aigw.stack.resources import (
    AuthBackend,
    AuthMethodConfig,
    AuthRole,
    ClientConfig,
    KvMount,
    KvSlot,
    Policy,
)
from aigw.stack.spec import CiSpec, ConfigSpec, EnvSpec, K8sSpec, environment_spec

PROJECT = "aigw"


@dataclass
class Declared:
    """The resources one run of the program declared (for tests and exports)."""

    mount: KvMount
    auth: AuthBackend
    slots: dict[str, KvSlot] = field(default_factory=dict)  # by path inside the mount
    policies: dict[str, Policy] = field(default_factory=dict)  # by policy name
    roles: dict[str, AuthRole] = field(default_factory=dict)  # by role name
    configs: dict[str, ClientConfig] = field(default_factory=dict)  # by service
    k8s_roles: dict[str, AuthRole] = field(default_factory=dict)  # Kubernetes auth, by name


def declare_environment(spec: EnvSpec, addr: str, commit: str | None = None) -> Declared:
    """Declare every object of one environment; `addr` is recorded on each resource.

    COMMIT (the catalog's git commit, if any) is recorded with each config write.
    """
    mount = KvMount(f"mount.{spec.mount.path}", {
        "addr": addr, "path": spec.mount.path, "max_versions": spec.mount.max_versions,
        "cas_required": spec.mount.cas_required,
    })
    auth = AuthBackend(f"auth.{spec.auth.path}", {
        "addr": addr, "method": spec.auth.method, "path": spec.auth.path,
    })
    out = Declared(mount=mount, auth=auth)
    after_mount = pulumi.ResourceOptions(depends_on=[mount])
    for slot in spec.slots:
        out.slots[slot.path] = KvSlot(f"slot.{slot.provider}.{slot.slot}", {
            "addr": addr, "mount": slot.mount, "path": slot.path,
            "custom_metadata": slot.custom_metadata,
        }, after_mount)
    for pol in spec.policies:
        out.policies[pol.name] = Policy(f"policy.{pol.name}", {
            "addr": addr, "name": pol.name, "policy": pol.text,
        })
    for role in spec.roles:
        out.roles[role.name] = AuthRole(f"role.{role.mount}.{role.name}", {
            "addr": addr, "method": role.method, "mount": role.mount, "name": role.name,
            "params": dict(role.params),
        }, pulumi.ResourceOptions(depends_on=[auth, out.policies[role.policy]]))
    declare_configs(out, spec.configs, addr, commit, after_mount)
    if spec.k8s is not None:
        _declare_k8s(spec.k8s, addr, out)
    if spec.ci is not None:
        _declare_ci(spec.ci, addr, out)
    return out


def _declare_k8s(k8s: K8sSpec, addr: str, out: Declared) -> None:
    """The Kubernetes auth method (kept when deleted, like AppRole) and its roles."""
    auth = AuthBackend(f"auth.{k8s.auth.path}", {
        "addr": addr, "method": k8s.auth.method, "path": k8s.auth.path,
    })
    for role in k8s.roles:
        out.k8s_roles[role.name] = AuthRole(f"role.{role.mount}.{role.name}", {
            "addr": addr, "method": role.method, "mount": role.mount, "name": role.name,
            "params": dict(role.params),
        }, pulumi.ResourceOptions(depends_on=[auth, out.policies[role.policy]]))


def _declare_ci(ci: CiSpec, addr: str, out: Declared) -> None:
    """The CI's JWT method, its config, and its roles and policies (docs/ci.md)."""
    auth = AuthBackend(f"auth.{ci.auth.path}", {
        "addr": addr, "method": ci.auth.method, "path": ci.auth.path,
    })
    config = AuthMethodConfig(f"authconfig.{ci.auth.path}", {
        "addr": addr, "path": ci.auth.path, "config": dict(ci.config),
    }, pulumi.ResourceOptions(depends_on=[auth]))
    for pol in ci.policies:
        out.policies[pol.name] = Policy(f"policy.{pol.name}", {
            "addr": addr, "name": pol.name, "policy": pol.text,
        })
    for role in ci.roles:
        out.roles[role.name] = AuthRole(f"role.{role.mount}.{role.name}", {
            "addr": addr, "method": role.method, "mount": role.mount, "name": role.name,
            "params": dict(role.params),
        }, pulumi.ResourceOptions(depends_on=[config, out.policies[role.policy]]))


# The stack output naming the OpenBao server the state was recorded against
# (its `sys/health` cluster_id): `aigw plan` compares it with the server it talks to.
SERVER_OUTPUT = "openbao_cluster_id"


def declare_configs(out: Declared, configs: tuple[ConfigSpec, ...], addr: str,
                    commit: str | None, opts: pulumi.ResourceOptions) -> None:
    """One ClientConfig per deployment that publishes its aigw-client.json."""
    for cfg in configs:
        out.configs[cfg.service] = ClientConfig(f"config.{cfg.service}", {
            "addr": addr, "mount": cfg.mount, "path": cfg.path, "service": cfg.service,
            "environment": cfg.environment, "revision": cfg.revision, "text": cfg.text,
            "catalog_commit": commit or "",
        }, opts)


def environment_program(catalog: Catalog, env_name: str, addr: str,
                        auth: AuthConfig | None = None,
                        cluster_id: str = "", commit: str | None = None) -> Callable[[], None]:
    """The inline program of one environment's stack.

    The spec is computed here, before the engine starts, so catalog problems
    surface as aigw errors rather than as a failed Pulumi run.
    """
    return spec_program(environment_spec(catalog, env_name, auth), addr, cluster_id, commit)


def spec_program(spec: EnvSpec, addr: str, cluster_id: str = "",
                 commit: str | None = None) -> Callable[[], None]:
    """The inline program declaring an already computed spec (and the server it targets)."""

    def program() -> None:
        declare_environment(spec, addr, commit)
        if cluster_id:
            pulumi.export(SERVER_OUTPUT, cluster_id)

    return program


def run_from_project(catalog_path: str | Path, env_name: str, addr: str) -> Declared:
    """The body of `stacks/__main__.py`: load the catalog and declare the stack."""
    loaded = load_catalog(catalog_path)
    return declare_environment(environment_spec(loaded.catalog, env_name), addr)
