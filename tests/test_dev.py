"""`aigw dev`: a real OpenBao dev server under a temporary project folder; and tools lookup."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from aigw import dev, tools
from aigw.commands import dev as dev_cmd
from aigw.context import resolve_vault
from aigw.errors import ToolMissing, UsageError, VaultError
from aigw.vault import VaultSettings, connect
from tests.conftest import _wait_until_kv2_ready
from tests.governance.conftest import _need


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder whose dev server is always stopped at the end."""
    monkeypatch.delenv("AIGW_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    dev.down(tmp_path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.integration
def test_up_status_down(home: Path) -> None:
    env = dev.up(home)
    paths = env.paths
    assert not env.reused
    assert (paths.root / ".gitignore").read_text() == "*\n"
    assert paths.pulumi.is_dir()
    assert _mode(paths.token) == 0o600 and _mode(paths.passphrase) == 0o600
    assert _mode(paths.log) == 0o600
    assert paths.token.read_text() == env.token
    argv = Path(f"/proc/{env.pid}/cmdline").read_bytes().decode()
    assert env.token not in argv and "-dev" in argv
    assert env.token not in repr(env)
    state = json.loads(paths.state.read_text())
    assert state["pid"] == env.pid and state["addr"] == env.addr

    st = dev.status(home)
    assert st.running and st.healthy and st.addr == env.addr and st.pid == env.pid
    assert connect(VaultSettings(env.addr, env.token)).is_authenticated()

    passphrase = paths.passphrase.read_text()
    again = dev.up(home)
    assert again.reused and again.pid == env.pid and again.token == env.token
    assert paths.passphrase.read_text() == passphrase

    assert dev.down(home) == env.pid
    assert _gone(env.pid)
    assert not paths.state.exists() and not paths.token.exists()
    assert not dev.status(home).running
    assert dev.down(home) is None

    fresh = dev.up(home)
    assert fresh.pid != env.pid and fresh.token != env.token
    assert paths.passphrase.read_text() == passphrase


@pytest.mark.integration
def test_exports_and_settings_from_dev_state(home: Path) -> None:
    env = dev.up(home)
    exported = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1)
                    for line in env.exports())
    assert exported["BAO_ADDR"] == exported["VAULT_ADDR"] == env.addr
    assert exported["BAO_TOKEN"] == exported["VAULT_TOKEN"] == env.token
    assert exported["PULUMI_BACKEND_URL"] == f"file://{home / '.aigw' / 'pulumi'}"
    assert exported["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(home / ".aigw" / "passphrase")

    sub = home / "a" / "b"
    sub.mkdir(parents=True)
    settings = resolve_vault(env={}, cwd=sub)  # found by walking up
    assert (settings.addr, settings.token, settings.source) == (env.addr, env.token, "dev")
    assert resolve_vault(env={"AIGW_HOME": str(home)}, cwd=Path("/")).addr == env.addr
    # The dev token is never handed to another server.
    with pytest.raises(VaultError, match="no token"):
        resolve_vault(env={"BAO_ADDR": "http://127.0.0.1:1"}, cwd=sub)


@pytest.mark.integration
def test_killed_server_is_replaced(home: Path) -> None:
    env = dev.up(home)
    os.kill(env.pid, signal.SIGKILL)
    psutil.Process(env.pid).wait(5)
    assert not dev.status(home).running
    assert dev.running_server(home) is None
    fresh = dev.up(home)
    assert not fresh.reused and fresh.pid != env.pid and dev.status(home).healthy


@pytest.mark.integration
def test_start_failure_quotes_log_without_token(home: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    fake = home / "fake-bao"
    fake.write_text('#!/bin/sh\necho "Root Token: $BAO_DEV_ROOT_TOKEN_ID"\n'
                    'echo "listener exploded" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("AIGW_BAO", str(fake))
    with pytest.raises(VaultError) as err:
        dev.up(home, timeout=5)
    message = err.value.message
    assert "exited at start" in message and "listener exploded" in message
    assert "Root Token: ***" in message
    assert not dev.status(home).running


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(dev_cmd.app, list(args),
                                standalone_mode=False, catch_exceptions=False)
    return result.return_value, result.output


@pytest.mark.integration
def test_commands(home: Path) -> None:
    code, out = _invoke("status", "--home", str(home))
    assert (code, out.strip()) == (1, "stopped")
    with pytest.raises(VaultError, match="no OpenBao dev server running"):
        _invoke("env", "--home", str(home))

    code, out = _invoke("up", "--home", str(home))
    assert code == 0 and "started at http://127.0.0.1:" in out and "in memory" in out
    code, out = _invoke("status", "--json")  # found from the cwd
    body = json.loads(out)
    assert code == 0 and body["running"] and body["healthy"]
    code, out = _invoke("env")
    token = (home / ".aigw" / "dev" / "token").read_text()
    assert code == 0 and f"export BAO_TOKEN={token}" in out.splitlines()
    code, out = _invoke("up")
    assert "already running" in out
    code, out = _invoke("down")
    assert code == 0 and out.startswith("stopped OpenBao dev server (pid ")


# -- tools -----------------------------------------------------------------


def test_find_bao_override_and_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bao"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("AIGW_BAO", str(fake))
    assert tools.find_bao() == fake
    monkeypatch.setenv("AIGW_BAO", str(tmp_path / "nope"))
    with pytest.raises(ToolMissing, match="AIGW_BAO"):
        tools.find_bao()


def test_find_bao_beside_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIGW_BAO", raising=False)
    monkeypatch.setenv("PATH", "")
    assert tools.find_bao() == Path(sys.executable).parent / "bao"


def test_pulumi_missing_names_tools_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.delenv("AIGW_PULUMI_DIR", raising=False)
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("AIGW_CACHE", str(tmp_path))
    monkeypatch.setattr(tools, "_interpreter_bin", lambda: tmp_path)
    with pytest.raises(ToolMissing) as err:
        tools.find_pulumi()
    assert "v3.259.0" in err.value.message and "aigw tools install --only pulumi" in err.value.lines()[0]


def test_pulumi_from_cache_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = tmp_path / f"pulumi-v{tools.pulumi_version()}"
    engine.mkdir()
    for name, body in (("pulumi", f"echo v{tools.pulumi_version()}"),
                       (tools.PYTHON_PROVIDER, "exit 0")):
        (engine / name).write_text(f"#!/bin/sh\n{body}\n")
        (engine / name).chmod(0o755)
    monkeypatch.delenv("AIGW_PULUMI_DIR", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("AIGW_CACHE", str(tmp_path))
    monkeypatch.setattr(tools, "_interpreter_bin", lambda: tmp_path / "none")
    assert tools.find_pulumi() == engine / "pulumi"

    env = tools.pulumi_env({"PATH": "/usr/bin", "PULUMI_RUNTIME_VIRTUALENV": "/elsewhere"})
    assert env["PATH"].split(os.pathsep) == [str(engine), "/usr/bin"]
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "1"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_PYTHON_CMD"] == sys.executable
    if sys.prefix != sys.base_prefix:
        assert env["PULUMI_RUNTIME_VIRTUALENV"] == sys.prefix
    else:
        assert "PULUMI_RUNTIME_VIRTUALENV" not in env


@pytest.mark.integration
def test_pulumi_command_runs_the_found_engine() -> None:
    engine = _need(tools.find_pulumi, "install-pulumi.sh")  # skips, but fails under CI=true
    command = tools.pulumi_command()
    assert command.command == str(engine)
    assert str(command.version) == tools.pulumi_version()
    assert command.run(["version"], ".", tools.pulumi_env(os.environ)).stdout.strip() == (
        f"v{tools.pulumi_version()}")


# -- the port and --persist (issue 23, item 5) ------------------------------


@pytest.mark.integration
def test_the_port_is_kept_across_restarts_and_chosen_with_port(home: Path) -> None:
    first = dev.up(home)
    dev.down(home)
    again = dev.up(home)
    assert again.addr == first.addr and again.pid != first.pid  # agents keep their address
    dev.down(home)

    chosen = dev.free_port()
    code, out = _invoke("up", "--port", str(chosen))
    assert code == 0 and f"started at http://127.0.0.1:{chosen} " in out
    dev.down(home)
    assert dev.up(home).addr == f"http://127.0.0.1:{chosen}"  # kept for the next start
    with pytest.raises(UsageError, match="already runs at"):
        dev.up(home, port=dev.free_port())
    dev.down(home)

    with socket.socket() as squatter:  # another program took the kept port meanwhile
        squatter.bind(("127.0.0.1", chosen))
        squatter.listen()
        with pytest.raises(UsageError, match=f"port {chosen} on 127.0.0.1 is taken") as err:
            dev.up(home)
        assert "--port N" in (err.value.hint or "")
    assert not dev.status(home).running


@pytest.mark.integration
def test_persist_keeps_a_key_across_down_and_up(home: Path) -> None:
    """`aigw dev up --persist`, a key stored, `aigw dev down`, `aigw dev up`: still there."""
    code, out = _invoke("up", "--persist")
    assert code == 0 and "file storage in .aigw/dev/data" in out
    assert "development only" in out and "never put a real production key" in out
    env = dev.running_server(home)
    assert env is not None and env.persistent
    canary = f"sk-canary-persist-{os.urandom(6).hex()}"
    client = connect(VaultSettings(env.addr, env.token))
    client.sys.enable_secrets_engine("kv", path="aigw", options={"version": "2"})
    _wait_until_kv2_ready(client, "aigw")
    client.secrets.kv.v2.create_or_update_secret(path="prod/providers/openai/default",
                                                 secret={"api_key": canary}, mount_point="aigw")
    seal = home / ".aigw" / "dev" / "seal.json"
    assert _mode(seal) == 0o600
    kept = json.loads(seal.read_text())
    argv = Path(f"/proc/{env.pid}/cmdline").read_bytes().decode()
    log = (home / ".aigw" / "dev" / "bao.log").read_text()
    for secret in (canary, kept["unseal_key"], kept["root_token"]):
        assert secret not in argv and secret not in log and secret not in out
    assert dev.status(home).persistent

    code, out = _invoke("down")
    assert code == 0 and not dev.status(home).running
    code, out = _invoke("up")  # --persist is remembered, and so is the port
    assert code == 0 and "file storage" in out
    back = dev.running_server(home)
    assert back is not None and back.addr == env.addr and back.pid != env.pid
    read = connect(VaultSettings(back.addr, back.token)).secrets.kv.v2.read_secret_version(
        path="prod/providers/openai/default", mount_point="aigw", raise_on_deleted_version=True)
    if read["data"]["data"] != {"api_key": canary}:  # not `assert`: it would print the value
        pytest.fail("the key did not survive the restart")
    assert connect(VaultSettings(back.addr, env.token)).is_authenticated()  # same root token
    with pytest.raises(UsageError, match="already runs at"):
        dev.up(home, persist=False)
