"""The crash-point cases of test_crash.py, for the anthropic-admin driver.

Same kills (`AIGW_TEST_CRASH_AT`: every point of the main path, the double
crashes, the abort path), same end state: exactly one new active key in the
slot, the old key archived at the provider, every other key untouched, a done
journal, a released lock, an intact audit trail with no transition logged twice,
and a consumer that called with the slot's key throughout and saw no failure.

What differs from openai-admin: the operator pastes the new key (stdin; each
run gets it, as an operator rerunning the command would paste it again), and
Anthropic reports no last use, so a rotation waits at `promoted` until
`--finish` (grace 0s here). So the case runs `rotate-keys` (or `--resume`)
then `rotate-keys --finish`, killing whichever run passes the point.

Provider: testing/anthropic_admin.py, a local stand-in for Anthropic's Admin API
(API keys) and /v1/models, written from the public API reference.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from testing.anthropic_admin import AnthropicAdminServer
from testing.bao import BaoDevServer

from aigw.slots.audit import AuditLog
from aigw.slots.journal import Journal
from aigw.slots.kv import KV
from aigw.slots.lock import SlotLock
from tests.rotation.conftest import (
    ANTHROPIC_ADMIN_KEY,
    Consumer,
    child_env,
    read_slot,
    seed,
    write_catalog,
)
from tests.rotation.test_crash import (
    ABORT_POINTS,
    CRASH_POINTS,
    DOUBLE_CRASHES,
    check_bookkeeping,
    expected_after_kill,
)

SLOT = "prod/providers/anthropic/default"
JOURNAL, LOCK = "prod/_aigw/journal/anthropic/default", "prod/_aigw/locks/anthropic/default"


@pytest.fixture
def anthropic() -> Iterator[AnthropicAdminServer]:
    """The Anthropic stand-in, started and stopped by the test."""
    with AnthropicAdminServer(ANTHROPIC_ADMIN_KEY) as server:
        yield server


class Case:
    """One slot rotated by anthropic-admin against the stand-in, run as real processes."""

    def __init__(self, zygote: Any, bao: BaoDevServer, mount: str,
                 server: AnthropicAdminServer, tmp_path: Path) -> None:
        self.zygote, self.server, self.client = zygote, server, bao.client()
        self.kv = KV(self.client, mount)
        self.mount = mount
        provider = {"api": "anthropic", "base_url": server.url, "region": "us", "rotation": {
            "driver": "anthropic-admin", "grace": "0s", "params": {
                "admin_base_url": server.url, "verify_attempts": 2, "verify_delay": 0.05}}}
        folder = write_catalog(tmp_path / "cat", mount, {"anthropic": provider})
        self.other_id, _ = server.create_key("another team's key")
        self.old_id, self.old = server.create_key("legacy-app-key")
        self.new_id, self.new = server.create_key("pasted by the operator")
        seed(self.client, mount, SLOT, {"api_key": self.old})
        self.argv = ["rotate-keys", str(folder), "--env", "prod", "--yes"]
        self.env = child_env(bao.addr, bao.token, tmp_path,
                             ANTHROPIC_ADMIN_KEY=ANTHROPIC_ADMIN_KEY)
        self.outputs: list[str] = []

    def _steps(self) -> list[list[str]]:
        # As test_crash.py: resume once a journal exists (never start a second rotation).
        started = Journal(self.kv, JOURNAL, "x").load() is not None
        return [self.argv + (["--resume"] if started else []), self.argv + ["--finish"]]

    def kill_at(self, point: str) -> None:
        """Run the steps with a kill at POINT: the run that passes it must die there."""
        for argv in self._steps():
            entry = Journal(self.kv, JOURNAL, "x").load()
            before = entry.state if entry else None
            run = self.zygote.run(argv, {**self.env, "AIGW_TEST_CRASH_AT": point},
                                  timeout=60, stdin=self.new + "\n")
            self.outputs += [run.out, run.err]
            if run.signal == signal.SIGKILL:
                entry = Journal(self.kv, JOURNAL, "x").load()
                assert (entry.state if entry else None) == expected_after_kill(point, before)
                holder = SlotLock(self.kv, LOCK, "x", "", ttl=0).holder()
                assert holder is not None and not holder.released
                return
            assert run.code == 0, run.err
        raise AssertionError(f"no run passed {point}")

    def finish(self) -> None:
        """Rerun until done, as an operator would."""
        for argv in self._steps():
            run = self.zygote.run(argv, self.env, timeout=60, stdin=self.new + "\n")
            self.outputs += [run.out, run.err]
            assert run.code == 0, run.err

    def check_rotated(self) -> None:
        """The new key in the slot and active, the old one archived, nothing else touched."""
        assert read_slot(self.client, self.mount, SLOT) == {"api_key": self.new}
        assert self.server.status(self.new_id) == "active"
        assert self.server.status(self.old_id) == "archived"
        assert self.server.status(self.other_id) == "active"
        check_bookkeeping(self.client, self.mount, "anthropic", self.new, self.new_id,
                          self.old_id)
        for text in self.outputs:
            for value in (self.old, self.new, ANTHROPIC_ADMIN_KEY):
                assert value not in text


def _case(points: list[str], zygote: Any, bao: BaoDevServer, kv_mount: str,
          server: AnthropicAdminServer, tmp_path: Path) -> None:
    case = Case(zygote, bao, kv_mount, server, tmp_path)
    consumer = Consumer(case.client, kv_mount, SLOT, lambda d: server.use(d["api_key"]) == 200)
    with consumer:
        for point in points:
            case.kill_at(point)
        case.finish()
    case.check_rotated()
    consumer.assert_clean()


@pytest.mark.integration
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_anthropic_admin_crash_at(point: str, zygote: Any, bao: BaoDevServer, kv_mount: str,
                                  anthropic: AnthropicAdminServer, tmp_path: Path) -> None:
    _case([point], zygote, bao, kv_mount, anthropic, tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("points", DOUBLE_CRASHES, ids="+".join)
def test_anthropic_admin_crash_during_resume(points: tuple[str, str], zygote: Any,
                                             bao: BaoDevServer, kv_mount: str,
                                             anthropic: AnthropicAdminServer,
                                             tmp_path: Path) -> None:
    _case(list(points), zygote, bao, kv_mount, anthropic, tmp_path)


@pytest.mark.integration
@pytest.mark.parametrize("point", ABORT_POINTS)
def test_anthropic_abort_path_crash_at(point: str, zygote: Any, bao: BaoDevServer,
                                       kv_mount: str, anthropic: AnthropicAdminServer,
                                       tmp_path: Path) -> None:
    """A pasted key that fails verification: the slot and the old key untouched, even if the
    run dies while aborting; the pasted key is left to the operator (aigw did not make it)."""
    case = Case(zygote, bao, kv_mount, anthropic, tmp_path)
    anthropic.reject_models = True
    case.kill_at(point)
    rerun = zygote.run(case.argv + ["--resume"], case.env, timeout=60)
    assert rerun.code == 3 and "verification failed" in rerun.err
    assert read_slot(case.client, kv_mount, SLOT) == {"api_key": case.old}
    assert [anthropic.status(k) for k in (case.old_id, case.new_id, case.other_id)] == [
        "active"] * 3
    entry = Journal(case.kv, JOURNAL, "x").load()
    assert entry is not None and entry.state == "aborted"
    assert case.kv.read("prod/_aigw/staged/anthropic/default") is None
    holder = SlotLock(case.kv, LOCK, "x", "", ttl=0).holder()
    assert holder is not None and holder.released
    report = AuditLog(case.kv, "prod/_aigw").verify()
    assert report.ok, report.problems
    ids = [r["event_id"] for r in report.records]
    assert len(ids) == len(set(ids))
    for text in case.outputs + [rerun.out, rerun.err]:
        assert case.new not in text and ANTHROPIC_ADMIN_KEY not in text
