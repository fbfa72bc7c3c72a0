"""The OpenBao/Vault adapter: the one hvac client factory and the one place
hvac/requests errors become VaultErrors.

Usage::

    settings = context.current().vault          # resolved by aigw.context
    client = connect(settings)
    with settings.errors():
        client.secrets.kv.v2.read_secret_version(path=..., mount_point=...)

This module resolves nothing: where the server is, which token and which CA
certificates to use come in a `VaultSettings` (aigw.context builds it from flags,
the environment and a running `aigw dev` server). Code that expects a specific
hvac error (a 404 meaning "no such key yet", a 400 from a check-and-set conflict)
catches it inside the `with` block; whatever escapes is mapped here. Messages
name the address and the path, never the token.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import hvac
import hvac.exceptions as hx
import requests

from aigw import envvars
from aigw.errors import AigwError, VaultError, VaultForbidden, VaultUnreachable

DEFAULT_TIMEOUT = 10.0
UNREACHABLE_HINT = "start one with `aigw dev up`, or set BAO_ADDR"


@dataclass(frozen=True)
class TLS:
    """How to verify the server's certificate (BAO_CACERT, BAO_CAPATH, BAO_SKIP_VERIFY)."""

    ca_cert: str | None = None  # a PEM file; wins over ca_path, as in Vault's client
    ca_path: str | None = None  # a folder of PEM files
    skip_verify: bool = False

    @property
    def verify(self) -> str | bool:
        """requests' `verify=`: False, a CA file or folder, or True (the system store)."""
        if self.skip_verify:
            return False
        return self.ca_cert or self.ca_path or True

    def as_env(self) -> dict[str, str]:
        """The BAO_*/VAULT_* variables that give a child process these settings."""
        out: dict[str, str] = {}
        for names, value in ((envvars.CACERT, self.ca_cert), (envvars.CAPATH, self.ca_path),
                             (envvars.SKIP_VERIFY, "true" if self.skip_verify else None)):
            if value:
                out.update(dict.fromkeys(names, value))
        return out


@dataclass(frozen=True)
class VaultSettings:
    """Where OpenBao/Vault is and which token to use; `repr` never shows the token."""

    addr: str
    token: str = field(repr=False)
    source: str = "explicit"  # "explicit", "env" or "dev": where the address came from
    tls: TLS = TLS()

    def errors(self) -> AbstractContextManager[None]:
        """`vault_errors` for this server, blanking this token out of quoted messages."""
        return vault_errors(self.addr, redact=[self.token])

    def as_env(self) -> dict[str, str]:
        """BAO_/VAULT_ ADDR, TOKEN and the TLS variables for a child process (holds the token)."""
        out = dict.fromkeys(envvars.ADDR, self.addr)
        out.update(dict.fromkeys(envvars.TOKEN, self.token))
        out.update(self.tls.as_env())
        return out


def normalize_addr(addr: str) -> str:
    """`http://127.0.0.1:8200/` -> `http://127.0.0.1:8200` (so addresses compare equal)."""
    return addr.strip().rstrip("/")


def same_addr(a: str, b: str) -> bool:
    """True when two addresses name the same server (after `normalize_addr`)."""
    return normalize_addr(a) == normalize_addr(b)


def connect(settings: VaultSettings, *, timeout: float = DEFAULT_TIMEOUT,
            session: requests.Session | None = None) -> hvac.Client:
    """The one hvac client factory: `settings`' address, token and CA (no request made here)."""
    if session is not None:  # hvac lets a session's own `verify` (default True) win
        session.verify = settings.tls.verify
    return hvac.Client(url=settings.addr, token=settings.token, timeout=timeout,
                       verify=settings.tls.verify, session=session)


@dataclass(frozen=True)
class Health:
    """The answer of `sys/health` (unauthenticated)."""

    initialized: bool
    sealed: bool
    standby: bool
    version: str
    cluster_id: str = ""  # new for every fresh server (a dev server restarted empty, too)

    @property
    def ok(self) -> bool:
        """True when the server can serve requests (initialized, unsealed, active)."""
        return self.initialized and not self.sealed and not self.standby


def read_health(addr: str, *, timeout: float = 2.0, tls: TLS = TLS()) -> Health:
    """Ask `sys/health`; raise VaultError when the server cannot be reached."""
    addr = normalize_addr(addr)
    with vault_errors(addr):
        # sys/health answers 429/472/473/501/503 with a JSON body for degraded states.
        resp = requests.get(f"{addr}/v1/sys/health", timeout=timeout, verify=tls.verify)
    try:
        body = resp.json()
    except ValueError:
        raise VaultError(f"{addr} did not answer like OpenBao (sys/health: HTTP "
                         f"{resp.status_code})") from None
    return Health(
        initialized=bool(body.get("initialized")),
        sealed=bool(body.get("sealed")),
        standby=bool(body.get("standby")),
        version=str(body.get("version", "")),
        cluster_id=str(body.get("cluster_id") or ""),
    )


def _path_of(url: str | None, addr: str) -> str:
    """The API path of a request URL: `http://h:1/v1/kv/data/x?list=1` -> `kv/data/x`."""
    if not url:
        return "(unknown path)"
    path = urlsplit(url).path
    return path.removeprefix("/v1/").strip("/") or "/"


def _server_says(exc: hx.VaultError, redact: Sequence[str]) -> str:
    text = ", ".join(str(e) for e in exc.errors or []) if exc.errors else ""
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text[:300]


def map_error(exc: BaseException, addr: str, *, redact: Sequence[str] = ()) -> VaultError | None:
    """Translate an hvac or requests error into a VaultError; None if it is neither."""
    addr = normalize_addr(addr)
    if isinstance(exc, VaultError):
        return exc
    if isinstance(exc, requests.exceptions.Timeout | requests.exceptions.ConnectionError):
        return VaultUnreachable(f"OpenBao unreachable at {addr}", hint=UNREACHABLE_HINT)
    if isinstance(exc, requests.exceptions.RequestException):
        return VaultError(f"request to OpenBao at {addr} failed ({type(exc).__name__})")
    if not isinstance(exc, hx.VaultError):
        return None
    path = _path_of(exc.url, addr)
    said = _server_says(exc, redact)
    if isinstance(exc, hx.Forbidden | hx.Unauthorized):
        return VaultForbidden(f"permission denied on {path}",
                              hint=f"{exc.method or 'the request'} is not allowed for this "
                              "token: check its policies, or that it has not expired")
    if isinstance(exc, hx.VaultDown | hx.VaultNotInitialized | hx.BadGateway):
        return VaultError(f"OpenBao at {addr} is sealed or down")
    if isinstance(exc, hx.InvalidPath):
        return VaultError(f"nothing at {path} on {addr}",
                          hint="is the secrets engine mounted and the path right?")
    if isinstance(exc, hx.RateLimitExceeded):
        return VaultError(f"OpenBao at {addr} rate-limited the request on {path}")
    detail = f": {said}" if said else ""
    if isinstance(exc, hx.InvalidRequest):
        return VaultError(f"OpenBao rejected the request on {path}{detail}")
    return VaultError(f"OpenBao error on {path}{detail}")


@contextmanager
def vault_errors(addr: str, *, redact: Sequence[str] = ()) -> Iterator[None]:
    """Map hvac/requests errors raised inside the block to VaultError/VaultForbidden.

    `redact` lists strings (e.g. a token) to blank out of server messages quoted
    in the error, should a server ever echo one.
    """
    try:
        yield
    except AigwError:
        raise
    except Exception as exc:
        mapped = map_error(exc, addr, redact=redact)
        if mapped is None:
            raise
        raise mapped from exc
