"""hvac access from inside the dynamic-provider process.

The engine starts `pulumi-resource-pulumi-python`, which unpickles aigw's
providers and calls them from a small thread pool. They reach OpenBao with:

- the address from BAO_ADDR/VAULT_ADDR in the engine's environment (aigw sets
  it to the server of this run), else the resource's `addr` input, so a server
  that moved is still the one every step talks to;
- the token from BAO_TOKEN/VAULT_TOKEN in the engine's environment only. It is
  never a resource input, so it never reaches Pulumi state;
- the CA settings (BAO_CACERT, BAO_CAPATH, BAO_SKIP_VERIFY) as `aigw.context`
  reads them, through the one client factory `aigw.vault.connect`.

Failures leave the process as `ProviderFailure`, one line tagged
`[aigw:<ErrorClass>]`, which the engine side turns back into an aigw error
(`tagged_error`).

aigw also calls the providers' `read` in its own process, to check for drift without
the engine (aigw.stack.drift): inside `pinned(settings)` they use those settings (the
server and token of this run) instead of the engine's environment.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import hvac
import psutil
import requests

from aigw import envvars
from aigw.context import resolve_tls
from aigw.errors import (
    AigwError,
    EngineError,
    UsageError,
    VaultError,
    VaultForbidden,
    VaultUnreachable,
)
from aigw.vault import VaultSettings, connect, normalize_addr, vault_errors

TAG = "[aigw:"
TIMEOUT = 15.0
_TAGGED = re.compile(r"\[aigw:(\w+)\] ([^\n\"\\]+)")
# The aigw error each tag becomes on the engine's side (any other tag: VaultError).
_KINDS: dict[str, type[AigwError]] = {
    "VaultForbidden": VaultForbidden, "VaultUnreachable": VaultUnreachable,
    "UsageError": UsageError,  # e.g. an admin key a provider limit needs is unset
    "ProviderApiError": EngineError,  # a provider's admin API refused a limit
}

_local = threading.local()
_pinned: list[VaultSettings] = []  # set by `pinned`, in aigw's own process only


class ProviderFailure(Exception):
    """A provider step failed; str() is one tagged line naming the address or path."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{TAG}{kind}] {message}")


def tagged_error(text: str) -> AigwError | None:
    """The aigw error a `ProviderFailure` line in TEXT stands for (None: no such line)."""
    found = _TAGGED.search(text)
    if found is None:
        return None
    return _KINDS.get(found.group(1), VaultError)(found.group(2).strip())


@contextmanager
def pinned(settings: VaultSettings) -> Iterator[None]:
    """Within: the providers talk to SETTINGS' server with its token (aigw's own process)."""
    _pinned.append(settings)
    try:
        yield
    finally:
        _pinned.remove(settings)


def server_addr(props: Mapping[str, Any]) -> str:
    """The OpenBao address for this step (environment first, then the `addr` input)."""
    addr = envvars.first(os.environ, envvars.ADDR) or props.get("addr")
    if not addr:
        raise ProviderFailure("VaultError", "no OpenBao address (set BAO_ADDR)")
    return normalize_addr(str(addr))


def _token() -> str:
    token = envvars.first(os.environ, envvars.TOKEN)
    if not token:
        raise ProviderFailure("VaultError", "no OpenBao token in the engine's environment "
                              "(set BAO_TOKEN)")
    return token


def _session(addr: str) -> requests.Session:
    """A session that resolves proxies once: requests otherwise rescans the environment
    on every request, a fifth of the provider's CPU on a large refresh."""
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(addr))
    return session


@contextmanager
def vault(props: Mapping[str, Any]) -> Iterator[hvac.Client]:
    """An hvac client for this thread; hvac/requests errors leave as ProviderFailure."""
    given = _pinned[-1] if _pinned else None
    addr, token = (given.addr, given.token) if given else (server_addr(props), _token())
    key = (addr, token)
    client = getattr(_local, "clients", {}).get(key)
    if client is None:
        try:
            settings = given or VaultSettings(addr=addr, token=token,
                                              tls=resolve_tls(os.environ))
        except AigwError as exc:
            raise ProviderFailure(type(exc).__name__, exc.message) from None
        client = connect(settings, timeout=TIMEOUT, session=_session(addr))
        _local.clients = {key: client}  # one server per run: keep only the latest
    try:
        with vault_errors(addr, redact=[token]):
            yield client
    except AigwError as exc:
        kind = type(exc).__name__ if isinstance(exc, VaultError) else "VaultError"
        raise ProviderFailure(kind, exc.message) from None


def exit_with_engine(poll: float = 2.0) -> bool:
    """In the provider process, exit once the engine that started it is gone.

    The engine starts providers in their own process group, so a run killed
    with SIGKILL (its group) leaves the provider waiting forever for calls
    that cannot come. Returns True when the watchdog was started (only inside
    `python -m pulumi.dynamic`).
    """
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is None or spec.name != "pulumi.dynamic.__main__":
        return False
    try:  # the plugin is `sh pulumi-resource-pulumi-python` (our parent), run by the engine
        parent = psutil.Process(os.getppid())
        watched = [p for p in (parent, parent.parent()) if p is not None]
    except psutil.Error:
        return False

    def watch() -> None:
        while all(p.is_running() for p in watched):
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="aigw-exit-with-engine", daemon=True).start()
    return True


def as_ints(value: Any) -> Any:
    """Undo Pulumi's number encoding (every number arrives as a float) for whole numbers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [as_ints(v) for v in value]
    if isinstance(value, dict):
        return {k: as_ints(v) for k, v in value.items()}
    return value


def same(a: Any, b: Any) -> bool:
    """Compare a desired and a live value: numbers by value, lists as sets."""
    a, b = as_ints(a), as_ints(b)
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(repr, a)) == sorted(map(repr, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)
