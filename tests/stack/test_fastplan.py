"""`aigw plan` answers without the engine when nothing changed since the last apply.

Real OpenBao dev server and the real Pulumi engine (tests/stack/conftest.py). The
engine is reached through a wrapper (`$AIGW_PULUMI_DIR`) that appends a line to a
log before it execs the real binary: an empty log proves the engine never started.
The S3 test uses moto as the S3 stand-in (as tests/stack/test_s3_backend.py does).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aigw.context import EngineSettings
from aigw.stack import run
from aigw.stack.fastplan import FORMAT, fingerprint_key, why_engine
from aigw.tools import find_pulumi
from tests.helpers import run_cli
from tests.stack.conftest import PASSPHRASE, StackRig
from tests.stack.test_apply import edit_services
from tests.stack.test_keys_ready import edit
from tests.stack.test_s3_backend import s3_url  # noqa: F401 - the fixture
from tests.test_json_contract import check

pytestmark = [pytest.mark.integration, pytest.mark.slow]
FAST = "planned from the last apply's fingerprint, without the engine"


@pytest.fixture
def engine_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many times the engine binary has been started (through a logging wrapper)."""
    real = find_pulumi().parent
    wrapper, log = tmp_path / "engine", tmp_path / "engine.log"
    wrapper.mkdir()
    for item in real.iterdir():  # the engine's own plugins stay beside it
        if item.name != "pulumi":
            (wrapper / item.name).symlink_to(item)
    script = wrapper / "pulumi"
    script.write_text(f'#!/bin/sh\necho "$1" >> "{log}"\nexec "{real / "pulumi"}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("AIGW_PULUMI_DIR", str(wrapper))
    return lambda: len(log.read_text().splitlines()) if log.exists() else 0


def test_a_noop_plan_after_apply_does_not_start_the_engine(
        rig: StackRig, catalog_dir: Path, engine_starts: Callable[[], int],
        capsys: Any) -> None:
    applied = run_cli(capsys, "apply", str(catalog_dir), "--yes")
    assert applied.code == 0, applied.err
    assert engine_starts() > 0  # the wrapper does see the engine
    before = engine_starts()
    planned = run_cli(capsys, "plan", str(catalog_dir))
    assert planned.code == 0, planned.err
    assert planned.out.splitlines() == [
        f"aigw/staging: {FAST} (`--refresh` reads OpenBao back)",
        "aigw/staging: no changes (28 resources up to date)",
        f"aigw/prod: {FAST} (`--refresh` reads OpenBao back)",
        "aigw/prod: no changes (22 resources up to date)",
    ]
    doc = check("plan", run_cli(capsys, "plan", str(catalog_dir), "--json"), 0)
    assert [s["planner"] for s in doc["stacks"]] == ["fingerprint", "fingerprint"]
    assert engine_starts() == before  # neither plan started the engine
    # --refresh: aigw reads every object back itself; nothing drifted, so still no engine.
    refreshed = run_cli(capsys, "plan", str(catalog_dir), "--refresh", "--json")
    doc = check("plan", refreshed, 0)
    assert [(s["planner"], s["refresh"]) for s in doc["stacks"]] == [
        ("fingerprint", "aigw"), ("fingerprint", "aigw")]
    assert "aigw/prod: read back 22 objects from OpenBao in " in refreshed.err
    assert engine_starts() == before
    # A policy changed by hand: the engine refreshes, and the plan shows the repair.
    rig.client().sys.create_or_update_acl_policy("aigw-prod-support-bot", 'path "x" {}')
    drifted = run_cli(capsys, "plan", str(catalog_dir), "--refresh", "--json")
    doc = check("plan", drifted, 1)
    assert [(s["planner"], s["refresh"]) for s in doc["stacks"]] == [
        ("fingerprint", "aigw"), ("engine", "engine")]
    assert ("aigw/prod: policy.aigw-prod-support-bot (changed) differs from the recorded "
            "state") in drifted.err  # plan stops reading at the first: the engine reads all
    assert "aigw/prod: planned by the engine (--refresh: the engine refreshes every " \
        "object)" in drifted.err
    assert engine_starts() > before
    again = run_cli(capsys, "plan", str(catalog_dir))  # a preview leaves the state alone
    assert again.code == 0 and again.out.count(FAST) == 2, again.out


def test_a_catalog_change_is_planned_by_the_engine_and_exits_1(
        rig: StackRig, catalog_dir: Path, engine_starts: Callable[[], int],
        capsys: Any) -> None:
    rig.apply(catalog_dir)
    edit_services(catalog_dir, lambda s: s.update({"new-svc": {
        "environments": ["prod"], "models": ["gpt-4o"], "keys": "per-service"}}))
    before = engine_starts()
    planned = run_cli(capsys, "plan", str(catalog_dir))
    assert planned.code == 1, planned.err
    lines = planned.out.splitlines()
    assert f"aigw/staging: {FAST} (`--refresh` reads OpenBao back)" in lines  # prod-only change
    assert ("aigw/prod: planned by the engine (the catalog or OpenBao differs from the last "
            "apply)") in lines
    assert any(ln.startswith("aigw/prod: 4 to create, 0 to update") for ln in lines), lines
    assert engine_starts() > before


def test_a_deployment_held_for_an_empty_slot_makes_the_fast_plan_exit_1(
        rig: StackRig, catalog_dir: Path, engine_starts: Callable[[], int],
        capsys: Any) -> None:
    assert run_cli(capsys, "apply", str(catalog_dir), "--yes").code == 0
    for env in ("staging", "prod"):
        rig.fill(catalog_dir, env)
    edit(catalog_dir, lambda d: d["services"]["support-bot"].update({"keys": "shared"}))
    held = run_cli(capsys, "apply", str(catalog_dir), "--yes")
    assert held.code == 1, held.err  # prod has no `default` keys: support-bot is held there
    before = engine_starts()
    planned = run_cli(capsys, "plan", str(catalog_dir), "--json")
    doc = check("plan", planned, 1)
    assert [s["planner"] for s in doc["stacks"]] == ["fingerprint", "fingerprint"]
    assert [(d["service"], d["environment"]) for d in doc["held"]] == [("support-bot", "prod")]
    assert "aigw keys put deepseek/default --env prod" in planned.err  # read from OpenBao
    assert engine_starts() == before


def test_a_state_without_a_fingerprint_or_changed_since_uses_the_engine(
        rig: StackRig, catalog_dir: Path, engine_starts: Callable[[], int],
        capsys: Any) -> None:
    rig.apply(catalog_dir)
    fingerprints = rig.backend / ".pulumi" / "aigw" / "aigw"
    assert sorted(p.name for p in fingerprints.iterdir()) == ["prod.json", "staging.json"]
    assert oct((fingerprints / "prod.json").stat().st_mode & 0o777) == "0o600"
    saved = json.loads((fingerprints / "prod.json").read_text())  # digests, never values
    assert sorted(saved) == ["format", "spec", "state"]
    assert all(len(saved[k]) == 64 and int(saved[k], 16) >= 0 for k in ("spec", "state"))
    (fingerprints / "staging.json").unlink()  # as a state written by an older aigw
    run.destroy("prod", echo=rig.lines.append, yes=True, vault=rig.vault, engine=rig.engine)
    before = engine_starts()
    planned = run_cli(capsys, "plan", str(catalog_dir))
    assert planned.code == 1, planned.err  # prod was destroyed: everything to create again
    lines = planned.out.splitlines()
    assert ("aigw/staging: planned by the engine (no fingerprint of a previous apply (first "
            "run, or an older aigw))") in lines
    assert "aigw/staging: no changes (28 resources up to date)" in lines
    assert "aigw/prod: planned by the engine (the state changed since the last apply)" in lines
    assert engine_starts() > before


def test_a_fingerprint_recorded_after_another_runs_apply_is_not_trusted(
        rig: StackRig, catalog_dir: Path, engine_starts: Callable[[], int],
        capsys: Any) -> None:
    """Two checkouts apply at once: run A's up finishes first, run B's up follows (the
    lock serializes them), and A records its fingerprint last, hashing B's state."""
    rig.apply(catalog_dir, "prod")  # A's catalog
    key = rig.backend / fingerprint_key("prod")
    a_spec = json.loads(key.read_text())["spec"]
    original = (catalog_dir / "aigw.yaml").read_text()
    edit_services(catalog_dir, lambda s: s.pop("support-bot"))
    rig.apply(catalog_dir, "prod")  # B's catalog, B's state
    b_state = json.loads(key.read_text())["state"]
    key.write_text(json.dumps({"format": FORMAT, "spec": a_spec, "state": b_state}))
    (catalog_dir / "aigw.yaml").write_text(original)  # A's checkout plans
    planned = run_cli(capsys, "plan", str(catalog_dir), "--env", "prod")
    assert planned.code == 1, planned.out  # support-bot is missing from OpenBao
    assert "aigw/prod: planned by the engine (the state was written by another run)" in \
        planned.out.splitlines()


def test_the_fingerprint_works_with_an_s3_backend(
        rig: StackRig, catalog_dir: Path, s3_url: str,  # noqa: F811
        engine_starts: Callable[[], int], capsys: Any) -> None:
    engine = EngineSettings(backend_url=s3_url,
                            passphrase_env={"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
    run.apply(catalog_dir, echo=rig.lines.append, yes=True, vault=rig.vault, engine=engine)
    before = engine_starts()
    results = run.plan(catalog_dir, echo=rig.lines.append, vault=rig.vault, engine=engine)
    assert [(r.planner, r.changed) for r in results] == [("fingerprint", False)] * 2
    assert engine_starts() == before
    edit_services(catalog_dir, lambda s: s.pop("support-bot"))
    results = run.plan(catalog_dir, echo=rig.lines.append, vault=rig.vault, engine=engine)
    assert [(r.planner, r.changed) for r in results] == [("engine", True)] * 2
    assert engine_starts() > before


def test_other_backends_and_unreadable_fingerprints_leave_plan_to_the_engine(
        tmp_path: Path) -> None:
    cloud = EngineSettings(backend_url="https://api.pulumi.com", passphrase_env={})
    assert why_engine(cloud, "prod", "0" * 64) == "the backend is not file:// or s3://"
    local = EngineSettings(backend_url=f"file://{tmp_path}", passphrase_env={})
    key = tmp_path / fingerprint_key("prod")
    key.parent.mkdir(parents=True)
    key.write_text("{not json")
    assert why_engine(local, "prod", "0" * 64) == \
        "the backend could not be read (JSONDecodeError)"
