"""`aigw keys put|list|status|import`, `rotate-keys` and `audit` through the CLI (in-process)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from tests.helpers import Result
from tests.rotation.cli_entry import main
from tests.rotation.conftest import read_slot, write_catalog

OPENAI = "prod/providers/openai/default"


class Stdin(io.StringIO):
    """Piped stdin (or a terminal, with tty=True)."""

    def __init__(self, text: str = "", tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, bao: BaoDevServer,
        tmp_path: Path) -> Any:
    """Run `aigw ARGS` in-process with OpenBao from the environment and STDIN piped."""
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path))

    def run(*args: str, stdin: str = "", tty: bool = False) -> Result:
        monkeypatch.setattr("sys.stdin", Stdin(stdin, tty))
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


@pytest.fixture
def catalog(tmp_path: Path, kv_mount: str) -> Path:
    """openai (manual) and bedrock (manual) providers; `web` uses openai, `batch` both."""
    providers = {
        "openai": {"api": "openai", "base_url": "http://127.0.0.1:9/v1", "region": "us",
                   "rotation": {"driver": "manual", "max_age": "30d", "grace": "1s"}},
        "bedrock": {"api": "bedrock", "region": "us",
                    "rotation": {"driver": "manual", "max_age": "7d"}},
    }
    services = {"web": {"environments": ["prod"], "models": ["m-openai"]},
                "batch": {"environments": ["prod"], "models": ["m-bedrock", "m-openai"]}}
    return write_catalog(tmp_path / "cat", kv_mount, providers, services=services)


@pytest.mark.integration
def test_put_reads_stdin_and_is_idempotent(cli: Any, catalog: Path, bao: BaoDevServer,
                                           kv_mount: str) -> None:
    r = cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-put-1\n")
    assert r.code == 0, r.err
    assert "prod/openai/default: stored version 1" in r.out and "sk-canary" not in r.out + r.err
    assert read_slot(bao.client(), kv_mount, OPENAI) == {"api_key": "sk-canary-put-1"}
    again = cli("keys", "put", "openai/default", str(catalog), "--env", "prod",
                stdin="sk-canary-put-1")
    assert again.code == 0 and "unchanged: version 1" in again.out
    bad = cli("keys", "put", "openai/nope", str(catalog), "--env", "prod", stdin="x")
    assert bad.code == 2 and "no slot openai/nope" in bad.err
    two = cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="a\nb\n")
    assert two.code == 2 and "one line" in two.err


@pytest.mark.integration
def test_put_prompts_without_echo_on_a_terminal(cli: Any, catalog: Path, bao: BaoDevServer,
                                                kv_mount: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "sk-canary-tty"

    monkeypatch.setattr("aigw.key_values.getpass.getpass", fake_getpass)
    r = cli("keys", "put", "openai", str(catalog), "--env", "prod", tty=True)
    assert r.code == 0, r.err
    assert asked == ["key for prod/openai/default (api_key): "]
    assert read_slot(bao.client(), kv_mount, OPENAI) == {"api_key": "sk-canary-tty"}


@pytest.mark.integration
def test_put_bedrock_from_a_file(cli: Any, catalog: Path, bao: BaoDevServer, kv_mount: str,
                                 tmp_path: Path) -> None:
    f = tmp_path / "creds.json"
    f.write_text(json.dumps({"aws_access_key_id": "AKIA1", "aws_secret_access_key": "s3cr3t"}))
    r = cli("keys", "put", "bedrock", str(catalog), "--env", "prod", "--file", str(f), "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["version"] == 1
    assert read_slot(bao.client(), kv_mount, "prod/providers/bedrock/default") == {
        "aws_access_key_id": "AKIA1", "aws_secret_access_key": "s3cr3t"}


@pytest.mark.integration
def test_import_checks_every_name_first(cli: Any, catalog: Path, bao: BaoDevServer,
                                        kv_mount: str, tmp_path: Path) -> None:
    env = tmp_path / "old.env"
    env.write_text("# keys from before aigw\nexport AIGW_KEY_OPENAI_DEFAULT='sk-canary-imp'\n"
                   "AIGW_KEY_NOPE_DEFAULT=x\nOTHER=1\n")
    r = cli("keys", "import", str(env), str(catalog), "--env", "prod")
    assert r.code == 2 and "AIGW_KEY_NOPE_DEFAULT" in r.err
    assert read_slot(bao.client(), kv_mount, OPENAI) is None
    env.write_text("AIGW_KEY_OPENAI_DEFAULT=\"sk-canary-imp\"\n"
                   "AIGW_KEY_BEDROCK_DEFAULT_AWS_ACCESS_KEY_ID=AKIA2\n"
                   "AIGW_KEY_BEDROCK_DEFAULT_AWS_SECRET_ACCESS_KEY=s3cr3t2  # comment\n"
                   "AIGW_KEY_FILE_OPENAI_DEFAULT=/run/secrets/aigw/openai.default.key\n")
    r = cli("keys", "import", str(env), str(catalog), "--env", "prod", "--json")
    assert r.code == 0, r.err
    assert [x["slot"] for x in json.loads(r.out)["keys"]] == ["prod/bedrock/default",
                                                      "prod/openai/default"]
    assert read_slot(bao.client(), kv_mount, OPENAI) == {"api_key": "sk-canary-imp"}
    assert "sk-canary" not in r.out + r.err


@pytest.mark.integration
def test_list_and_status(cli: Any, catalog: Path) -> None:
    cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-st")
    r = cli("keys", "status", str(catalog), "--json")
    assert r.code == 0, r.err
    rows = {row["provider"]: row for row in json.loads(r.out)["slots"]}
    assert rows["openai"]["has_key"] and rows["openai"]["version"] == 1
    assert rows["openai"]["consumers"] == ["batch", "web"]
    assert rows["bedrock"]["consumers"] == ["batch"] and not rows["bedrock"]["has_key"]
    assert rows["openai"]["due"] is False and rows["openai"]["max_age_seconds"] == 30 * 86400
    assert rows["openai"]["rotation"]["op"] == "put"
    human = cli("keys", "status", str(catalog))
    assert "consumers: batch, web" in human.out
    listing = cli("keys", "list", str(catalog), "--env", "prod")
    assert "prod/openai/default" in listing.out and "(no key)" in listing.out
    assert "sk-canary" not in r.out + human.out + listing.out


@pytest.mark.integration
def test_manual_rotation_needs_finish(cli: Any, catalog: Path, bao: BaoDevServer,
                                      kv_mount: str, tmp_path: Path) -> None:
    with FakeProvider("openai", keys=["sk-canary-old"]) as fake:
        cat = catalog / "aigw.yaml"
        cat.write_text(cat.read_text().replace(
            "driver: manual\n      max_age: 30d",
            f"driver: manual\n      max_age: 30d\n      params:\n        verify_url: "
            f"{fake.base_url}/models\n        verify_delay: 0.05"))
        cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-old")
        refused = cli("rotate-keys", str(catalog), "--provider", "openai")
        assert refused.code == 2 and "--yes" in refused.err
        nothing = cli("rotate-keys", str(catalog), "--provider", "openai", "--yes")
        assert nothing.code == 3 and "no value for api_key" in nothing.err
        status = json.loads(cli("keys", "status", str(catalog), "--json").out)["slots"]
        assert {s["provider"]: s["rotating"] for s in status} == {"openai": False,
                                                                  "bedrock": False}
        fake.add_key("sk-canary-new")
        r = cli("rotate-keys", str(catalog), "--provider", "openai", "--yes",
                stdin="sk-canary-new\n")
        assert r.code == 0, r.err
        assert "prod/openai/default: waiting [promoted]" in r.out
        assert "rotate prod/openai/default: verified -> promoted" in r.err
        assert read_slot(bao.client(), kv_mount, OPENAI) == {"api_key": "sk-canary-new"}
        import time

        time.sleep(1.1)
        r = cli("rotate-keys", str(catalog), "--finish", "--yes", "--json")
        assert r.code == 0, r.err
        slots = {s["slot"]: s for s in json.loads(r.out)["slots"]}
        done = slots["prod/openai/default"]
        assert done["status"] == "done"
        assert any(n.startswith("revoke the old key by hand") for n in done["notes"])
        assert slots["prod/bedrock/default"]["status"] == "skipped"
        audit = cli("audit", str(catalog), "--verify")
        assert audit.code == 0 and "intact" in audit.out
        assert "sk-canary" not in r.out + r.err + audit.out


@pytest.mark.integration
def test_audit_verify_fails_on_tampering(cli: Any, catalog: Path, bao: BaoDevServer,
                                         kv_mount: str) -> None:
    cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-a")
    cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-b")
    bao.client().secrets.kv.v2.delete_metadata_and_all_versions(
        path="prod/_aigw/audit/000000000001", mount_point=kv_mount)
    r = cli("audit", str(catalog), "--verify", "--json")
    assert r.code == 1
    scope = json.loads(r.out)["scopes"][0]
    assert not scope["ok"] and any("missing" in p for p in scope["problems"])
