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
    AigwResource,
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
    EnvSpec,
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
                             batch: int = BATCH, only: frozenset[str] | None = None,
                             ) -> Declared:
    """`declare_environment`, waiting for each BATCH resources to be registered (only the
    resources named in ONLY, and the mount and auth method, when given: a targeted apply)."""
    into: list[Declared] = []
    pending: list[Any] = []
    for res in _declare(spec, addr, commit, into, only):
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


@dataclass(frozen=True)
class Planned:
    """One resource the program declares, before it is declared: its type, logical name,
    inputs, the logical names it is declared after, and where `Declared` keeps it."""

    kind: type[AigwResource]
    name: str
    props: dict[str, Any]
    after: tuple[str, ...] = ()
    group: str = ""  # a dict field of Declared ("slots", ...), or mount/auth; "" none
    key: str = ""  # its key in that dict


def planned_resources(spec: EnvSpec, addr: str, commit: str | None = None,
                      ) -> Iterator[Planned]:
    """Every resource of the environment, in dependency order, as plain records (no SDK
    call): what `_declare` declares, and what a targeted apply compares with the state."""
    mount = f"mount.{spec.mount.path}"
    yield Planned(KvMount, mount, {
        "addr": addr, "path": spec.mount.path, "max_versions": spec.mount.max_versions,
        "cas_required": spec.mount.cas_required}, group="mount")
    auth = _auth_backend(spec.auth, addr, "auth")
    yield auth
    for slot in spec.slots:
        yield Planned(KvSlot, f"slot.{slot.provider}.{slot.slot}", {
            "addr": addr, "mount": slot.mount, "path": slot.path,
            "custom_metadata": slot.custom_metadata}, (mount,), "slots", slot.path)
    yield from _plan_policies(spec.policies, addr)
    yield from _plan_roles(spec.roles, addr, auth.name, "roles")
    policies = {p.name for p in spec.policies}
    for cfg in spec.configs:  # after its policy: see _declare's docstring (keys ready)
        policy = policy_name(cfg.environment, cfg.service)
        after = (mount, f"policy.{policy}") if policy in policies else (mount,)
        yield Planned(ClientConfig, f"config.{cfg.service}", {
            "addr": addr, "mount": cfg.mount, "path": cfg.path, "service": cfg.service,
            "environment": cfg.environment, "revision": cfg.revision, "text": cfg.text,
            "catalog_commit": commit or ""}, after, "configs", cfg.service)
    if spec.k8s is not None:  # the Kubernetes auth method (kept when deleted) and its roles
        k8s_auth = _auth_backend(spec.k8s.auth, addr)
        yield k8s_auth
        yield from _plan_roles(spec.k8s.roles, addr, k8s_auth.name, "k8s_roles")
    if spec.ci is not None:  # the CI's JWT method, its config, roles and policies
        ci_auth = _auth_backend(spec.ci.auth, addr)
        yield ci_auth
        config = Planned(AuthMethodConfig, f"authconfig.{spec.ci.auth.path}", {
            "addr": addr, "path": spec.ci.auth.path, "config": dict(spec.ci.config)},
            (ci_auth.name,))
        yield config
        yield from _plan_policies(spec.ci.policies, addr)
        yield from _plan_roles(spec.ci.roles, addr, config.name, "roles")
    for lim in spec.limits:  # at the providers: independent of OpenBao's objects
        yield Planned(ProviderLimit, lim.resource_name, lim.props(), (), "limits",
                      lim.resource_name)


def _auth_backend(spec: AuthBackendSpec, addr: str, group: str = "") -> Planned:
    return Planned(AuthBackend, f"auth.{spec.path}", {
        "addr": addr, "method": spec.method, "path": spec.path}, group=group)


def _plan_policies(policies: Iterable[PolicySpec], addr: str) -> Iterator[Planned]:
    for pol in policies:
        yield Planned(Policy, f"policy.{pol.name}", {
            "addr": addr, "name": pol.name, "policy": pol.text}, (), "policies", pol.name)


def _plan_roles(roles: Iterable[RoleSpec], addr: str, after: str,
                group: str) -> Iterator[Planned]:
    """Each role after AFTER (its method, or the method's config) and its policy."""
    for role in roles:
        yield Planned(AuthRole, f"role.{role.mount}.{role.name}", {
            "addr": addr, "method": role.method, "mount": role.mount, "name": role.name,
            "params": dict(role.params)}, (after, f"policy.{role.policy}"), group, role.name)


# What later resources are declared after (kept by name while the program runs).
_DEPENDED_ON = (KvMount, AuthBackend, AuthMethodConfig, Policy)


def _declare(spec: EnvSpec, addr: str, commit: str | None, into: list[Declared],
             only: frozenset[str] | None = None) -> Iterator[pulumi.CustomResource]:
    """Declare the environment's resources (those named in ONLY, when given: the mount and
    the services' auth method are always declared) in dependency order, yielding each one.

    Client configs are declared after their service's policy: a running service switches
    to a new config within seconds, so the policy granting the slots it names must
    already be in OpenBao (keys ready: docs/safe-changes.md).
    """
    made: dict[str, pulumi.CustomResource] = {}
    out: Declared | None = None
    mount: Any = None
    for plan in planned_resources(spec, addr, commit):
        if only is not None and plan.name not in only and plan.group not in ("mount", "auth"):
            continue
        after = [made[n] for n in plan.after if n in made]
        opts = pulumi.ResourceOptions(depends_on=after) if after else None
        res = plan.kind(plan.name, plan.props, opts)
        if isinstance(res, _DEPENDED_ON):
            made[plan.name] = res
        if plan.group == "mount":
            mount = res
        elif plan.group == "auth":
            assert isinstance(res, AuthBackend)
            out = Declared(mount=mount, auth=res)
            into.append(out)
        elif plan.group:
            assert out is not None
            getattr(out, plan.group)[plan.key] = res
        yield res


def spec_program(spec: EnvSpec, addr: str, cluster_id: str = "",
                 commit: str | None = None, digest: str = "",
                 only: frozenset[str] | None = None) -> Callable[[], Any]:
    """The inline program declaring an already computed spec (and the server it targets);
    with ONLY, just those resources (and the mount and auth method): a targeted apply."""

    async def program() -> None:
        if cluster_id:
            pulumi.export(SERVER_OUTPUT, cluster_id)
        if digest:
            pulumi.export(SPEC_OUTPUT, digest)
        await declare_in_batches(spec, addr, commit, only=only)

    return program


def run_from_project(catalog_path: str | Path, env_name: str, addr: str) -> Declared:
    """The body of `stacks/__main__.py`: load the catalog and declare the stack."""
    loaded = load_catalog(catalog_path)
    return declare_environment(environment_spec(loaded.catalog, env_name), addr)
