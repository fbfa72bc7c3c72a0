"""The embedded default environment: a local OpenBao dev server and a local Pulumi backend.

Everything lives under `<home>/.aigw/` (git-ignored by its own `.gitignore`)::

    .aigw/dev/state.json   pid, address and start time of the running `bao server -dev`
    .aigw/dev/settings.json  its port and storage, kept across restarts (`up --port`, `--persist`)
    .aigw/dev/token        its root token (0600; a throwaway, valid for that server only)
    .aigw/dev/bao.log      its output (0600: the dev banner repeats the root token)
    .aigw/dev/data/, seal.json, server.hcl   with `--persist` only (aigw/devstore.py)
    .aigw/pulumi/          the Pulumi file backend (PULUMI_BACKEND_URL=file://...)
    .aigw/passphrase       the Pulumi secrets passphrase (0600; created once and kept,
                           since the stack state is encrypted with it)

The server keeps its port across `down`/`up` (the first `up` picks a free one, or
`--port`), so agents and services keep a working address. OpenBao's dev mode keeps
everything in memory: after `down` (or a reboot) the next `up` starts an empty server.
`up --persist` runs it on storage in files under `.aigw/dev/data` instead (raft), unsealed by aigw
itself with a key kept beside it: development only (aigw/devstore.py).
The root token reaches the server through BAO_DEV_ROOT_TOKEN_ID, never argv.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shlex
import socket
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from aigw import devstore, envvars
from aigw import proc as _proc
from aigw.errors import UsageError, VaultError
from aigw.fsutil import atomic_write
from aigw.tools import find_bao
from aigw.vault import VaultSettings, read_health

AIGW_DIR = ".aigw"
START_TIMEOUT = 30.0
STOP_GRACE = 5.0
# Popen objects of servers started by this process: kept so they are reaped, not leaked.
_SPAWNED: dict[int, _proc.Popen[bytes]] = {}


@dataclass(frozen=True)
class DevPaths:
    """The files of the dev environment of one project folder (see the module docstring)."""

    home: Path
    root: Path
    dev: Path
    state: Path
    token: Path
    log: Path
    pulumi: Path
    passphrase: Path
    settings: Path

    @classmethod
    def of(cls, home: Path) -> DevPaths:
        """The layout under `home/.aigw`."""
        root = home / AIGW_DIR
        dev = root / "dev"
        return cls(home=home, root=root, dev=dev, state=dev / "state.json",
                   token=dev / "token", log=dev / "bao.log", pulumi=root / "pulumi",
                   passphrase=root / "passphrase", settings=dev / "settings.json")


@dataclass(frozen=True)
class DevEnv:
    """A running dev server and the local Pulumi backend; `repr` never shows the token."""

    home: Path
    addr: str
    pid: int
    token: str = field(repr=False)
    reused: bool = False
    persistent: bool = False  # file storage (`--persist`), else in memory

    @property
    def paths(self) -> DevPaths:
        """The files of this environment."""
        return DevPaths.of(self.home)

    def exports(self) -> list[str]:
        """`export NAME=value` lines for a shell: `eval "$(aigw dev env)"`."""
        values = VaultSettings(addr=self.addr, token=self.token).as_env()
        values[envvars.PULUMI_BACKEND_URL] = backend_url(self.paths)
        values[envvars.PULUMI_PASSPHRASE_FILE] = str(self.paths.passphrase)
        return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


@dataclass(frozen=True)
class DevStatus:
    """What `aigw dev status` reports."""

    running: bool
    addr: str | None = None
    pid: int | None = None
    healthy: bool = False
    sealed: bool | None = None
    version: str | None = None
    persistent: bool | None = None

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def default_home(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The project folder: $AIGW_HOME, else the nearest folder holding `.aigw/`, else cwd."""
    env = os.environ if env is None else env
    if env.get(envvars.HOME):
        return Path(env[envvars.HOME]).expanduser().resolve()
    start = (cwd or Path.cwd()).resolve()
    return next((d for d in (start, *start.parents) if (d / AIGW_DIR).is_dir()), start)


def write_private(path: Path, text: str, *, keep_existing: bool = False) -> bool:
    """Write `text` atomically with mode 0600; with keep_existing, never replace a file.

    Returns False when keep_existing is set and the file already existed.
    """
    if not keep_existing:
        atomic_write(path, text.encode(), mode=0o600)
        return True
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # atomic create-if-absent: a concurrent `up` cannot replace it
        return True
    except FileExistsError:
        return False
    finally:
        Path(tmp).unlink(missing_ok=True)


def backend_url(paths: DevPaths) -> str:
    """The URL of the local Pulumi file backend."""
    return f"file://{paths.pulumi}"


def ensure_backend(paths: DevPaths) -> str:
    """Create the local Pulumi backend folder if needed; return its URL."""
    paths.pulumi.mkdir(mode=0o700, parents=True, exist_ok=True)
    return backend_url(paths)


def ensure_passphrase(paths: DevPaths) -> Path:
    """Create the Pulumi secrets passphrase file once (0600, never replaced); return it."""
    paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(paths.passphrase, secrets.token_urlsafe(32), keep_existing=True)
    return paths.passphrase


def _prepare(paths: DevPaths) -> None:
    for folder in (paths.root, paths.dev, paths.pulumi):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ignore = paths.root / ".gitignore"
    if not ignore.exists():  # keeps all of .aigw/ (tokens, state) out of git
        atomic_write(ignore, b"*\n")
    ensure_passphrase(paths)


@contextlib.contextmanager
def _locked(paths: DevPaths) -> Iterator[None]:
    """Serialize up/down of one home across processes."""
    with (paths.dev / "lock").open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _read_state(paths: DevPaths) -> dict[str, object] | None:
    try:
        state = json.loads(paths.state.read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def _live_process(state: Mapping[str, object]) -> psutil.Process | None:
    """The recorded server process, if it still runs (a reused pid does not count)."""
    pid, created = state.get("pid"), state.get("create_time")
    if not isinstance(pid, int) or not isinstance(created, int | float):
        return None
    try:
        proc = psutil.Process(pid)
        alive = proc.status() != psutil.STATUS_ZOMBIE and abs(proc.create_time() - created) < 0.01
    except psutil.Error:
        return None
    return proc if alive else None


def running_server(home: Path) -> DevEnv | None:
    """The dev server recorded under `home` if its process runs (health not checked)."""
    paths = DevPaths.of(home)
    state = _read_state(paths)
    if state is None or _live_process(state) is None:
        return None
    try:
        token = paths.token.read_text().strip()
    except OSError:
        return None
    return DevEnv(home=home, addr=str(state["addr"]), pid=int(str(state["pid"])), token=token,
                  persistent=bool(state.get("persistent")))


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` whose successor (OpenBao's cluster port) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        with socket.socket() as s, contextlib.suppress(OSError):
            s.bind((host, port + 1))
            return port
    return port


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when PORT can be bound on HOST now, as a server binds it (SO_REUSEADDR: the
    connections a just-stopped server left in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def spawn_bao(
    bao: Path, port: int, token: str, log: Path, *, detach: bool, cwd: Path | None = None,
    config: Path | None = None,
) -> _proc.Popen[bytes]:
    """Start `bao server -dev` on 127.0.0.1:`port`; the token goes through the environment.

    With CONFIG, a plain `bao server -config=CONFIG` instead (`--persist`; no token: the
    server is initialised and unsealed over its API, aigw.devstore).
    """
    env = {k: v for k, v in os.environ.items() if k not in envvars.DEV_SCRUBBED}
    if config is None:
        env[envvars.DEV_ROOT_TOKEN] = token
        argv = [str(bao), "server", "-dev", "-dev-no-store-token",
                f"-dev-listen-address=127.0.0.1:{port}"]
    else:
        argv = [str(bao), "server", f"-config={config}"]
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        proc = _proc.popen(argv, env=env, stdin=_proc.DEVNULL, stdout=fd,
                           stderr=_proc.STDOUT, start_new_session=detach, cwd=cwd)
    finally:
        os.close(fd)
    _SPAWNED[proc.pid] = proc
    return proc


def log_tail(log: Path, *, lines: int = 15, redact: Sequence[str] = ()) -> str:
    """The last lines of a server log, with secrets blanked out."""
    try:
        text = "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text


def wait_healthy(addr: str, proc: _proc.Popen[bytes], log: Path, *,
                 timeout: float = START_TIMEOUT, redact: Sequence[str] = ()) -> None:
    """Poll sys/health until the server serves; raise VaultError quoting the log if not."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise VaultError(f"OpenBao dev server exited at start (code {proc.returncode}); "
                             f"last lines of {log}:\n{log_tail(log, redact=redact)}")
        with contextlib.suppress(VaultError):
            if read_health(addr, timeout=1.0).ok:
                return
        if time.monotonic() > deadline:
            raise VaultError(f"OpenBao dev server at {addr} not healthy after {timeout:.0f} s; "
                             f"last lines of {log}:\n{log_tail(log, redact=redact)}")
        time.sleep(0.1)


def stop_pid(pid: int, grace: float = STOP_GRACE) -> None:
    """SIGTERM the process, SIGKILL it after `grace` seconds, and reap it if it is our child."""
    spawned = _SPAWNED.pop(pid, None)
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        try:
            proc.wait(grace)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(grace)
    except psutil.NoSuchProcess:
        pass
    if spawned is not None:
        spawned.wait()  # psutil may have reaped it already; Popen then just records that


def _healthy(addr: str) -> bool:
    try:
        return read_health(addr).ok
    except VaultError:
        return False


def _read_settings(paths: DevPaths) -> dict[str, object]:
    try:
        found = json.loads(paths.settings.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def _choose_port(paths: DevPaths, port: int | None, saved: object) -> int:
    """--port, else the port of the last `up`, else a free one; a taken port is exit 2."""
    wanted = port if port is not None else saved if isinstance(saved, int) else None
    if wanted is None:
        return free_port()
    # The server also listens on the next port (its cluster port).
    taken = [p for p in (wanted, wanted + 1) if not port_free(p)]
    if taken:
        where = "--port" if port is not None else f"kept from the last `aigw dev up` ({paths.settings})"
        raise UsageError(f"port {taken[0]} on 127.0.0.1 is taken ({where})",
                         hint="free it, or pass --port N (agents and services then need "
                         "the new address)")
    return wanted


def up(home: Path, *, port: int | None = None, persist: bool | None = None,
       timeout: float = START_TIMEOUT) -> DevEnv:
    """Start the dev server under `home` (or reuse the running, healthy one).

    Also creates the Pulumi file backend folder, the passphrase file (once) and
    `.aigw/.gitignore`. PORT (default: the last one) and PERSIST (default: as last
    time; False the first time) are kept in `.aigw/dev/settings.json`. In memory a
    new server starts empty; with PERSIST it keeps what it stored (aigw.devstore).
    """
    paths = DevPaths.of(home.resolve())
    _prepare(paths)
    with _locked(paths):
        saved = _read_settings(paths)
        persistent = bool(saved.get("persist")) if persist is None else persist
        current = running_server(paths.home)
        if current is not None and _healthy(current.addr):
            if (port is not None and port != _port_of(current.addr)) or \
                    (persist is not None and persist != current.persistent):
                raise UsageError(f"the dev server already runs at {current.addr} ("
                                 f"{'file storage' if current.persistent else 'in memory'})",
                                 hint="`aigw dev down` first to change its port or storage")
            return DevEnv(paths.home, current.addr, current.pid, current.token, reused=True,
                          persistent=current.persistent)
        state = _read_state(paths)
        old = _live_process(state) if state else None
        if old is not None:  # running but unhealthy (sealed, or its token file is gone)
            stop_pid(old.pid)
        _forget(paths)
        chosen = _choose_port(paths, port, saved.get("port"))
        token = secrets.token_urlsafe(32)
        bao = find_bao()
        for attempt in range(3):
            addr = f"http://127.0.0.1:{chosen}"
            config = devstore.write_config(paths.dev, chosen) if persistent else None
            proc = spawn_bao(bao, chosen, token, paths.log, detach=True, cwd=paths.dev,
                             config=config)
            try:
                if config is not None:
                    devstore.wait_answering(addr, proc, timeout=timeout)
                    token = devstore.unseal(addr, paths.dev)
                wait_healthy(addr, proc, paths.log, timeout=timeout, redact=[token])
                break
            except BaseException as exc:
                stop_pid(proc.pid)
                port_taken = "address already in use" in log_tail(paths.log, lines=5)
                picked = port is None and not isinstance(saved.get("port"), int)
                if isinstance(exc, VaultError) and port_taken and picked and attempt < 2:
                    chosen = free_port()
                    continue  # lost a race for a port picked at random: try another one
                raise
        write_private(paths.token, token)
        created = psutil.Process(proc.pid).create_time()
        write_private(paths.state, json.dumps(
            {"pid": proc.pid, "addr": addr, "create_time": created, "bao": str(bao),
             "persistent": persistent}, indent=2))
        write_private(paths.settings, json.dumps({"port": chosen, "persist": persistent},
                                                 indent=2))
        return DevEnv(paths.home, addr, proc.pid, token, persistent=persistent)


def _forget(paths: DevPaths) -> None:
    for f in (paths.state, paths.token):
        f.unlink(missing_ok=True)


def down(home: Path) -> int | None:
    """Stop the dev server under `home`; return its pid, or None if none was running."""
    paths = DevPaths.of(home.resolve())
    if not paths.dev.is_dir():
        return None
    with _locked(paths):
        state = _read_state(paths)
        proc = _live_process(state) if state else None
        if proc is not None:
            stop_pid(proc.pid)
        _forget(paths)
        return proc.pid if proc is not None else None


def status(home: Path) -> DevStatus:
    """Report whether the dev server under `home` runs, where, and whether it is healthy."""
    paths = DevPaths.of(home.resolve())
    state = _read_state(paths)
    if state is None or _live_process(state) is None:
        return DevStatus(running=False)
    addr, pid = str(state["addr"]), int(str(state["pid"]))
    try:
        health = read_health(addr)
    except VaultError:
        return DevStatus(running=True, addr=addr, pid=pid,
                         persistent=bool(state.get("persistent")))
    return DevStatus(running=True, addr=addr, pid=pid, healthy=health.ok,
                     sealed=health.sealed, version=health.version,
                     persistent=bool(state.get("persistent")))
