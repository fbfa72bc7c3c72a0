"""The Vault/OpenBao stacks: what the catalog needs in OpenBao, converged by Pulumi.

Public API (see docs/stacks.md):

- names and paths: `policy_name`, `role_name`, `secret_path`, `metadata_path`
  (and `aigw.names.slot_path` for the path inside the mount);
- the desired state: `environment_spec(catalog, env) -> EnvSpec`;
- the program: `declare_environment(spec, addr)`, `spec_program(spec, addr)`;
- running it: `aigw.stack.run.plan/apply/destroy` (what `aigw plan/apply/destroy` call);
- logging in as a service: `approle_credentials(client, role)`, `approle_login(addr, creds)`.
"""

from __future__ import annotations

from aigw.stack.auth import AppRoleCredentials, AuthConfig, approle_credentials, approle_login
from aigw.stack.spec import (
    EnvSpec,
    environment_spec,
    metadata_path,
    policy_name,
    role_name,
    secret_path,
)

__all__ = [
    "AppRoleCredentials",
    "AuthConfig",
    "EnvSpec",
    "approle_credentials",
    "approle_login",
    "environment_spec",
    "metadata_path",
    "policy_name",
    "role_name",
    "secret_path",
]
