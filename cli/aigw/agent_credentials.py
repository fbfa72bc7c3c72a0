"""`aigw agent-credentials`: the AppRole login files a deployment's agent starts with.

The rendered `bao-agent.hcl` logs in with AppRole from two files (its
`role_id_file_path` and `secret_id_file_path`). This writes them: the role's
role-id and a *fresh* secret-id (optionally limited in uses and lifetime, or
response-wrapped), each 0600 and written atomically, and never prints either.

The file names are `aigw.names`' (`ROLE_ID_FILE`, `SECRET_ID_FILE`), the ones
render passes to templates/bao-agent.hcl.j2: relative there, so relative to the
folder the agent runs in, which is by default the deployment's folder that
`aigw render` writes (`rendered/<env>/<service>/` beside the catalog).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hvac

from aigw.catalog import LoadedCatalog
from aigw.catalog.overrides import environment_view
from aigw.catalog.view import check_scope, deployment, did_you_mean
from aigw.context import current
from aigw.errors import UsageError
from aigw.fsutil import atomic_write
from aigw.names import APPROLE_MOUNT, ROLE_ID_FILE, SECRET_ID_FILE
from aigw.outputs import AGENT_OUTPUT
from aigw.stack.spec import role_name
from aigw.vault import VaultSettings, connect


@dataclass(frozen=True)
class SecretIdOptions:
    """How the fresh secret-id is limited: uses (0 = the role's default), TTL, wrapping."""

    uses: int = 0
    ttl: int | None = None  # seconds; None = the role's secret_id_ttl
    wrap_ttl: int | None = None  # seconds; the file then holds a wrapping token


@dataclass(frozen=True)
class AgentLogin:
    """Where a deployment's agent reads its AppRole login (the names its config is rendered with)."""

    role: str
    auth_mount: str  # names.APPROLE_MOUNT (the config's `mount_path = "auth/approle"`)
    role_id_file: Path
    secret_id_file: Path
    key_dir: str  # where the agent writes its token and key files (relative: to its folder)


@dataclass(frozen=True)
class Written:
    """What `write_agent_credentials` did (never a value; the accessor only names the id)."""

    login: AgentLogin
    accessor: str
    wrapped: bool
    options: SecretIdOptions


def agent_login(loaded: LoadedCatalog, service: str, env: str, out: Path) -> AgentLogin:
    """The role and the two file paths of SERVICE's agent in ENV, running in folder OUT."""
    cat = loaded.catalog
    check_scope(cat, service=service)
    svc = cat.services[service]
    if env not in svc.environments:
        where = ("the catalog has no environment" if env not in cat.environments
                 else f"service '{service}' does not run in environment")
        raise UsageError(f"{where} '{env}'", hint=did_you_mean(env, svc.environments))
    if AGENT_OUTPUT not in environment_view(cat, env).services[service].outputs:
        raise UsageError(f"service '{service}' has no bao-agent output",
                         hint="add `bao-agent` to its `outputs:`; the AppRole login files are "
                         "for that agent")
    return AgentLogin(role=role_name(env, service), auth_mount=APPROLE_MOUNT,
                      role_id_file=out / ROLE_ID_FILE, secret_id_file=out / SECRET_ID_FILE,
                      key_dir=deployment(cat, service, env).key_dir)


def refuse_committable(login: AgentLogin) -> None:
    """A secret-id or a token must never be committable: refuse a folder git would track.

    The login files, and the key folder the agent will write its token and keys into.
    """
    from aigw.gitguard import committable, deployment_secrets

    folder = login.role_id_file.parent
    probes = [login.role_id_file, login.secret_id_file,
              *deployment_secrets(folder, login.key_dir, agent=False)]
    found = committable(probes)
    if not found:
        return
    path = found[0]
    login_file = path.name in (login.role_id_file.name, login.secret_id_file.name)
    what = "the agent's login" if login_file else "the agent's token and keys"
    hint = (f"add `{path.name}` to .gitignore, or pass --out a folder outside the repository"
            if login_file else "git-ignore the key folder (`aigw render` writes a .gitignore "
            "for a relative key_dir), or put key_dir outside the repository")
    raise UsageError(f"{path} is in a git work tree and not git-ignored: a commit could take "
                     f"{what}", hint=hint)


def write_agent_credentials(client: hvac.Client, vault: VaultSettings, login: AgentLogin,
                            options: SecretIdOptions) -> Written:
    """Read the role-id, mint a secret-id and write both files (0600, atomic)."""
    role_path = f"auth/{login.auth_mount}/role/{login.role}"
    with vault.errors():
        try:
            role_id = client.read(f"{role_path}/role-id")
        except hvac.exceptions.InvalidPath:
            role_id = None
        if not role_id:
            raise UsageError(f"OpenBao at {vault.addr} has no role '{login.role}'",
                             hint="run `aigw apply` first (it creates one AppRole role per "
                             "service and environment)")
        data: dict[str, object] = {}
        if options.uses:
            data["num_uses"] = options.uses
        if options.ttl is not None:
            data["ttl"] = f"{options.ttl}s"
        wrap = f"{options.wrap_ttl}s" if options.wrap_ttl is not None else None
        minted = client.write_data(f"{role_path}/secret-id", data=data, wrap_ttl=wrap)
    if wrap is not None:
        secret, accessor = minted["wrap_info"]["token"], minted["wrap_info"]["accessor"]
    else:
        secret, accessor = minted["data"]["secret_id"], minted["data"]["secret_id_accessor"]
    atomic_write(login.role_id_file, f"{role_id['data']['role_id']}\n".encode(), 0o600)
    atomic_write(login.secret_id_file, f"{secret}\n".encode(), 0o600)
    return Written(login=login, accessor=accessor, wrapped=wrap is not None, options=options)


def agent_credentials(path: Path, service: str, env: str, out: Path,
                      options: SecretIdOptions, vault: VaultSettings | None = None) -> Written:
    """What the command does: resolve the deployment and OpenBao, then write the files into OUT."""
    from aigw.catalog import load_catalog

    login = agent_login(load_catalog(path), service, env, out)
    refuse_committable(login)
    vault = vault or current().vault
    return write_agent_credentials(connect(vault), vault, login, options)
