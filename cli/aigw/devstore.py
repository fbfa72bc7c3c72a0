"""`aigw dev up --persist`: the dev server on file storage that survives a restart.

FOR DEVELOPMENT ONLY. OpenBao's dev mode keeps everything in memory; with `--persist`
aigw runs a plain `bao server` instead, on storage in files under `.aigw/dev/data` (one-node
raft: OpenBao has no `file` backend), and
initialises it with ONE unseal key. aigw keeps that key and the root token in
`.aigw/dev/seal.json` (0600) beside the data and unseals the server itself at every
`aigw dev up`: whoever can read `.aigw/` can read every key stored there. That is the
trade a laptop wants (keys, policies, roles and published configs kept across
`aigw dev down`/`up`) and exactly what a real deployment must not do.

Neither the unseal key nor the token ever reaches argv, a log or an error: they go
to OpenBao in request bodies and headers, and to the 0600 file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import hvac

from aigw.errors import VaultError
from aigw.fsutil import atomic_write
from aigw.vault import read_health, vault_errors

SEAL_FILE = "seal.json"
DATA_DIR = "data"
CONFIG_FILE = "server.hcl"


def server_config(data: Path, port: int) -> str:
    """The `bao server` config: one-node raft storage in DATA, plain HTTP on loopback.

    Raft, not OpenBao's old `file` backend: OpenBao 2.x has only raft for storage on
    disk (`unknown storage type file`). One node is its own leader once unsealed; its
    cluster listener takes PORT + 1, as the dev server's does.
    """
    return (
        "# Written by `aigw dev up --persist`: a development server only (see\n"
        "# aigw/devstore.py). Loopback, no TLS, unsealed by aigw with a key kept beside it.\n"
        f'storage "raft" {{\n  path    = {json.dumps(str(data))}\n  node_id = "aigw-dev"\n}}\n\n'
        f'listener "tcp" {{\n  address         = "127.0.0.1:{port}"\n'
        f'  cluster_address = "127.0.0.1:{port + 1}"\n  tls_disable     = true\n}}\n\n'
        f'api_addr     = "http://127.0.0.1:{port}"\n'
        f'cluster_addr = "http://127.0.0.1:{port + 1}"\n'
        "ui           = false\n"
    )


def write_config(dev: Path, port: int) -> Path:
    """Write the server config for PORT into DEV; the data folder is created (0700)."""
    data = dev / DATA_DIR
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    config = dev / CONFIG_FILE
    atomic_write(config, server_config(data, port).encode(), mode=0o600)
    return config


def wait_answering(addr: str, alive: object, *, timeout: float) -> None:
    """Until sys/health answers at all (a new server answers `not initialized` or `sealed`).

    ALIVE is the server's Popen: its exit ends the wait with a VaultError.
    """
    deadline = time.monotonic() + timeout
    while True:
        if getattr(alive, "poll", lambda: None)() is not None:
            raise VaultError("OpenBao server (--persist) exited at start; see .aigw/dev/bao.log")
        try:
            read_health(addr, timeout=1.0)
            return
        except VaultError:
            if time.monotonic() > deadline:
                raise VaultError(f"OpenBao server (--persist) at {addr} did not answer after "
                                 f"{timeout:.0f} s; see .aigw/dev/bao.log") from None
        time.sleep(0.1)


def unseal(addr: str, dev: Path) -> str:
    """Initialise the server the first time (one key share), unseal it; its root token.

    The first start writes `seal.json` (0600) before anything else, so a crash right
    after initialising cannot lose the key. A data folder without its seal file (or
    the reverse) is a clear error, never a silent re-initialisation.
    """
    seal = dev / SEAL_FILE
    client = hvac.Client(url=addr, timeout=60)  # raft init fsyncs: slow on a loaded disk
    with vault_errors(addr):
        initialized = client.sys.is_initialized()
        if not initialized:
            if seal.exists():
                raise VaultError(f"{dev / DATA_DIR} is empty but {seal} exists (from another "
                                 "data folder?)", hint=f"move {seal} away to start afresh")
            made = client.sys.initialize(secret_shares=1, secret_threshold=1)
            atomic_write(seal, json.dumps({"unseal_key": made["keys_base64"][0],
                                           "root_token": made["root_token"]}).encode(),
                         mode=0o600)
        try:
            kept = json.loads(seal.read_text())
            key, token = str(kept["unseal_key"]), str(kept["root_token"])
        except (OSError, ValueError, KeyError, TypeError):
            raise VaultError(f"{dev / DATA_DIR} holds an initialised server but {seal} is "
                             "missing or unreadable: aigw cannot unseal it",
                             hint=f"restore {seal}, or remove {dev / DATA_DIR} to start "
                             "afresh (everything stored there is lost)") from None
        if client.sys.is_sealed():
            client.sys.submit_unseal_key(key=key)
    return token
