"""Key values planted as canaries never show up where they must not.

Not in any process's argv (/proc/*/cmdline, scanned while real `aigw`
processes run), stdout/stderr, log records, the audit trail, any version of the
journal, lock or other bookkeeping entry, nor in error messages.

The /proc scan samples every 5 ms, so it can miss a process that lives for
less; tests/test_proc.py is the deterministic check (every argv aigw passes to
a new process goes through aigw.proc and is recorded there).
"""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

import hvac
import pytest
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from aigw.errors import AigwError
from aigw.rotation.drivers.base import DriverSpec
from aigw.rotation.drivers.manual import ManualDriver
from aigw.slots.put import parse_secret_text
from tests.rotation.conftest import child_env, read_slot, write_catalog
from tests.rotation.test_keys_cli import Stdin
from tests.rotation.zygote import ROOT

OLD = "sk-CANARY-old-" + secrets.token_hex(8)  # made at test time
NEW = "sk-CANARY-new-" + secrets.token_hex(8)
SLOT = "prod/providers/deepseek/default"


def dump_kv(client: hvac.Client, mount: str, folder: str) -> str:
    """Every version of every entry under FOLDER, as one text."""
    kv2 = client.secrets.kv.v2
    out = []
    try:
        names = kv2.list_secrets(path=folder, mount_point=mount)["data"]["keys"]
    except hvac.exceptions.InvalidPath:
        return ""
    for name in names:
        path = f"{folder}/{name.rstrip('/')}"
        if name.endswith("/"):
            out.append(dump_kv(client, mount, path))
            continue
        meta = kv2.read_secret_metadata(path=path, mount_point=mount)["data"]
        out += [path, json.dumps(meta)]
        for v, info in meta["versions"].items():
            if not info["destroyed"] and not info["deletion_time"]:
                data = kv2.read_secret_version(path=path, version=int(v), mount_point=mount,
                                               raise_on_deleted_version=True)["data"]
                out.append(json.dumps(data))
    return "\n".join(out)


class ArgvScanner:
    """Reads every /proc/*/cmdline until stopped; collects any that hold a canary."""

    def __init__(self, canaries: list[str]) -> None:
        self.canaries = [c.encode() for c in canaries]
        self.hits: list[str] = []
        self.scans = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    try:
                        cmd = (proc / "cmdline").read_bytes()
                    except OSError:
                        continue
                    if any(c in cmd for c in self.canaries):
                        self.hits.append(f"{proc.name}: {cmd!r}")
            self.scans += 1
            time.sleep(0.005)

    def __enter__(self) -> ArgvScanner:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _catalog(tmp_path: Path, mount: str, verify_url: str, grace: str = "1s") -> Path:
    provider = {"api": "openai", "base_url": "http://127.0.0.1:9/v1", "region": "cn",
                "rotation": {"driver": "manual", "grace": grace,
                             "params": {"verify_url": verify_url, "verify_delay": 0.05}}}
    return write_catalog(tmp_path / "cat", mount, {"deepseek": provider})


@pytest.mark.integration
@pytest.mark.slow
def test_canaries_never_in_argv_output_or_bookkeeping(bao: BaoDevServer, kv_mount: str,
                                                      tmp_path: Path) -> None:
    with FakeProvider("deepseek", keys=[OLD, NEW]) as fake, ArgvScanner([OLD, NEW]) as scan:
        folder = _catalog(tmp_path, kv_mount, fake.base_url + "/models")
        env = child_env(bao.addr, bao.token, tmp_path,
                        PYTHONPATH=str(ROOT), AIGW_ROTATE_QUIET="0.1")
        entry = [sys.executable, "-m", "aigw"]
        outputs = []
        for args, stdin in ((["keys", "put", "deepseek", str(folder), "--env", "prod"], OLD),
                            (["rotate-keys", str(folder), "--yes"], NEW + "\n"),
                            (["keys", "status", str(folder), "--json"], ""),
                            (["audit", str(folder), "--verify"], "")):
            proc = subprocess.run(entry + args, input=stdin, capture_output=True, text=True,
                                  env=env, timeout=120)
            assert proc.returncode == 0, proc.stderr
            outputs += [proc.stdout, proc.stderr]
        time.sleep(1.1)  # grace over
        proc = subprocess.run(entry + ["rotate-keys", str(folder), "--finish", "--yes"],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    assert scan.scans > 10 and scan.hits == []
    client = bao.client()
    assert read_slot(client, kv_mount, SLOT) == {"api_key": NEW}
    bookkeeping = dump_kv(client, kv_mount, "prod/_aigw")
    assert "_aigw/journal/deepseek/default" in bookkeeping
    assert "_aigw/audit/000000000010" in bookkeeping
    for text in [*outputs, bookkeeping]:
        assert OLD not in text and NEW not in text
    assert "revoke the old key by hand" in outputs[-2]


@pytest.mark.integration
def test_canaries_never_in_logs_or_errors(caplog: pytest.LogCaptureFixture,
                                          capsys: pytest.CaptureFixture[str], bao: BaoDevServer,
                                          kv_mount: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from aigw.cli import main

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path))
    monkeypatch.setenv("AIGW_ROTATE_QUIET", "0.1")
    errors: list[str] = []

    def run(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", Stdin(stdin))
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    with FakeProvider("deepseek", keys=[OLD]) as fake:
        folder = _catalog(tmp_path, kv_mount, fake.base_url + "/models", grace="0s")
        assert run("keys", "put", "deepseek", str(folder), "--env", "prod", stdin=OLD) == 0
        # NEW is not accepted by the provider yet: verification fails, rotation aborts
        assert run("rotate-keys", str(folder), "--yes", stdin=NEW + "\n") == 3
        fake.add_key(NEW)
        assert run("rotate-keys", str(folder), "--yes", stdin=NEW + "\n") == 0
        assert run("rotate-keys", str(folder), "--finish", "--yes") == 0
        spec = DriverSpec("prod", "deepseek", "default", "openai", None,
                          {"verify_url": fake.base_url + "/models", "verify_attempts": 1})
        fake.revoke_key(NEW)
        for attempt in (lambda: ManualDriver(spec, lambda p, f: {}).verify({"api_key": NEW}),
                        lambda: parse_secret_text(f"{OLD} {NEW}", ("api_key",), "x"),
                        lambda: parse_secret_text(f"{OLD}\n{NEW}", ("api_key",), "x")):
            with pytest.raises(AigwError) as err:
                attempt()
            errors += [str(err.value), *err.value.lines()]
    captured = capsys.readouterr()
    logs = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
    bookkeeping = dump_kv(bao.client(), kv_mount, "prod/_aigw")
    assert "aborted" in bookkeeping and '"state": "done"' in bookkeeping  # on record...
    for text in [captured.out, captured.err, logs, bookkeeping, *errors]:
        assert OLD not in text and NEW not in text  # ...without the values
