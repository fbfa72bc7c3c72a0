"""OpenBao going away: one clear line naming the address, and recovery after it returns."""

from __future__ import annotations

from typing import Any

import pytest

from aigw.catalog import load_catalog
from aigw.stack import session
from tests.helpers import run_cli
from tests.stack.conftest import EXAMPLES, StackRig
from tests.stack.vaultstate import assert_holds_exactly

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_stopped_openbao_fails_in_one_line_and_apply_recovers(
        rig: StackRig, capsys: Any) -> None:
    assert run_cli(capsys, "apply", str(EXAMPLES), "--yes").code == 0
    rig.bao.stop()
    for args in (("plan", str(EXAMPLES)), ("plan", str(EXAMPLES), "--refresh"),
                 ("apply", str(EXAMPLES), "--yes")):
        result = run_cli(capsys, *args)
        assert result.code == 3
        lines = result.err.splitlines()
        assert len(lines) == 1, result.err
        assert lines[0].startswith(f"error: OpenBao unreachable at {rig.bao.addr} (hint:")
        assert rig.bao.token not in result.err
    rig.bao.start()  # same address and token; a dev server starts empty
    # A plain plan compares with the recorded state: it must notice that this is not the
    # server that state describes, say so in one line, and show the real changes.
    planned = run_cli(capsys, "plan", str(EXAMPLES))
    assert planned.code == 1, planned.err
    said = [ln for ln in planned.out.splitlines() if "another OpenBao server" in ln]
    assert [ln.split(":")[0] for ln in said] == ["aigw/staging", "aigw/prod"]  # declared order
    assert "hint: `aigw apply` refreshes" in said[0]
    assert "aigw/prod: 22 to create, 0 to update, 0 to delete" in planned.out
    result = run_cli(capsys, "apply", str(EXAMPLES), "--yes")
    assert result.code == 0, result.err
    # Refresh saw everything was gone: the first environment (declared order) creates all
    # of its objects, the shared mount and auth methods included, which prod then finds.
    assert "aigw/staging: 28 created, 0 updated, 0 deleted, 0 unchanged" in result.out
    assert "aigw/prod: 19 created, 0 updated, 0 deleted, 3 unchanged" in result.out
    assert_holds_exactly(rig.client(), load_catalog(EXAMPLES).catalog, ["prod", "staging"])
    assert run_cli(capsys, "plan", str(EXAMPLES), "--refresh").code == 0


def test_openbao_lost_during_the_run_is_one_line_too(
        rig: StackRig, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider process reports the failure; aigw maps it back to the same line."""
    real_cluster_id = session.cluster_id

    def identified_then_stop(vault: Any) -> str:
        cluster_id = real_cluster_id(vault)
        rig.bao.stop()  # passes the pre-flight checks, then the server is gone
        return cluster_id

    monkeypatch.setattr(session, "cluster_id", identified_then_stop)
    result = run_cli(capsys, "apply", str(EXAMPLES), "--yes", "--env", "prod")
    assert result.code == 3
    (line,) = result.err.splitlines()
    assert line.startswith(f"error: OpenBao unreachable at {rig.bao.addr} (hint: BAO_ADDR is ")


def test_a_token_without_rights_fails_in_one_line(rig: StackRig, capsys: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    weak = rig.client().auth.token.create(policies=["default"], ttl="10m")["auth"]["client_token"]
    monkeypatch.setenv("BAO_TOKEN", weak)
    result = run_cli(capsys, "apply", str(EXAMPLES), "--yes", "--env", "prod")
    assert result.code == 3
    (line,) = result.err.splitlines()
    assert line.startswith("error: permission denied on ") and "(hint: the token needs" in line
    assert weak not in result.err + result.out
