"""Auth methods services log in with, and helpers to log in as a service.

The stack writes one role per service and environment at `auth/<path>/role/<name>`
for every method (AppRole, Kubernetes and JWT/OIDC all share that layout); only
the role's parameters differ. `ROLE_BUILDERS` is the one registry: a method is
usable when it has a builder here. Services log in with AppRole; deployments
with k8s outputs also get a Kubernetes role (`kubernetes_role_params`), and the
CI's jobs JWT roles (`ci_role_params`, from the catalog's `ci:` settings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import hvac

from aigw.catalog.models import CiSettings
from aigw.errors import UsageError
from aigw.names import APPROLE_MOUNT

TOKEN_TTL = 3600
TOKEN_MAX_TTL = 4 * 3600


@dataclass(frozen=True)
class AuthConfig:
    """How services of an environment authenticate: the method and where it is mounted."""

    method: str = "approle"
    path: str = APPROLE_MOUNT
    token_ttl: int = TOKEN_TTL
    token_max_ttl: int = TOKEN_MAX_TTL
    # Kubernetes: the namespace of every service account ("{env}" is the environment).
    k8s_namespace: str = "{env}"
    # JWT/OIDC: the audience tokens must carry, and the claim naming the service.
    jwt_audience: str = "aigw"
    jwt_subject_claim: str = "sub"


def _token_params(cfg: AuthConfig, policy: str) -> dict[str, object]:
    # No `default` policy: a service token can read its slots and manage itself,
    # nothing else (the default policy would open several sys/ paths).
    return {"token_policies": [policy], "token_no_default_policy": True,
            "token_ttl": cfg.token_ttl, "token_max_ttl": cfg.token_max_ttl}


def _approle(cfg: AuthConfig, service: str, env: str, policy: str) -> dict[str, object]:
    return {**_token_params(cfg, policy), "bind_secret_id": True, "secret_id_ttl": 0,
            "secret_id_num_uses": 0}


def _kubernetes(cfg: AuthConfig, service: str, env: str, policy: str) -> dict[str, object]:
    return {**_token_params(cfg, policy), "bound_service_account_names": [service],
            "bound_service_account_namespaces": [cfg.k8s_namespace.format(env=env)]}


def _jwt(cfg: AuthConfig, service: str, env: str, policy: str) -> dict[str, object]:
    return {**_token_params(cfg, policy), "role_type": "jwt", "user_claim": cfg.jwt_subject_claim,
            "bound_audiences": [cfg.jwt_audience],
            "bound_claims": {cfg.jwt_subject_claim: f"{env}:{service}"}}


# CI logins (docs/ci.md): GitHub's OIDC token names the job in `sub`, e.g.
# `repo:ORG/REPO:pull_request` or `repo:ORG/REPO:environment:prod`.
CI_TOKEN_TYPE = "service"


def github_claims(repository: str, *, environment: str | None,
                  branch: str | None) -> dict[str, str | list[str]]:
    """The claims a GitHub job's token must carry: a PR job (or, with BRANCH, also a job
    of that branch outside any environment: the scheduled drift check), or a job of an
    environment (on BRANCH when given). A list is "any of" (OpenBao's bound_claims)."""
    if environment is None:
        pr = f"repo:{repository}:pull_request"
        return {"sub": [pr, f"repo:{repository}:ref:refs/heads/{branch}"] if branch else pr,
                "repository": repository}
    claims: dict[str, str | list[str]] = {
        "sub": f"repo:{repository}:environment:{environment}",
        "repository": repository, "environment": environment}
    if branch is not None:
        claims["ref"] = f"refs/heads/{branch}"
    return claims


def ci_role_params(ci: CiSettings, policy: str,
                   claims: dict[str, str | list[str]]) -> dict[str, object]:
    """A CI job's JWT role: bound to its repository and job, granted exactly POLICY."""
    return {"role_type": "jwt", "user_claim": "sub", "bound_audiences": [ci.audience],
            "bound_claims": claims, "token_policies": [policy],
            "token_no_default_policy": True, "token_ttl": ci.token_ttl,
            "token_max_ttl": ci.token_max_ttl, "token_type": CI_TOKEN_TYPE}


def jwt_config(ci: CiSettings) -> dict[str, object]:
    """`auth/<path>/config`: OIDC discovery of the issuer, or the given public keys."""
    keys = [k.strip() for k in ci.jwt_validation_pubkeys]  # as OpenBao stores them
    return {"bound_issuer": ci.issuer, "oidc_discovery_url": "" if keys else ci.issuer,
            "jwt_validation_pubkeys": keys}


# Where the Kubernetes auth method is enabled: the path the Vault Agent injector
# (`vault.hashicorp.com/auth-path`) and the CSI provider (`vaultKubernetesMountPath`)
# use by default, so the rendered manifests need not name it.
K8S_AUTH_PATH = "kubernetes"


def kubernetes_role_params(cfg: AuthConfig, policy: str, *, namespace: str,
                           service_account: str) -> dict[str, object]:
    """A deployment's Kubernetes-auth role: its pods' service account in its namespace."""
    return {**_token_params(cfg, policy), "bound_service_account_names": [service_account],
            "bound_service_account_namespaces": [namespace]}


RoleBuilder = Callable[[AuthConfig, str, str, str], dict[str, object]]
ROLE_BUILDERS: dict[str, RoleBuilder] = {
    "approle": _approle,
    "kubernetes": _kubernetes,
    "jwt": _jwt,
}


def role_params(cfg: AuthConfig, service: str, env: str, policy: str) -> dict[str, object]:
    """The parameters of a service's role under `cfg.method`."""
    try:
        builder = ROLE_BUILDERS[cfg.method]
    except KeyError:
        raise UsageError(f"unknown auth method '{cfg.method}'",
                         hint=f"known: {', '.join(sorted(ROLE_BUILDERS))}") from None
    return builder(cfg, service, env, policy)


@dataclass(frozen=True)
class AppRoleCredentials:
    """What a service (or its agent) logs in with; `repr` never shows the secret_id."""

    role_id: str
    secret_id: str = field(repr=False)


def approle_credentials(client: hvac.Client, role: str, *,
                        mount: str = APPROLE_MOUNT) -> AppRoleCredentials:
    """Read a role's role_id and mint a fresh secret_id (needs an admin token)."""
    role_id = client.auth.approle.read_role_id(role, mount_point=mount)["data"]["role_id"]
    secret = client.auth.approle.generate_secret_id(role, mount_point=mount)
    return AppRoleCredentials(role_id=role_id, secret_id=secret["data"]["secret_id"])


def approle_login(addr: str, creds: AppRoleCredentials, *, mount: str = APPROLE_MOUNT,
                  timeout: float = 5.0) -> hvac.Client:
    """An hvac client logged in as the role (its token carries only the role's policy)."""
    client = hvac.Client(url=addr, timeout=timeout)
    client.auth.approle.login(creds.role_id, creds.secret_id, mount_point=mount)
    return client
