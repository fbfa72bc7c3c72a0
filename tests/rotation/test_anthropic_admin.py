"""What the anthropic-admin driver does beyond the shared contract: finding keys by their
hint, checking the pasted key belongs to the organization, its Admin key, its errors.

Provider: testing/anthropic_admin.py, a local stand-in for Anthropic's Admin API
(API keys) and /v1/models, written from the public API reference.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from testing.anthropic_admin import AnthropicAdminServer
from testing.bao import BaoDevServer

from aigw.errors import RotationError
from aigw.rotation.drivers.anthropic_admin import AnthropicAdminDriver
from aigw.rotation.drivers.base import DriverSpec, build_driver
from aigw.rotation.progress import Timing
from aigw.rotation.runner import RotateOptions, rotate_keys
from tests.rotation.conftest import ANTHROPIC_ADMIN_KEY, load, read_slot, seed, write_catalog


def _spec(server: AnthropicAdminServer, **params: object) -> DriverSpec:
    return DriverSpec("prod", "anthropic", "default", "anthropic", server.url,
                      {"admin_base_url": server.url, "verify_attempts": 1, **params})


@pytest.fixture
def anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicAdminServer]:
    """The stand-in, and its Admin key in $ANTHROPIC_ADMIN_KEY."""
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_ADMIN_KEY)
    with AnthropicAdminServer(ANTHROPIC_ADMIN_KEY) as server:
        yield server


def _driver(server: AnthropicAdminServer, pasted: str = "", **params: object) -> AnthropicAdminDriver:
    driver = build_driver("anthropic-admin", _spec(server, **params),
                          lambda p, f: {"api_key": pasted})
    assert isinstance(driver, AnthropicAdminDriver)
    return driver


@pytest.mark.integration
def test_finds_a_key_by_its_hint_across_pages(anthropic: AnthropicAdminServer) -> None:
    """More keys than one page (1,000) holds; archived keys and lookalikes do not count."""
    target_id, value = anthropic.create_key("the slot's key")
    for i in range(1000):
        anthropic.create_key(f"other-{i}")
    driver = _driver(anthropic)
    assert driver.identify({"api_key": value}) == target_id
    assert len(driver.list_keys()) == 1001
    # Same first 16 and last 4 characters: two keys fit the hint, so neither is chosen.
    twin = value[:16] + "X" * 20 + value[-4:]
    twin_id, _ = anthropic.create_key("lookalike", value=twin)
    assert driver.identify({"api_key": value}) is None
    driver.revoke(twin_id)  # archived keys are not candidates
    assert driver.identify({"api_key": value}) == target_id
    assert driver.identify({"api_key": "sk-ant-api03-" + "z" * 40}) is None


@pytest.mark.integration
def test_verify_needs_an_active_key_of_the_workspace(anthropic: AnthropicAdminServer) -> None:
    in_ws_id, in_ws = anthropic.create_key("prod key", workspace_id="wrkspc_prod")
    _, elsewhere = anthropic.create_key("sandbox key", workspace_id="wrkspc_sandbox")
    driver = _driver(anthropic, workspace_id="wrkspc_prod")
    assert driver.verify({"api_key": in_ws}) == (
        f"GET {anthropic.url}/v1/models: ok; key {in_ws_id} active in workspace wrkspc_prod")
    with pytest.raises(RotationError, match="not a key of the organization the Admin key "
                       "manages in workspace wrkspc_prod") as err:
        driver.verify({"api_key": elsewhere})  # it works, but in another workspace
    assert elsewhere not in err.value.message
    driver.disable(in_ws_id)
    with pytest.raises(RotationError, match="answered HTTP 401"):
        driver.verify({"api_key": in_ws})


@pytest.mark.integration
def test_mint_is_the_operators_paste_and_records_its_id(anthropic: AnthropicAdminServer) -> None:
    key_id, value = anthropic.create_key("pasted")
    minted = _driver(anthropic, pasted=value).mint("", [])
    assert minted.key_id == key_id and minted.secret == {"api_key": value}
    assert _driver(anthropic, pasted="sk-ant-api03-" + secrets.token_hex(10)).mint("", []).key_id is None


@pytest.mark.integration
def test_disable_and_revoke_are_idempotent(anthropic: AnthropicAdminServer) -> None:
    key_id, value = anthropic.create_key("old")
    driver = _driver(anthropic)
    driver.disable(key_id)
    driver.disable(key_id)
    assert anthropic.status(key_id) == "inactive" and not anthropic.valid(value)
    driver.revoke(key_id)
    driver.revoke(key_id)  # the stand-in refuses to change an archived key: not asked to
    driver.disable(key_id)
    assert anthropic.status(key_id) == "archived"
    driver.revoke("apikey_01gone")  # unknown: gone already
    active_id, _ = anthropic.create_key("revoked without a disable step first")
    driver.revoke(active_id)
    assert anthropic.status(active_id) == "archived"


def test_needs_its_admin_key_from_a_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_ADMIN_KEY", raising=False)
    spec = DriverSpec("prod", "anthropic", "default", "anthropic", None, {})
    with pytest.raises(RotationError, match=r"\$ANTHROPIC_ADMIN_KEY is not set"):
        build_driver("anthropic-admin", spec, lambda p, f: {})
    monkeypatch.setenv("TEAM_ANTHROPIC_ADMIN", "sk-ant-admin01-x")
    spec = DriverSpec("prod", "anthropic", "default", "anthropic", None,
                      {"admin_key_env": "TEAM_ANTHROPIC_ADMIN"})
    assert isinstance(build_driver("anthropic-admin", spec, lambda p, f: {}),
                      AnthropicAdminDriver)


@pytest.mark.integration
def test_a_wrong_admin_key_is_named_not_quoted(anthropic: AnthropicAdminServer) -> None:
    wrong = "sk-ant-admin01-" + "w" * 30
    driver = AnthropicAdminDriver(_spec(anthropic), wrong, lambda p, f: {})
    with pytest.raises(RotationError, match="HTTP 401 invalid x-api-key") as err:
        driver.list_keys()
    assert wrong not in err.value.message and ANTHROPIC_ADMIN_KEY not in err.value.message


def test_errors_never_quote_keys() -> None:
    admin = "org-admin-secret-123456"  # no sk-ant- prefix: redacted by value, not pattern

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"type": "error", "error": {
            "type": "invalid_request_error",
            "message": f"bad key {admin} near sk-ant-api03-abcdef123456"}})

    spec = DriverSpec("prod", "anthropic", "default", "anthropic", None, {})
    driver = AnthropicAdminDriver(spec, admin, lambda p, f: {}, http=httpx.Client(
        base_url="http://admin.invalid", transport=httpx.MockTransport(handler)))
    with pytest.raises(RotationError) as err:
        driver.revoke("apikey_01x")
    assert "HTTP 400" in err.value.message
    assert admin not in err.value.message and "abcdef123456" not in err.value.message


@pytest.mark.integration
def test_rotation_finishes_on_grace_and_archives_the_old_key(
        anthropic: AnthropicAdminServer, bao: BaoDevServer, kv_mount: str,
        tmp_path: Path) -> None:
    """In-process: paste, verify, promote, wait (no last use at Anthropic), --finish."""
    old_id, old = anthropic.create_key("legacy")
    new_id, new = anthropic.create_key("pasted")
    provider = {"api": "anthropic", "base_url": anthropic.url, "region": "us", "rotation": {
        "driver": "anthropic-admin", "grace": "0s", "params": {"admin_base_url": anthropic.url}}}
    folder = write_catalog(tmp_path / "cat", kv_mount, {"anthropic": provider})
    client = bao.client()
    seed(client, kv_mount, "prod/providers/anthropic/default", {"api_key": old})
    timing = Timing(quiet=0.1, poll=0.02, wait=0.2)

    def paste(prompt: str, fields: object) -> dict[str, str]:
        return {"api_key": new}

    first = rotate_keys(load(folder), client, RotateOptions(env="prod"), timing=timing,
                        secret_input=paste).outcomes[0]
    assert (first.status, first.state) == ("waiting", "promoted"), first.message
    assert "confirm with --finish" in first.message
    assert anthropic.status(old_id) == "active"  # both keys work until the evidence
    done = rotate_keys(load(folder), client, RotateOptions(env="prod", finish=True),
                       timing=timing).outcomes[0]
    assert (done.status, done.message) == ("done", "rotated")
    assert read_slot(client, kv_mount, "prod/providers/anthropic/default") == {"api_key": new}
    assert (anthropic.status(old_id), anthropic.status(new_id)) == ("archived", "active")


@pytest.mark.integration
def test_canaries_never_in_output_logs_errors_or_bookkeeping(
        anthropic: AnthropicAdminServer, bao: BaoDevServer, kv_mount: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI through a failed verification, a rotation and its finish: the Admin key and
    both key values appear nowhere (stdout, stderr, log records, journal, audit, locks)."""
    from aigw.cli import main
    from tests.rotation.test_canary import dump_kv
    from tests.rotation.test_keys_cli import Stdin

    caplog.set_level(logging.DEBUG)
    for name, value in (("BAO_ADDR", bao.addr), ("BAO_TOKEN", bao.token),
                        ("AIGW_HOME", str(tmp_path)), ("AIGW_ROTATE_QUIET", "0.1")):
        monkeypatch.setenv(name, value)
    old_id, old = anthropic.create_key("legacy")
    new_id, new = anthropic.create_key("pasted")
    provider = {"api": "anthropic", "base_url": anthropic.url, "region": "us", "rotation": {
        "driver": "anthropic-admin", "grace": "0s", "params": {
            "admin_base_url": anthropic.url, "verify_attempts": 1}}}
    folder = str(write_catalog(tmp_path / "cat", kv_mount, {"anthropic": provider}))

    def run(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", Stdin(stdin))
        try:
            main(list(args))
        except SystemExit as exc:
            return int(exc.code or 0)
        return 0

    assert run("keys", "put", "anthropic", folder, "--env", "prod", stdin=old) == 0
    anthropic.reject_models = True  # the pasted key fails verification: aborted
    assert run("rotate-keys", folder, "--yes", stdin=new + "\n") == 3
    anthropic.reject_models = False
    assert run("rotate-keys", folder, "--yes", stdin=new + "\n") == 0
    assert run("rotate-keys", folder, "--finish", "--yes") == 0
    assert run("audit", folder, "--verify") == 0
    assert (anthropic.status(old_id), anthropic.status(new_id)) == ("archived", "active")
    captured = capsys.readouterr()
    logs = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records) + caplog.text
    bookkeeping = dump_kv(bao.client(), kv_mount, "prod/_aigw")
    assert "aborted" in bookkeeping and old_id in bookkeeping and new_id in bookkeeping
    for text in (captured.out, captured.err, logs, bookkeeping):
        for canary in (old, new, ANTHROPIC_ADMIN_KEY):
            assert canary not in text
