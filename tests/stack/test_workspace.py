"""Backend, passphrase and engine environment resolution (no engine run)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from aigw.context import resolve_engine, resolve_tls
from aigw.stack import sdkfix
from aigw.stack.workspace import SecretEnv, engine_env, first_error_line
from aigw.vault import TLS, VaultSettings


def test_backend_and_passphrase_from_the_environment(tmp_path: Path) -> None:
    env = {"PULUMI_BACKEND_URL": "s3://bucket/aigw", "PULUMI_CONFIG_PASSPHRASE_FILE": "/p"}
    settings = resolve_engine(env, home=tmp_path)
    assert settings.backend_url == "s3://bucket/aigw" and settings.backend_dir is None
    assert settings.passphrase_env == {"PULUMI_CONFIG_PASSPHRASE_FILE": "/p"}
    assert not (tmp_path / ".aigw").exists()


def test_dev_backend_and_passphrase_under_aigw(tmp_path: Path) -> None:
    settings = resolve_engine({}, home=tmp_path)
    assert settings.source == "dev"
    assert settings.backend_dir == tmp_path / ".aigw" / "pulumi"
    phrase = Path(settings.passphrase_env["PULUMI_CONFIG_PASSPHRASE_FILE"])
    assert phrase == tmp_path / ".aigw" / "passphrase"
    assert stat.S_IMODE(phrase.stat().st_mode) == 0o600
    first = phrase.read_text()
    resolve_engine({}, home=tmp_path)
    assert phrase.read_text() == first  # created once, never replaced
    assert "passphrase" not in repr(settings).lower().replace("passphrase_env", "")


def test_engine_env_carries_the_token_but_never_shows_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PULUMI_HOME", raising=False)
    monkeypatch.setattr(sdkfix, "cache_dir", lambda: tmp_path / "cache")
    vault = VaultSettings(addr="http://127.0.0.1:1", token="s.supersecret")
    env = engine_env(resolve_engine({}, home=tmp_path), vault)
    assert isinstance(env, SecretEnv)
    assert env["BAO_TOKEN"] == env["VAULT_TOKEN"] == "s.supersecret"
    assert env["BAO_ADDR"] == "http://127.0.0.1:1" and env["PULUMI_SKIP_CHECKPOINTS"] == "true"
    assert "supersecret" not in repr(env) and "supersecret" not in str(env)
    assert (Path(env["PULUMI_HOME"]) / "logs").is_file()  # no automatic engine debug log


def test_first_error_line_skips_the_generic_closing_line() -> None:
    text = "stderr: error: update failed\n  error: Exception calling application: boom\n"
    assert first_error_line(text) == "Exception calling application: boom"
    assert first_error_line("only this") == "only this"


def test_engine_env_hands_the_ca_settings_to_the_providers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The providers' client reads the CA from the engine's environment: the run's, not a stale one."""
    monkeypatch.setattr(sdkfix, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setenv("BAO_CACERT", "/stale.pem")
    vault = VaultSettings(addr="https://h:1", token="t", tls=TLS(ca_cert="/run.pem"))
    env = engine_env(resolve_engine({}, home=tmp_path), vault)
    assert env["BAO_CACERT"] == env["VAULT_CACERT"] == "/run.pem"
    assert resolve_tls(env).verify == "/run.pem"
