"""Every process aigw starts goes through aigw.proc, and no key value is ever on its argv.

The /proc sampler in tests/rotation/test_canary.py can miss a process that
lives for less than its 5 ms period; this is the deterministic check: every
argv aigw passes to a new process is recorded (through `aigw.proc.watch()`,
and independently by hooking `subprocess.Popen` for the whole test process, so
the `pulumi` commands the Pulumi Automation API runs are seen too) while a
real `aigw dev up` / `apply` / `keys put` / `rotate-keys` / `diff` / `policy
check` sequence runs in-process with canary key values made at test time.
Real OpenBao (`bao server -dev` started by `aigw dev up`), real Pulumi engine;
the providers are local stand-ins (testing.openai_admin, testing.fake_provider).
"""

from __future__ import annotations

import ast
import json
import secrets
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from testing.fake_provider import FakeProvider
from testing.openai_admin import OpenAIAdminServer

from aigw import proc

PACKAGE = Path(__file__).resolve().parents[1] / "cli" / "aigw"
PROC = PACKAGE / "proc.py"

# Ways to start a program other than aigw.proc: module imports and attribute calls.
BANNED_MODULES = {"subprocess", "asyncio.subprocess"}
BANNED_CALLS = {("os", n) for n in ("system", "popen", "execv", "execve", "execvp", "execvpe",
                                    "execl", "execle", "execlp", "execlpe", "spawnv", "spawnve",
                                    "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp",
                                    "spawnlpe", "posix_spawn", "posix_spawnp")} | {
    ("asyncio", "create_subprocess_exec"), ("asyncio", "create_subprocess_shell"),
    ("pty", "spawn")}


def process_starts(source: str) -> list[str]:
    """Lines of SOURCE that start a process without aigw.proc (imports and calls)."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            hits += [f"{node.lineno}: import {a.name}" for a in node.names
                     if a.name in BANNED_MODULES]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if mod in BANNED_MODULES or any((mod, a.name) in BANNED_CALLS for a in node.names) \
                    or (mod == "asyncio" and any(a.name == "subprocess" for a in node.names)):
                hits.append(f"{node.lineno}: from {mod} import ...")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and (node.value.id, node.attr) in BANNED_CALLS:
            hits.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return hits


def test_only_aigw_proc_starts_processes() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert PROC in modules and len(modules) > 20
    found = {str(p.relative_to(PACKAGE)): process_starts(p.read_text())
             for p in modules if p != PROC}
    assert {m: h for m, h in found.items() if h} == {}
    assert process_starts(PROC.read_text()) == ["16: import subprocess"]


@pytest.mark.parametrize("source", [
    "import subprocess", "import os\nos.system('x')", "from subprocess import run",
    "import asyncio\nasyncio.create_subprocess_exec('x')", "from os import execvp",
    "from asyncio import subprocess", "import os\nf = os.posix_spawn"])
def test_the_scan_sees_each_way_to_start_a_process(source: str) -> None:
    assert process_starts(source) != []


def test_watch_records_every_argv_and_refuses_a_shell(tmp_path: Path) -> None:
    with proc.watch() as seen:
        done = proc.run([sys.executable, "-c", "print('hi')"], capture_output=True, text=True,
                        check=True)
        child = proc.popen([sys.executable, "-c", "pass", tmp_path])
        child.wait()
    proc.run([sys.executable, "-c", "pass"], check=True)  # after the block: not recorded
    assert done.stdout == "hi\n"
    assert seen == [[sys.executable, "-c", "print('hi')"],
                    [sys.executable, "-c", "pass", str(tmp_path)]]
    with pytest.raises(TypeError):
        proc.run("echo hi", shell=True)
    with pytest.raises(TypeError):
        proc.run(["echo", "hi"], shell=True)


@pytest.fixture
def every_popen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[list[str], str]]]:
    """(argv, first caller outside subprocess) of every Popen this process creates."""
    seen: list[tuple[list[str], str]] = []
    original = subprocess.Popen.__init__

    def init(self: subprocess.Popen[Any], args: Any, *a: Any, **kw: Any) -> None:
        argv = [args] if isinstance(args, (str, bytes)) else list(args)
        frames = [f for f in traceback.extract_stack()[:-1]
                  if not f.filename.endswith(("subprocess.py", "test_proc.py"))]
        seen.append(([str(x) for x in argv], frames[-1].filename if frames else "?"))
        original(self, args, *a, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", init)
    yield seen


def _catalog(folder: Path, admin_url: str, manual_url: str) -> Path:
    providers = {
        "alpha": {"api": "openai", "base_url": admin_url, "region": "us",
                  "prices": {"m": {"currency": "USD", "as_of": "2026-11-01",
                                   "input": "1.00", "output": "2.00"}},
                  "rotation": {"driver": "openai-admin", "max_age": "30d", "grace": "0s",
                               "params": {"project_id": "proj-alpha",
                                          "admin_base_url": admin_url,
                                          "admin_key_env": "AIGW_TEST_ALPHA_ADMIN_KEY",
                                          "verify_delay": 0.05}}},
        "deepseek": {"api": "openai", "base_url": manual_url, "region": "us",
                     "prices": {"m": {"currency": "CNY", "as_of": "2026-11-01",
                                      "input": "2.00", "output": "3.00"}},
                     "rotation": {"driver": "manual", "grace": "0s",
                                  "params": {"verify_url": manual_url + "/models",
                                             "verify_delay": 0.05}}},
    }
    doc = {"version": 1, "environments": {"prod": {"agent_refresh": 0}},
           "providers": providers,
           "models": {"chat": {"routes": [{"provider": "alpha", "model": "m"},
                                          {"provider": "deepseek", "model": "m"}]}},
           "services": {"web": {"environments": ["prod"], "models": ["chat"],
                                "regions": ["us"]}}}
    folder.mkdir(parents=True)
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (folder / "policies").mkdir()
    (folder / "policies" / "waivers.yaml").write_text(yaml.safe_dump([
        {"rule": "prod-per-service-keys", "service": "web", "reason": "one test service"}]))
    return folder


@pytest.mark.integration
@pytest.mark.slow
def test_no_key_value_on_any_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          every_popen: list[tuple[list[str], str]]) -> None:
    from aigw import dev
    from aigw.cli import main
    from tests.rotation.test_keys_cli import Stdin

    old = "sk-CANARY-old-" + secrets.token_hex(8)  # made at test time
    new = "sk-CANARY-new-" + secrets.token_hex(8)
    admin_key = "admin-CANARY-" + secrets.token_hex(8)

    def aigw(*args: str, stdin: str = "", ok: tuple[int, ...] = (0,)) -> None:
        monkeypatch.setattr("sys.stdin", Stdin(stdin))
        try:
            main(list(args))
        except SystemExit as exc:
            assert int(exc.code or 0) in ok, f"aigw {args[0]} exited {exc.code}"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path))
    monkeypatch.setenv("AIGW_ROTATE_QUIET", "0.1")
    monkeypatch.setenv("AIGW_TEST_ALPHA_ADMIN_KEY", admin_key)
    for var in ("BAO_ADDR", "BAO_TOKEN", "VAULT_ADDR", "VAULT_TOKEN", "PULUMI_BACKEND_URL"):
        monkeypatch.delenv(var, raising=False)
    with OpenAIAdminServer(admin_key=admin_key) as admin, \
            FakeProvider("deepseek", keys=[old, new]) as manual, proc.watch() as via_proc:
        folder = _catalog(tmp_path / "cat", admin.url, manual.base_url)
        _, alpha_old = admin.create_account("proj-alpha", "initial")
        try:
            aigw("dev", "up")
            env = dev.up(tmp_path)  # the running server, reused: its address and token
            assert env.reused
            for line in env.exports():
                name, _, value = line.removeprefix("export ").partition("=")
                monkeypatch.setenv(name, value.strip("'"))
            aigw("apply", str(folder), "--yes")
            aigw("keys", "put", "alpha", str(folder), "--env", "prod", stdin=alpha_old)
            aigw("keys", "put", "deepseek", str(folder), "--env", "prod", stdin=old)
            aigw("rotate-keys", str(folder), "--env", "prod", "--yes", stdin=new + "\n")
            aigw("rotate-keys", str(folder), "--env", "prod", "--finish", "--yes")
            aigw("keys", "status", str(folder), "--env", "prod", "--json")
            aigw("policy", "check", str(folder))
            git = ["git", "-C", str(folder)]
            subprocess.run([*git, "init", "-q"], check=True)
            subprocess.run([*git, "-c", "user.name=t", "-c", "user.email=t@t", "commit",
                            "--allow-empty", "-qm", "base"], check=True)
            aigw("diff", str(folder), "--base", "HEAD", "--no-plan", ok=(0, 1))
        finally:
            aigw("dev", "down")
        alpha_new = [k.value for k in admin.live_keys("proj-alpha")]
        token = env.token
    assert alpha_new and alpha_old not in alpha_new  # alpha really rotated
    secrets_seen = [old, new, alpha_old, *alpha_new, admin_key, token]
    # What went through aigw.proc: the dev server, opa, git, version probes.
    programs = {Path(argv[0]).name for argv in via_proc}
    assert {"bao", "opa", "git"} <= programs, programs
    # Every process the test process started, by any library (Pulumi's CLI too).
    assert any(Path(argv[0]).name == "pulumi" for argv, _ in every_popen), every_popen
    assert all(argv in [a for a, _ in every_popen] for argv in via_proc)
    outside = sorted({caller for _, caller in every_popen
                      if caller.startswith(str(PACKAGE)) and caller != str(PROC)})
    assert outside == [], outside  # aigw code that started a process around aigw.proc
    leaked = [(argv, caller) for argv, caller in every_popen
              if any(s in part for s in secrets_seen for part in argv)]
    assert leaked == [], json.dumps(leaked)[:2000]
