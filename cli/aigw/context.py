"""The settings of one aigw run, resolved once: the project home, OpenBao, the engine.

The Typer callback (aigw.cli) builds one `Context` per command line from the
environment and the working directory and installs it (`use`); commands pass
`current()`'s parts to the core. Core functions take the parts they need as
arguments (tests pass explicit settings), falling back to `current()`.

Resolution order:

- home: explicit (`aigw dev --home`), else `$AIGW_HOME`, else the nearest folder
  at or above the working directory holding `.aigw/`, else the working directory;
- OpenBao: explicit address/token, else `BAO_*`/`VAULT_*` (envvars), else the
  running `aigw dev` server of the home; its token is only used for its own
  address, so a dev token is never sent to another server; CA settings from
  `BAO_CACERT`/`BAO_CAPATH`/`BAO_SKIP_VERIFY` (or the VAULT_ names);
- engine: `$PULUMI_BACKEND_URL` and `$PULUMI_CONFIG_PASSPHRASE[_FILE]`, else the
  dev backend and passphrase file under `<home>/.aigw/` (created once, 0600).

The parts are resolved when first asked for and then kept, so `aigw validate`
never imports hvac or looks for a dev server. Standard library only at the top.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from aigw import envvars
from aigw.errors import UsageError, VaultError, VaultUnreachable

if TYPE_CHECKING:
    from aigw.vault import TLS, VaultSettings

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}  # Go's strconv.ParseBool, as Vault uses
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


@dataclass(frozen=True)
class EngineSettings:
    """Backend and passphrase for the stacks; `repr` never shows the passphrase."""

    backend_url: str
    passphrase_env: Mapping[str, str] = field(repr=False)  # the one PULUMI_CONFIG_PASSPHRASE*
    source: str = "env"  # "env" or "dev"

    @property
    def backend_dir(self) -> Path | None:
        """The folder of a `file://` backend, None for other backends."""
        parts = urlsplit(self.backend_url)
        if parts.scheme != "file":
            return None
        return Path(unquote(parts.netloc + parts.path)).expanduser()


def resolve_tls(env: Mapping[str, str]) -> TLS:
    """CA settings from BAO_/VAULT_ CACERT, CAPATH and SKIP_VERIFY (then REQUESTS_CA_BUNDLE)."""
    from aigw.vault import TLS

    skip = False
    name = envvars.first_name(env, envvars.SKIP_VERIFY)
    if name is not None:
        value = env[name]
        if value not in _TRUE | _FALSE:
            raise UsageError(f"{name}={value}: expected a boolean", hint="use true or false")
        skip = value in _TRUE
    ca_cert = envvars.first(env, envvars.CACERT)
    ca_path = envvars.first(env, envvars.CAPATH)
    if ca_cert is None and ca_path is None:
        ca_cert = envvars.first(env, envvars.REQUESTS_CA)
    return TLS(ca_cert=ca_cert, ca_path=ca_path, skip_verify=skip)


def resolve_vault(addr: str | None = None, token: str | None = None, *,
                  env: Mapping[str, str] | None = None, cwd: Path | None = None,
                  home: Path | None = None) -> VaultSettings:
    """OpenBao settings: explicit args, then BAO_*/VAULT_* env, then the `aigw dev` server."""
    from aigw import dev
    from aigw.vault import UNREACHABLE_HINT, VaultSettings, normalize_addr, same_addr

    env = os.environ if env is None else env
    source = "explicit"
    if not addr:
        addr, source = envvars.first(env, envvars.ADDR), "env"
    token = token or envvars.first(env, envvars.TOKEN)
    if addr is None or token is None:
        running = dev.running_server(home or dev.default_home(cwd=cwd, env=env))
        if running is not None and addr is None:
            addr, token, source = running.addr, token or running.token, "dev"
        elif running is not None and token is None and same_addr(addr or "", running.addr):
            token = running.token
    if addr is None:
        raise VaultUnreachable("no OpenBao address configured", hint=UNREACHABLE_HINT)
    if token is None:
        raise VaultError(f"no token for OpenBao at {normalize_addr(addr)}",
                         hint="set BAO_TOKEN (or VAULT_TOKEN)")
    return VaultSettings(addr=normalize_addr(addr), token=token, source=source,
                         tls=resolve_tls(env))


def resolve_engine(env: Mapping[str, str] | None = None,
                   home: Path | None = None) -> EngineSettings:
    """Backend and passphrase from the environment, else the dev ones under `.aigw/`."""
    from aigw import dev

    env = os.environ if env is None else env
    paths = dev.DevPaths.of(home or dev.default_home(env=env))
    backend = env.get(envvars.PULUMI_BACKEND_URL)
    source = "env"
    if not backend:
        backend, source = dev.ensure_backend(paths), "dev"
    phrase: dict[str, str]
    if env.get(envvars.PULUMI_PASSPHRASE) is not None:
        phrase = {envvars.PULUMI_PASSPHRASE: env[envvars.PULUMI_PASSPHRASE]}
    elif env.get(envvars.PULUMI_PASSPHRASE_FILE):
        phrase = {envvars.PULUMI_PASSPHRASE_FILE: env[envvars.PULUMI_PASSPHRASE_FILE]}
    else:
        phrase = {envvars.PULUMI_PASSPHRASE_FILE: str(dev.ensure_passphrase(paths))}
    return EngineSettings(backend_url=backend, passphrase_env=phrase, source=source)


class Context:
    """One run's settings: the inputs are taken once; each part resolves once, when used."""

    def __init__(self, env: Mapping[str, str] | None = None, cwd: Path | None = None, *,
                 home: Path | None = None, addr: str | None = None,
                 token: str | None = None) -> None:
        self.env: Mapping[str, str] = dict(os.environ if env is None else env)
        self.cwd = (cwd or Path.cwd()).resolve()
        self._home, self._addr, self._token = home, addr, token

    def __repr__(self) -> str:  # the environment holds tokens
        return f"<Context cwd={self.cwd}>"

    @cached_property
    def home(self) -> Path:
        """The project folder holding `.aigw/` (see `aigw.dev.default_home`)."""
        if self._home is not None:
            return self._home.expanduser().resolve()
        from aigw import dev

        return dev.default_home(cwd=self.cwd, env=self.env)

    @cached_property
    def vault(self) -> VaultSettings:
        """Where OpenBao is, the token and the CA settings (raises VaultError if unknown)."""
        return resolve_vault(self._addr, self._token, env=self.env, home=self.home)

    def unreachable_hint(self) -> str:
        """The hint of an unreachable OpenBao: the variable that named the address when one
        did (starting a dev server would not help then), else `aigw dev up`."""
        from aigw.vault import UNREACHABLE_HINT

        var = envvars.first_name(self.env, envvars.ADDR)
        if self._addr is not None or var is None:
            return UNREACHABLE_HINT
        return f"{var} is {self.env[var]}: is OpenBao running there, and is that the address?"

    @cached_property
    def engine(self) -> EngineSettings:
        """The Pulumi backend and passphrase (creates the dev ones on first use)."""
        return resolve_engine(self.env, home=self.home)


_current: Context | None = None


def use(ctx: Context | None) -> None:
    """Install CTX as this run's context (the CLI callback); None forgets it."""
    global _current
    _current = ctx


def current() -> Context:
    """This run's context; outside a command (a test, a script) a fresh one of os.environ."""
    return _current if _current is not None else Context()
