"""Keys land only where someone reads them (issue 14, item 6).

The stack declares only the slots some deployment reads; `aigw keys put` into a
slot nobody reads refuses (with a did-you-mean) unless `--force`; `rotate-keys`
summarises skipped slots in one line. Real OpenBao dev server (session one, a
fresh mount per test); the CLI runs in-process.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import hvac
import pytest
import yaml
from testing.bao import BaoDevServer

from aigw.catalog import load_catalog
from aigw.stack.spec import environment_spec
from tests.helpers import Result, run_cli


def _catalog(folder: Path, mount: str) -> Path:
    """mistral's default slot is unread in prod: its one prod reader has per-service keys."""
    doc = {
        "version": 1,
        "environments": {"prod": {"mount": mount}, "staging": {"mount": mount}},
        "providers": {"mistral": {"api": "openai", "base_url": "http://127.0.0.1:9/v1",
                                  "region": "eu"}},
        "models": {"eu-chat": {"routes": [{"provider": "mistral", "model": "m"}]}},
        "services": {
            "contracts": {"environments": ["prod", "staging"], "models": ["eu-chat"],
                          "keys": "per-service"},
            "wiki": {"environments": ["staging"], "models": ["eu-chat"]},
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


def _cli(capsys: Any, monkeypatch: pytest.MonkeyPatch, *args: str, stdin: str = "") -> Result:
    monkeypatch.setattr("sys.stdin", _Stdin(stdin))
    return run_cli(capsys, *args)


def test_the_stack_declares_only_read_slots(tmp_path: Path) -> None:
    cat = load_catalog(_catalog(tmp_path / "cat", "aigw")).catalog
    prod = {s.path for s in environment_spec(cat, "prod").slots}
    staging = {s.path for s in environment_spec(cat, "staging").slots}
    assert prod == {"prod/providers/mistral/svc-contracts"}
    assert staging == {"staging/providers/mistral/default",
                       "staging/providers/mistral/svc-contracts"}


@pytest.mark.integration
def test_put_into_an_unread_slot_refuses_without_force(
        tmp_path: Path, bao: BaoDevServer, vault_mount: str, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path))
    cat = str(_catalog(tmp_path / "cat", vault_mount))
    refused = _cli(capsys, monkeypatch, "keys", "put", "mistral", cat, "--env", "prod",
                   stdin="sk-canary-unread\n")
    assert refused.code == 2
    assert refused.err.splitlines() == [
        "error: prod/mistral/default: no service in prod reads this slot (hint: did you mean "
        "'mistral/svc-contracts'? pass --force to store the key anyway)"]
    with pytest.raises(hvac.exceptions.InvalidPath):  # nothing was written
        bao.client().secrets.kv.v2.read_secret_version(
            path="prod/providers/mistral/default", mount_point=vault_mount,
            raise_on_deleted_version=True)

    # A slot that is read in prod: stored, no warning.
    ok = _cli(capsys, monkeypatch, "keys", "put", "mistral/svc-contracts", cat, "--env", "prod",
              stdin="sk-canary-read\n")
    assert ok.code == 0, ok.err
    assert ok.err == "" and "stored version 1" in ok.out
    # The same default slot is read in staging (by wiki): stored there without --force.
    staged = _cli(capsys, monkeypatch, "keys", "put", "mistral", cat, "--env", "staging",
                  stdin="sk-canary-staging\n")
    assert staged.code == 0, staged.err
    # --force stores it, and still says nobody reads it.
    forced = _cli(capsys, monkeypatch, "keys", "put", "mistral", cat, "--env", "prod", "--force",
                  stdin="sk-canary-unread\n")
    assert forced.code == 0, forced.err
    assert forced.err.startswith("warning: prod/mistral/default: no service in prod reads")
    assert "sk-canary" not in refused.err + forced.err + forced.out + ok.out


@pytest.mark.integration
def test_rotate_keys_resume_summarises_skipped_slots_in_one_line(
        tmp_path: Path, bao: BaoDevServer, vault_mount: str, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path))
    cat = str(_catalog(tmp_path / "cat", vault_mount))
    r = _cli(capsys, monkeypatch, "rotate-keys", cat, "--resume", "--yes")
    assert r.code == 0, r.err
    assert r.out.splitlines() == ["skipped 4 slot(s): no rotation in progress"]
