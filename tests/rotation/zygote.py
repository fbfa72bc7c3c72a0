"""Real `aigw` processes that start in milliseconds: a pre-imported parent forks each run.

Importing the CLI (typer, pydantic, hvac, jinja2, boto3...) takes seconds on a
busy machine; the crash and concurrency tests need dozens of separate processes.
`python -m tests.rotation.zygote` imports everything once, then for each request
forks a child that sets its environment, stdin, stdout and stderr, runs
`aigw.cli.main(argv)` with the key commands registered, and exits. A SIGKILL
(AIGW_TEST_CRASH_AT) kills only that child; the parent reports how each child
ended. The parent is single-threaded, so forking it is safe.

Protocol (JSON lines): request {id, argv, env, cwd, stdin, out, err} on the
parent's stdin; events {id, pid} when forked and {id, code|signal} when reaped.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _child(req: dict[str, Any]) -> int:
    os.environ.clear()
    os.environ.update(req["env"])
    os.chdir(req["cwd"])
    r, w = os.pipe()
    os.write(w, req.get("stdin", "").encode())
    os.close(w)
    os.dup2(r, 0)
    for fd, path in ((1, req["out"]), (2, req["err"])):
        f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(f, fd)
        os.close(f)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - a fresh reader over the new fd 0
    from aigw.cli import main

    try:
        main(req["argv"])
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report, do not crash the zygote's protocol
        traceback.print_exc()
        return 99
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def serve() -> None:
    """The parent: preload, then fork one child per request line; report exits."""
    import boto3  # noqa: F401

    import aigw.cli
    import aigw.rotation.drivers.aws_iam  # noqa: F401
    import aigw.rotation.drivers.manual  # noqa: F401
    import aigw.rotation.drivers.openai_admin  # noqa: F401
    from aigw.rotation.drivers.base import _tls

    _tls()  # the CA bundle is loaded once here, not in every child
    aigw.cli._register()  # and the commands

    def emit(event: dict[str, Any]) -> None:
        os.write(1, (json.dumps(event) + "\n").encode())

    emit({"ready": True})
    buf, ids, open_ = b"", {}, True
    while open_ or ids:
        ready, _, _ = select.select([0] if open_ else [], [], [], 0.01)
        if ready:
            chunk = os.read(0, 65536)
            open_ = bool(chunk)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                req = json.loads(line)
                sys.stdout.flush()
                pid = os.fork()
                if pid == 0:
                    os._exit(_child(req))
                ids[pid] = req["id"]
                emit({"id": req["id"], "pid": pid})
        while ids:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            rid = ids.pop(pid)
            if os.WIFSIGNALED(status):
                emit({"id": rid, "signal": os.WTERMSIG(status)})
            else:
                emit({"id": rid, "code": os.WEXITSTATUS(status)})


@dataclass
class Result:
    """How one forked run ended: exit code or signal, and its output."""

    code: int | None
    signal: int | None
    out: str
    err: str
    pid: int


class Run:
    """A forked run in flight."""

    def __init__(self, rid: int, out: Path, err: Path) -> None:
        self.rid, self.out, self.err = rid, out, err
        self.pid = 0
        self.started = threading.Event()
        self.ended = threading.Event()
        self.event: dict[str, Any] = {}

    def wait(self, timeout: float = 60.0) -> Result:
        """Wait for the end (SIGKILL it after TIMEOUT and fail)."""
        if not self.ended.wait(timeout):
            if self.pid:
                os.kill(self.pid, 9)
            self.ended.wait(10)
            raise TimeoutError(f"run {self.rid} did not end in {timeout}s: "
                               f"{self.err.read_text() if self.err.exists() else ''}")
        return Result(self.event.get("code"), self.event.get("signal"),
                      self.out.read_text(), self.err.read_text(), self.pid)


class Zygote:
    """The test side: start the parent once, then `run`/`start` CLI invocations."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.rotation.zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                                     env=env)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            raise RuntimeError("zygote failed to start")
        self._runs: dict[int, Run] = {}
        self._next = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            run = self._runs[event["id"]]
            if "pid" in event:
                run.pid = event["pid"]
                run.started.set()
            else:
                run.event = event
                run.ended.set()

    def start(self, argv: list[str], env: dict[str, str], *, stdin: str = "",
              cwd: Path | None = None) -> Run:
        """Fork a run of `aigw ARGV` with exactly ENV; returns at once."""
        with self._lock:
            self._next += 1
            rid = self._next
            run = Run(rid, self.workdir / f"run{rid}.out", self.workdir / f"run{rid}.err")
            self._runs[rid] = run
            req = {"id": rid, "argv": argv, "env": env, "cwd": str(cwd or self.workdir),
                   "stdin": stdin, "out": str(run.out), "err": str(run.err)}
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        return run

    def run(self, argv: list[str], env: dict[str, str], *, stdin: str = "",
            timeout: float = 60.0) -> Result:
        """Fork a run and wait for it."""
        return self.start(argv, env, stdin=stdin).wait(timeout)

    def stop(self) -> None:
        """Close the request pipe; the parent exits once its children are reaped."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


if __name__ == "__main__":
    serve()
