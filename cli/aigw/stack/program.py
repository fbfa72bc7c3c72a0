"""The Vault stack's Pulumi program: one stack per environment, resources from an EnvSpec.

`declare_environment(spec, addr)` is the whole program: it turns the records of
`aigw.stack.spec` into dynamic resources. aigw runs it as an Automation API
inline program (`spec_program`); `stacks/__main__.py` runs the same
function for users of the official CLI. Unit tests run it under
`pulumi.runtime.Mocks`.

Logical names are stable and readable, since they become URNs and show in plans:
`mount.<path>`, `auth.<path>`, `slot.<provider>.<slot>`, `policy.<name>`,
`role.<auth-path>.<name>`, `config.<service>`, `authconfig.<auth-path>` (the CI's JWT method),
`limit.<provider>.<project-or-workspace>.<model>` (provider rate limits, aigw.stack.limits).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from aigw.catalog import load_catalog
from aigw.stack.ids import SERVER_OUTPUT, SPEC_OUTPUT
from aigw.stack.resources import (
    AuthBackend,
    AuthMethodConfig,
    AuthRole,
    ClientConfig,
    KvMount,
    KvSlot,
    Policy,
    ProviderLimit,
)
from aigw.stack.spec import (
    AuthBackendSpec,
    CiSpec,
    EnvSpec,
    K8sSpec,
    PolicySpec,
    RoleSpec,
    environment_spec,
    policy_name,
)


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
    limits: dict[str, ProviderLimit] = field(default_factory=dict)  # by logical name
    every: list[pulumi.CustomResource] = field(default_factory=list)  # all, in order


def declare_environment(spec: EnvSpec, addr: str, commit: str | None = None) -> Declared:
    """Declare every object of one environment; `addr` is recorded on each resource.

    COMMIT (the catalog's git commit, if any) is recorded with each config write.
    """
    into: list[Declared] = []
    every = list(_declare(spec, addr, commit, into))
    into[0].every = every
    return into[0]


# How many resources the inline program has in flight at once. Declaring all of
# them up front keeps every one's request, futures and serialized inputs alive until
# the engine answers (the program's peak memory); awaiting each batch's URNs bounds it.
# 200 rather than 500, with each batch's slots, roles and configs forgotten once
# registered: the CLI's peak at 1,000 services fell from ~180 to ~130 MB (docs/stacks.md).
BATCH = 200


async def declare_in_batches(spec: EnvSpec, addr: str, commit: str | None = None,
                             batch: int = BATCH) -> Declared:
    """`declare_environment`, waiting for each BATCH resources to be registered."""
    into: list[Declared] = []
    pending: list[Any] = []
    for res in _declare(spec, addr, commit, into):
        pending.append(res.urn.future())
        if len(pending) >= batch:
            await asyncio.gather(*pending)
            pending = []
            _forget_registered(into[0])
    await asyncio.gather(*pending)
    return into[0]


def _forget_registered(out: Declared) -> None:
    """Drop the registered resources nothing declared later refers to (slots, roles, limits,
    configs; policies stay: roles and configs depend on them), so their outputs and
    futures are freed batch by batch instead of living until the program ends."""
    for kept in (out.slots, out.roles, out.configs, out.k8s_roles, out.limits):
        kept.clear()


def _declare(spec: EnvSpec, addr: str, commit: str | None,
             into: list[Declared]) -> Iterator[pulumi.CustomResource]:
    """Declare the environment's resources in dependency order, yielding each one."""
    mount = KvMount(f"mount.{spec.mount.path}", {
        "addr": addr, "path": spec.mount.path, "max_versions": spec.mount.max_versions,
        "cas_required": spec.mount.cas_required,
    })
    yield mount
    auth = _auth_backend(spec.auth, addr)
    yield auth
    out = Declared(mount=mount, auth=auth)
    into.append(out)
    after_mount = pulumi.ResourceOptions(depends_on=[mount])
    for slot in spec.slots:
        out.slots[slot.path] = KvSlot(f"slot.{slot.provider}.{slot.slot}", {
            "addr": addr, "mount": slot.mount, "path": slot.path,
            "custom_metadata": slot.custom_metadata,
        }, after_mount)
        yield out.slots[slot.path]
    yield from _declare_policies(spec.policies, addr, out)
    yield from _declare_roles(spec.roles, addr, auth, out, out.roles)
    yield from _declare_configs(out, spec, addr, commit, mount)
    if spec.k8s is not None:
        yield from _declare_k8s(spec.k8s, addr, out)
    if spec.ci is not None:
        yield from _declare_ci(spec.ci, addr, out)
    for lim in spec.limits:  # at the providers: independent of OpenBao's objects
        out.limits[lim.resource_name] = ProviderLimit(lim.resource_name, lim.props())
        yield out.limits[lim.resource_name]


def _declare_k8s(k8s: K8sSpec, addr: str, out: Declared) -> Iterator[pulumi.CustomResource]:
    """The Kubernetes auth method (kept when deleted, like AppRole) and its roles."""
    auth = _auth_backend(k8s.auth, addr)
    yield auth
    yield from _declare_roles(k8s.roles, addr, auth, out, out.k8s_roles)


def _declare_ci(ci: CiSpec, addr: str, out: Declared) -> Iterator[pulumi.CustomResource]:
    """The CI's JWT method, its config, and its roles and policies (docs/ci.md)."""
    auth = _auth_backend(ci.auth, addr)
    yield auth
    config = AuthMethodConfig(f"authconfig.{ci.auth.path}", {
        "addr": addr, "path": ci.auth.path, "config": dict(ci.config),
    }, pulumi.ResourceOptions(depends_on=[auth]))
    yield config
    yield from _declare_policies(ci.policies, addr, out)
    yield from _declare_roles(ci.roles, addr, config, out, out.roles)


def _auth_backend(spec: AuthBackendSpec, addr: str) -> AuthBackend:
    return AuthBackend(f"auth.{spec.path}", {
        "addr": addr, "method": spec.method, "path": spec.path,
    })


def _declare_policies(policies: Iterable[PolicySpec], addr: str,
                      out: Declared) -> Iterator[pulumi.CustomResource]:
    for pol in policies:
        out.policies[pol.name] = Policy(f"policy.{pol.name}", {
            "addr": addr, "name": pol.name, "policy": pol.text,
        })
        yield out.policies[pol.name]


def _declare_roles(roles: Iterable[RoleSpec], addr: str, after: pulumi.CustomResource,
                   out: Declared, into: dict[str, AuthRole]) -> Iterator[pulumi.CustomResource]:
    """Each role after AFTER (its method, or the method's config) and its policy."""
    for role in roles:
        into[role.name] = AuthRole(f"role.{role.mount}.{role.name}", {
            "addr": addr, "method": role.method, "mount": role.mount, "name": role.name,
            "params": dict(role.params),
        }, pulumi.ResourceOptions(depends_on=[after, out.policies[role.policy]]))
        yield into[role.name]



def _declare_configs(out: Declared, spec: EnvSpec, addr: str, commit: str | None,
                     mount: KvMount) -> Iterator[pulumi.CustomResource]:
    """One ClientConfig per deployment that publishes its aigw-client.json.

    Each is written after its service's policy: a running service switches to a
    new config within seconds, so the policy granting the slots it names must
    already be in OpenBao (keys ready: docs/safe-changes.md).
    """
    for cfg in spec.configs:
        after: list[pulumi.Resource] = [mount]
        policy = out.policies.get(policy_name(cfg.environment, cfg.service))
        if policy is not None:
            after.append(policy)
        opts = pulumi.ResourceOptions(depends_on=after)
        out.configs[cfg.service] = ClientConfig(f"config.{cfg.service}", {
            "addr": addr, "mount": cfg.mount, "path": cfg.path, "service": cfg.service,
            "environment": cfg.environment, "revision": cfg.revision, "text": cfg.text,
            "catalog_commit": commit or "",
        }, opts)
        yield out.configs[cfg.service]


def spec_program(spec: EnvSpec, addr: str, cluster_id: str = "",
                 commit: str | None = None, digest: str = "") -> Callable[[], Any]:
    """The inline program declaring an already computed spec (and the server it targets)."""

    async def program() -> None:
        if cluster_id:
            pulumi.export(SERVER_OUTPUT, cluster_id)
        if digest:
            pulumi.export(SPEC_OUTPUT, digest)
        await declare_in_batches(spec, addr, commit)

    return program


def run_from_project(catalog_path: str | Path, env_name: str, addr: str) -> Declared:
    """The body of `stacks/__main__.py`: load the catalog and declare the stack."""
    loaded = load_catalog(catalog_path)
    return declare_environment(environment_spec(loaded.catalog, env_name), addr)
