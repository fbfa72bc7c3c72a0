"""`aigw keys put|list|status|import`, `rotate-keys` and `audit` through the CLI (in-process)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from testing.bao import BaoDevServer
from testing.fake_provider import FakeProvider

from aigw.cli import main
from tests.helpers import Result
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
        "bedrock": {"api": "bedrock", "region": "us", "extra": {"aws_region_name": "us-east-1"},
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
    cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-put-2")
    # Each stored key is one recorded transition (no state) -> done, as rotation records
    # them; the unchanged put recorded nothing.
    records = json.loads(cli("audit", str(catalog), "--json").out)["scopes"][0]["records"]
    first, second = records
    assert [(r["action"], r["from_state"], r["to_state"], r["from_version"], r["to_version"])
            for r in records] == [("put", None, "done", None, 1), ("put", None, "done", 1, 2)]
    assert second["old_fingerprint"] == first["new_fingerprint"] != second["new_fingerprint"]
    assert second["event_id"] == f"{second['run_id']}:1:done" and second["detail"] == {}


@pytest.mark.integration
def test_put_prompts_without_echo_on_a_terminal(cli: Any, catalog: Path, bao: BaoDevServer,
                                                kv_mount: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "sk-canary-tty"

    monkeypatch.setattr("aigw.slots.put.getpass.getpass", fake_getpass)
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


def _rotate_to_promoted(cli: Any, catalog: Path, *extra: str) -> None:
    cli("keys", "put", "openai", str(catalog), "--env", "prod", stdin="sk-canary-old-1")
    r = cli("rotate-keys", str(catalog), "--provider", "openai", "--yes", *extra,
            stdin="sk-canary-new-1\n")
    assert r.code == 0 and "waiting [promoted]" in r.out, r.err


@pytest.mark.integration
def test_manual_rotation_says_what_it_did_not_do(cli: Any, catalog: Path) -> None:
    """No verify_url: `verify_skipped`, not `verified`; nothing revoked: `old_left_to_operator`."""
    _rotate_to_promoted(cli, catalog)
    import time

    time.sleep(1.1)  # the 1s grace is over
    r = cli("rotate-keys", str(catalog), "--provider", "openai", "--finish", "--yes")
    assert r.code == 0, r.err
    assert ("prod/openai/default: done: rotated (the new key was not verified; revoking the "
            "old key is left to the operator)") in r.out
    assert "revoke the old key by hand now" in r.out and "did not revoke it" in r.out
    human = cli("keys", "status", str(catalog), "--provider", "openai").out
    assert "  verified:  skipped: no rotation.params.verify_url" in human
    assert "  old key:   left to the operator: the manual driver cannot revoke keys" in human
    rot = json.loads(cli("keys", "status", str(catalog), "--provider", "openai",
                         "--json").out)["slots"][0]["rotation"]
    assert rot["state"] == "done"
    assert rot["verification"] == "skipped: no rotation.params.verify_url"
    assert rot["revocation"].startswith("left to the operator")
    audit = cli("audit", str(catalog)).out
    assert "staged -> verify_skipped" in audit and "-> verified" not in audit
    assert "old_disabled -> old_left_to_operator" in audit and "old_revoked" not in audit
    records = _audit_records(cli, catalog)
    left = [r for r in records if r["to_state"] == "old_left_to_operator"]
    assert left[0]["detail"]["revocation"] == "left to the operator"
    assert "sk-canary" not in r.out + r.err + human + audit


@pytest.mark.integration
def test_grace_recorded_at_promotion_is_not_shortened_silently(
        cli: Any, catalog: Path, bao: BaoDevServer, kv_mount: str) -> None:
    _rotate_to_promoted(cli, catalog, "--grace", "10m")
    status = json.loads(cli("keys", "status", str(catalog), "--provider", "openai",
                            "--json").out)["slots"][0]["rotation"]
    assert status["state"] == "promoted"
    import time

    time.sleep(1.1)  # a 1s grace would be over: only the recorded 10m keeps the old key
    finish = ["rotate-keys", str(catalog), "--provider", "openai", "--finish", "--yes"]
    refused = cli(*finish, "--grace", "1s")
    assert refused.code == 2
    assert ("prod/openai/default: --grace 1s is shorter than the grace recorded at promotion "
            "(10m)") in refused.err and "--override-grace --reason" in refused.err
    no_reason = cli(*finish, "--grace", "1s", "--override-grace")
    assert no_reason.code == 2 and "--override-grace needs --reason" in no_reason.err
    longer = cli(*finish, "--grace", "20m")  # lengthening only delays: allowed
    assert longer.code == 0 and "waiting [promoted]" in longer.out, longer.err
    again = json.loads(cli("keys", "status", str(catalog), "--provider", "openai",
                           "--json").out)["slots"][0]["rotation"]
    assert again["state"] == "promoted" and again["run_id"] == status["run_id"]
    r = cli(*finish, "--grace", "1s", "--override-grace", "--reason", "incident 42: old key "
            "leaked", "--json")
    assert r.code == 0, r.err
    slot = json.loads(r.out)["slots"][0]
    assert slot["status"] == "done"
    override = slot["grace_override"]
    assert (override["from"], override["to"]) == (600.0, 1.0)
    assert override["reason"] == "incident 42: old key leaked" and override["by"]
    assert "grace shortened from 10m to 1s by" in r.err
    records = _audit_records(cli, catalog)
    propagated = [x for x in records if x["to_state"] == "propagated"]
    assert propagated[0]["detail"]["grace_override"] == override
    audit = cli("audit", str(catalog)).out
    assert f"grace shortened from 10m to 1s by {override['by']}: incident 42" in audit
    human = cli("keys", "status", str(catalog), "--provider", "openai").out
    assert "  grace:     shortened from 10m to 1s by" in human


def _audit_records(cli: Any, catalog: Path) -> list[dict[str, Any]]:
    """Every audit record of `aigw audit --json` (docs/json.md: grouped by scope)."""
    doc = json.loads(cli("audit", str(catalog), "--json").out)
    return [r for scope in doc["scopes"] for r in scope["records"]]


@pytest.mark.integration
def test_list_and_rotate_leave_out_slots_no_service_reads(cli: Any, tmp_path: Path,
                                                         kv_mount: str) -> None:
    """A declared slot no route of the environment uses (`openai/batch`, and `bedrock`
    nobody calls) is not listed nor rotated, as `keys put` already refuses it (issue 23
    item 7); `keys status` still shows every slot."""
    providers = {
        "openai": {"api": "openai", "base_url": "http://127.0.0.1:9/v1", "region": "us",
                   "slots": ["default", "batch"],
                   "rotation": {"driver": "manual", "max_age": "30d"}},
        "bedrock": {"api": "bedrock", "region": "us", "extra": {"aws_region_name": "us-east-1"},
                    "rotation": {"driver": "manual", "max_age": "7d"}},
    }
    folder = write_catalog(tmp_path / "unread", kv_mount, providers,
                           services={"web": {"environments": ["prod"], "models": ["m-openai"]}})
    listed = cli("keys", "list", str(folder), "--env", "prod", "--json")
    assert listed.code == 0, listed.err
    assert [(s["provider"], s["slot"]) for s in json.loads(listed.out)["slots"]] == [
        ("openai", "default")]
    text = cli("keys", "list", str(folder), "--env", "prod")
    assert "openai/batch" not in text.out and "bedrock" not in text.out
    dry = cli("rotate-keys", str(folder), "--env", "prod", "--dry-run", "--json")
    assert [o["slot"] for o in json.loads(dry.out)["slots"]] == ["prod/openai/default"], dry
    one = cli("rotate-keys", str(folder), "--env", "prod", "--slot", "batch", "--dry-run")
    assert one.code == 2 and "no slot */batch that a service reads in prod" in one.err
    status = cli("keys", "status", str(folder), "--env", "prod", "--json")
    assert len(json.loads(status.out)["slots"]) == 3
