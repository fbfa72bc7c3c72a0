"""A run killed with SIGKILL halfway through 1,000 services, then run again.

With PULUMI_SKIP_CHECKPOINTS the killed run records nothing, so the next run
creates every object again: the providers' upserts adopt what exists. The
killed engine leaves its lock; the next run removes it (its holder is provably
dead) and says so in one line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from aigw.catalog import load_catalog
from aigw.stack.locks import stack_locks
from aigw.stack.spec import environment_spec
from tests.stack.conftest import StackRig
from tests.stack.stack_catalogs import write_catalog
from tests.stack.vaultstate import assert_holds_exactly, live_objects, state_urns

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
PROGRESS = re.compile(r"^\s+\[(\d+)/(\d+)\] created")


def session_processes(sid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes of a session."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (OSError, psutil.Error):
            continue
    return out


def test_kill_9_midway_then_apply_again_converges(rig: StackRig, tmp_path: Path) -> None:
    folder = write_catalog(tmp_path / "cat", 1000)
    spec = environment_spec(load_catalog(folder).catalog, "bench")
    proc = subprocess.Popen(
        [sys.executable, "-m", "aigw", "apply", str(folder), "--yes"],
        cwd=REPO, env=rig.cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    assert proc.stdout is not None
    seen = 0
    try:
        for line in proc.stdout:
            m = PROGRESS.match(line)
            if m and int(m.group(1)) >= int(m.group(2)) // 3:
                seen = int(m.group(1))
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # aigw and the engine (their process group)
        proc.wait()
    assert seen, "the apply never got going"
    # The engine started the provider process in a group of its own: it must notice
    # the engine is gone and exit by itself (aigw.stack._conn.exit_with_engine).
    left = session_processes(proc.pid)
    deadline = time.monotonic() + 15
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = session_processes(proc.pid)
    for p in left:  # never leave anything behind, even when the check fails
        p.kill()
    assert left == [], [p.cmdline() for p in left]
    created = sum(len(v) for v in live_objects(rig.client()).values())
    assert 0 < created < spec.resource_count  # killed midway: some objects exist
    assert state_urns(rig.backend, "bench") == []  # ...and the state recorded none of them
    assert len(stack_locks(rig.backend, "aigw", "bench")) == 1  # a stale lock is left

    rig.apply(folder)
    stale = [ln for ln in rig.lines if "stale lock" in ln]
    assert len(stale) == 1 and "its holder is gone" in stale[0]
    assert stack_locks(rig.backend, "aigw", "bench") == []
    assert_holds_exactly(rig.client(), load_catalog(folder).catalog, ["bench"])
    urns = state_urns(rig.backend, "bench")
    assert len(urns) == len(set(urns)) == spec.resource_count + 2  # + stack + provider
    assert not any(r.changed for r in rig.plan(folder))
