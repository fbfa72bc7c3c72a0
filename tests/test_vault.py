"""aigw.vault and aigw.context: settings resolution, the client factory and the one mapping of
hvac/requests errors."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import hvac.exceptions as hx
import pytest
import requests
from testing.bao import BaoDevServer

from aigw import context, proc
from aigw.context import Context, resolve_tls, resolve_vault
from aigw.dev import free_port, stop_pid
from aigw.errors import EXIT_UNEXPECTED, UsageError, VaultError, VaultForbidden
from aigw.stack import _conn
from aigw.tools import find_bao
from aigw.vault import TLS, VaultSettings, connect, map_error, read_health, vault_errors

ADDR = "http://127.0.0.1:8299"


# -- settings --------------------------------------------------------------


def test_resolve_precedence(tmp_path: Path) -> None:
    env = {"BAO_ADDR": "http://bao:1/", "VAULT_ADDR": "http://vault:2",
           "VAULT_TOKEN": "vault-tok"}
    s = resolve_vault(env=env, cwd=tmp_path)
    assert (s.addr, s.token, s.source) == ("http://bao:1", "vault-tok", "env")
    s = resolve_vault("http://x:3", "explicit-tok", env=env, cwd=tmp_path)
    assert (s.addr, s.token, s.source) == ("http://x:3", "explicit-tok", "explicit")
    assert "explicit-tok" not in repr(s)


def test_resolve_without_anything(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="no OpenBao address") as err:
        resolve_vault(env={}, cwd=tmp_path)
    assert "aigw dev up" in err.value.lines()[0]
    with pytest.raises(VaultError, match="no token for OpenBao at http://h:1"):
        resolve_vault(env={"VAULT_ADDR": "http://h:1"}, cwd=tmp_path)


def test_tls_settings_as_openbao_defines_them(tmp_path: Path) -> None:
    """BAO_ beats VAULT_, a CA file beats a CA folder, SKIP_VERIFY is a Go boolean."""
    env = {"BAO_ADDR": "https://h:1", "BAO_TOKEN": "t", "VAULT_CACERT": "/v.pem",
           "BAO_CACERT": "/b.pem", "BAO_CAPATH": "/cas"}
    tls = resolve_vault(env=env, cwd=tmp_path).tls
    assert (tls.ca_cert, tls.ca_path, tls.verify) == ("/b.pem", "/cas", "/b.pem")
    assert resolve_tls({"VAULT_CAPATH": "/cas"}).verify == "/cas"
    assert resolve_tls({"VAULT_SKIP_VERIFY": "true", "BAO_CACERT": "/b.pem"}).verify is False
    assert resolve_tls({"BAO_SKIP_VERIFY": "0", "REQUESTS_CA_BUNDLE": "/r.pem"}).verify == "/r.pem"
    assert resolve_tls({}).verify is True
    with pytest.raises(UsageError, match="BAO_SKIP_VERIFY=yes: expected a boolean"):
        resolve_tls({"BAO_SKIP_VERIFY": "yes"})
    # What a child process (the engine's providers) is given reads back the same.
    assert resolve_tls(TLS(ca_cert="/b.pem", skip_verify=True).as_env()) == TLS("/b.pem", None, True)


def test_a_context_resolves_each_part_once_when_first_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = Context(env={}, cwd=tmp_path)  # nothing configured: building it does not fail
    with pytest.raises(VaultError, match="no OpenBao address"):
        _ = ctx.vault
    ctx = Context(env={"VAULT_ADDR": "http://v:1/", "VAULT_TOKEN": "tok"}, cwd=tmp_path)
    assert ctx.vault is ctx.vault and ctx.vault.addr == "http://v:1"
    assert ctx.home == tmp_path.resolve() and "tok" not in repr(ctx)
    # Outside a command, `current()` is a fresh context of this process's environment;
    # the CLI callback installs one for the run and forgets it afterwards.
    monkeypatch.setenv("BAO_ADDR", "http://b:2")
    monkeypatch.setenv("BAO_TOKEN", "t2")
    assert context.current().vault.addr == "http://b:2"
    context.use(ctx)
    try:
        assert context.current() is ctx
    finally:
        context.use(None)


# -- mapping (no server) ---------------------------------------------------


def test_map_hvac_errors() -> None:
    url = f"{ADDR}/v1/kv/data/prod/providers/x?version=2"
    forbidden = map_error(hx.Forbidden(errors=["permission denied"], method="GET", url=url), ADDR)
    assert isinstance(forbidden, VaultForbidden)
    assert forbidden.message == "permission denied on kv/data/prod/providers/x"
    down = map_error(hx.VaultDown(errors=["Vault is sealed"], url=url), ADDR)
    assert down is not None and down.message == f"OpenBao at {ADDR} is sealed or down"
    missing = map_error(hx.InvalidPath(url=url), ADDR)
    assert missing is not None and "kv/data/prod/providers/x" in missing.message
    bad = map_error(hx.InvalidRequest(errors=["bad cas sekrit"], url=url), ADDR,
                    redact=["sekrit"])
    assert bad is not None and bad.message.endswith("bad cas ***")
    assert map_error(ValueError("x"), ADDR) is None


def test_vault_errors_maps_requests_and_passes_others() -> None:
    with pytest.raises(VaultError) as err, vault_errors(ADDR + "/"):
        raise requests.exceptions.ConnectionError("refused")
    assert err.value.message == f"OpenBao unreachable at {ADDR}"
    assert err.value.exit_code == EXIT_UNEXPECTED
    with pytest.raises(VaultError, match="unreachable"), vault_errors(ADDR):
        raise requests.exceptions.ReadTimeout("slow")
    with pytest.raises(KeyError), vault_errors(ADDR):
        raise KeyError("not ours")


# -- against a real server -------------------------------------------------


@pytest.mark.integration
def test_stopped_server_is_unreachable_then_back_empty() -> None:
    with BaoDevServer() as server:
        settings = VaultSettings(server.addr, server.token)
        client = connect(settings, timeout=2)
        client.secrets.kv.v2.create_or_update_secret(path="a", secret={"v": "1"})
        server.stop()
        with pytest.raises(VaultError) as err, settings.errors():
            client.secrets.kv.v2.read_secret_version(path="a", raise_on_deleted_version=True)
        assert err.value.message == f"OpenBao unreachable at {server.addr}"
        assert err.value.exit_code == 3
        assert server.token not in " ".join(err.value.lines())
        with pytest.raises(VaultError, match="unreachable"):
            read_health(server.addr)

        server.start()  # same address and token, empty (dev mode is in memory)
        assert read_health(server.addr).ok
        with pytest.raises(VaultError, match="nothing at secret/data/a"), settings.errors():
            client.secrets.kv.v2.read_secret_version(path="a", raise_on_deleted_version=True)


@pytest.mark.integration
def test_sealed_server() -> None:
    with BaoDevServer() as server:
        client = server.client()
        client.sys.seal()
        assert read_health(server.addr).sealed
        with pytest.raises(VaultError) as err, vault_errors(server.addr):
            client.secrets.kv.v2.read_secret_version(path="a", raise_on_deleted_version=True)
        assert err.value.message == f"OpenBao at {server.addr} is sealed or down"
        server.restart()
        assert read_health(server.addr).ok


@pytest.mark.integration
def test_narrow_policy_is_forbidden_elsewhere(bao: BaoDevServer, vault_mount: str) -> None:
    root = bao.client()
    root.secrets.kv.v2.create_or_update_secret(path="allowed/k", secret={"api_key": "x"},
                                               mount_point=vault_mount)
    root.secrets.kv.v2.create_or_update_secret(path="denied/k", secret={"api_key": "y"},
                                               mount_point=vault_mount)
    policy = f"narrow-{vault_mount}"
    root.sys.create_or_update_policy(
        name=policy, policy=f'path "{vault_mount}/data/allowed/*" {{ capabilities = ["read"] }}')
    token = root.auth.token.create(policies=[policy], ttl="5m")["auth"]["client_token"]
    settings = VaultSettings(bao.addr, token)
    narrow = connect(settings)
    kv = narrow.secrets.kv.v2

    with settings.errors():
        got = kv.read_secret_version(path="allowed/k", mount_point=vault_mount,
                                     raise_on_deleted_version=True)
    assert got["data"]["data"] == {"api_key": "x"}
    for action in (
        lambda: kv.read_secret_version(path="denied/k", mount_point=vault_mount,
                                       raise_on_deleted_version=True),
        lambda: kv.create_or_update_secret(path="allowed/k", secret={"api_key": "z"},
                                           mount_point=vault_mount),
    ):
        with pytest.raises(VaultForbidden) as err, settings.errors():
            action()
        assert err.value.message.startswith(f"permission denied on {vault_mount}/data/")
        assert token not in " ".join(err.value.lines())
    assert "denied/k" not in err.value.message  # the second one names its own path
    root.sys.delete_policy(name=policy)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A real `bao server -dev -dev-tls`: its own CA in the folder it is given."""
    folder = tmp_path_factory.mktemp("tls")
    port, token = free_port(), f"test-{secrets.token_hex(8)}"
    env = {**os.environ, "BAO_DEV_ROOT_TOKEN_ID": token}
    log = (folder / "bao.log").open("wb")
    server = proc.popen([str(find_bao()), "server", "-dev", "-dev-tls",
                         f"-dev-tls-cert-dir={folder}", f"-dev-listen-address=127.0.0.1:{port}"],
                        env=env, stdin=proc.DEVNULL, stdout=log, stderr=proc.STDOUT)
    addr, ca = f"https://127.0.0.1:{port}", folder / "vault-ca.pem"
    try:
        deadline = time.monotonic() + 30
        while not (ca.exists() and _healthy(addr, TLS(ca_cert=str(ca)))):
            assert server.poll() is None and time.monotonic() < deadline, "bao -dev-tls failed"
            time.sleep(0.2)
        yield addr, token, ca
    finally:
        stop_pid(server.pid)
        log.close()


def _healthy(addr: str, tls: TLS) -> bool:
    try:
        return read_health(addr, tls=tls).ok
    except VaultError:
        return False


@pytest.mark.integration
def test_the_client_factory_honours_the_ca_variables(
        tls_server: tuple[str, str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Both the CLI's client and the providers' client verify with BAO_CACERT/VAULT_CACERT."""
    addr, token, ca = tls_server
    base = {"BAO_ADDR": addr, "BAO_TOKEN": token}
    for name in ("BAO_CACERT", "VAULT_CACERT"):
        assert connect(resolve_vault(env={**base, name: str(ca)}, cwd=tmp_path)).is_authenticated()
    # Without the CA the certificate is not trusted: one "unreachable" line.
    untrusted = resolve_vault(env=base, cwd=tmp_path)
    with pytest.raises(VaultError, match=f"OpenBao unreachable at {addr}"), untrusted.errors():
        connect(untrusted).is_authenticated()
    skip = resolve_vault(env={**base, "VAULT_SKIP_VERIFY": "1"}, cwd=tmp_path)
    assert connect(skip).is_authenticated()
    assert read_health(addr, tls=resolve_vault(env={**base, "BAO_CACERT": str(ca)},
                                               cwd=tmp_path).tls).ok
    # The dynamic providers get the same settings through the engine's environment.
    for name in ("BAO_CACERT", "VAULT_CACERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BAO_ADDR", addr)
    monkeypatch.setenv("BAO_TOKEN", token)
    monkeypatch.setenv("VAULT_CACERT", str(ca))
    with _conn.vault({}) as client:
        assert client.is_authenticated()
