"""The Pulumi resources of the Vault stack: one dynamic resource type per kind of object.

Types are `pulumi-python:dynamic/aigw:<Kind>`; their CRUD lives in
`aigw.stack.providers`. Inputs never include a credential: the providers read
the OpenBao token from the engine's environment.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import Resource

from aigw.stack.limit_providers import ProviderLimitProvider
from aigw.stack.providers import (
    AuthBackendProvider,
    AuthConfigProvider,
    AuthRoleProvider,
    ClientConfigProvider,
    KvMountProvider,
    KvSlotProvider,
    PolicyProvider,
    VaultProvider,
)
from aigw.stack.report import TYPE_PREFIX
from aigw.stack.sdkfix import keep_pickler

Props = dict[str, Any]


class AigwResource(Resource):
    """A dynamic resource built with the pickle workaround (see aigw.stack.sdkfix)."""

    provider_class: ClassVar[type[VaultProvider] | type[ProviderLimitProvider]]

    def __init__(self, name: str, props: Props,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        with keep_pickler():
            super().__init__(self.provider_class(), name, props, opts)


class KvMount(AigwResource, module="aigw", name="KvMount"):
    """A KV v2 mount (inputs: addr, path, max_versions, cas_required)."""

    provider_class = KvMountProvider


class AuthBackend(AigwResource, module="aigw", name="AuthBackend"):
    """An enabled auth method (inputs: addr, method, path)."""

    provider_class = AuthBackendProvider


class KvSlot(AigwResource, module="aigw", name="KvSlot"):
    """A key slot's metadata (inputs: addr, mount, path, custom_metadata)."""

    provider_class = KvSlotProvider


class Policy(AigwResource, module="aigw", name="Policy"):
    """An ACL policy (inputs: addr, name, policy)."""

    provider_class = PolicyProvider


class AuthRole(AigwResource, module="aigw", name="AuthRole"):
    """An auth role (inputs: addr, method, mount, name, params)."""

    provider_class = AuthRoleProvider


class ClientConfig(AigwResource, module="aigw", name="ClientConfig"):
    """A published aigw-client.json (inputs: addr, mount, path, service, environment,
    revision, text, catalog_commit)."""

    provider_class = ClientConfigProvider


class AuthMethodConfig(AigwResource, module="aigw", name="AuthMethodConfig"):
    """An auth method's config (inputs: addr, path, config)."""

    provider_class = AuthConfigProvider


class ProviderLimit(AigwResource, module="aigw", name="ProviderLimit"):
    """A model's rate limits at the provider (inputs: aigw.stack.limits.LimitSpec.props)."""

    provider_class = ProviderLimitProvider


def provider_for(type_token: str) -> VaultProvider | ProviderLimitProvider | None:
    """The provider of an engine type token (`pulumi-python:dynamic/aigw:KvSlot`), or None
    for a type this aigw does not declare."""
    kind = _KINDS.get(type_token.rpartition(":")[2])
    return None if kind is None or not type_token.startswith(TYPE_PREFIX) else kind()


_KINDS = {cls.__name__: cls.provider_class for cls in AigwResource.__subclasses__()}
