"""Every `--json` output is one versioned document that validates against its JSON Schema.

The schemas are the contract of docs/json.md (cli/aigw/commands/schemas/, shipped in the
wheel). Each test runs the real command (a real OpenBao dev server for the key
commands) and validates what it printed on stdout, success and error alike.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from testing.bao import BaoDevServer

from aigw import cli
from aigw.commands.output import SCHEMAS, schema_file
from tests.governance.conftest import opa
from tests.helpers import Result, run_cli
from tests.rotation.conftest import kv_mount, write_catalog

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
assert kv_mount and opa  # fixtures, imported for the tests below


def _registry() -> Registry:
    resources = [Resource.from_contents(json.loads(p.read_text()))
                 for p in sorted(SCHEMAS.glob("*.json"))]
    return Registry().with_resources((r.id() or "", r) for r in resources)


def check(command: str, result: Result, code: int) -> dict[str, Any]:
    """RESULT's stdout is ONE document of COMMAND's schema, with exit code CODE."""
    assert result.code == code, result
    doc = json.loads(result.out)  # exactly one document: json.loads refuses two
    schema = json.loads(schema_file(command).read_text())
    Draft202012Validator.check_schema(schema)
    errors = sorted(Draft202012Validator(schema, registry=_registry()).iter_errors(doc),
                    key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    assert doc["schema"] == f"aigw/{command}/v1" and doc["exit_code"] == code
    return doc


def _json_commands() -> set[str]:
    """Every command that has a --json option (or diff's --format json), named as in output.py."""
    cli._register()
    import typer

    found: set[str] = set()

    def walk(cmd: Any, path: list[str]) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])
        opts = {o for p in getattr(cmd, "params", []) for o in p.opts}
        if "--json" in opts or (path == ["diff"] and "--format" in opts):
            found.add("-".join(path))

    walk(typer.main.get_command(cli.app), [])
    return found


def test_every_json_command_has_a_schema_and_a_test() -> None:
    schemas = {p.name.removesuffix(".v1.json") for p in SCHEMAS.glob("*.v1.json")} - {"envelope"}
    assert _json_commands() <= schemas, "add a schema (and a test here) for each --json command"
    tested = set(TESTED)
    assert schemas <= tested, f"no contract test for {sorted(schemas - tested)}"


TESTED = ["validate", "render", "policy-check", "diff", "dev-status", "keys-put", "keys-import",
          "keys-list", "keys-status", "rotate-keys", "audit", "status",
          "plan", "apply",  # plan and apply: tests/stack/test_keys_ready.py (real engine)
          "usage"]  # usage: tests/usage/test_usage.py


# -- commands without a server ----------------------------------------------------------


def test_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = check("validate", run_cli(capsys, "validate", str(EXAMPLES), "--no-policy",
                                     "--json"), 0)
    assert good["services"] >= 1 and good["errors"] == []
    bad = tmp_path / "aigw.yaml"
    bad.write_text("environments: {prod: {}}\nservices:\n  bot: {environments: [qa], "
                   "models: []}\n")
    doc = check("validate", run_cli(capsys, "validate", str(bad), "--json"), 2)
    assert doc["ok"] is False
    assert {e["key"] for e in doc["errors"]} >= {"services.bot.environments[0]"}
    assert all(e["line"] >= 1 and e["file"] == str(bad) for e in doc["errors"])


def test_render(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    doc = check("render", run_cli(capsys, "render", str(EXAMPLES), "--out", str(out),
                                  "--json"), 0)
    assert doc["written"] and doc["check"] is False
    again = check("render", run_cli(capsys, "render", str(EXAMPLES), "--out", str(out),
                                    "--check", "--json"), 0)
    assert again["written"] == [] and again["unchanged"] == len(doc["written"])
    missing = check("render", run_cli(capsys, "render", str(tmp_path / "nope"), "--json"), 2)
    assert "no such file or folder" in missing["errors"][0]["message"]


@pytest.mark.usefixtures("opa")
def test_policy_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = check("policy-check", run_cli(capsys, "policy", "check", str(EXAMPLES), "--json"), 0)
    assert doc["counts"]["waived"] >= 1
    # An invalid catalog: before, stdout stayed empty; now it is the error document.
    bad = tmp_path / "aigw.yaml"
    bad.write_text("providers: {x: {api: nope}}\n")
    err = check("policy-check", run_cli(capsys, "policy", "check", str(bad), "--json"), 2)
    assert err["errors"] and err["errors"][0]["type"] == "CatalogError"


def test_diff(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "aigw.yaml").write_text((EXAMPLES / "aigw.yaml").read_text())
    for args in (["init", "-q", "-b", "main"], ["add", "."],
                 ["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
                  "-m", "c"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    # `--json` like every other command; `--format json` stays as its alias (issue 23).
    doc = check("diff", run_cli(capsys, "diff", str(repo), "--no-plan", "--json"), 0)
    assert doc["summary"]["services_changed"] == 0
    alias = check("diff", run_cli(capsys, "diff", str(repo), "--no-plan", "--format", "json"), 0)
    assert alias == doc
    err = check("diff", run_cli(capsys, "diff", str(tmp_path / "nope"), "--no-plan", "--json"),
                2)
    assert err["ok"] is False
    both = run_cli(capsys, "diff", str(repo), "--no-plan", "--json", "--format", "markdown")
    assert both.code == 2 and "two outputs" in both.err


def test_dev_status(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    doc = check("dev-status", run_cli(capsys, "dev", "status", "--home", str(tmp_path),
                                      "--json"), 1)
    assert doc["running"] is False and doc["ok"] is False and doc["errors"] == []


# -- key commands, against a real OpenBao dev server -----------------------------------


class _Stdin(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def aigw(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
         bao: BaoDevServer, tmp_path: Path) -> Callable[..., Result]:
    """`aigw ARGS` in-process against the session's OpenBao, with STDIN piped."""
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("AIGW_HOME", str(tmp_path))

    def run(*args: str, stdin: str = "") -> Result:
        monkeypatch.setattr("sys.stdin", _Stdin(stdin))
        return run_cli(capsys, *args)

    return run


@pytest.fixture
def catalog(tmp_path: Path, kv_mount: str) -> Path:
    """One manual provider used by one prod service."""
    providers = {"openai": {"api": "openai", "base_url": "http://127.0.0.1:9/v1", "region": "us",
                            "rotation": {"driver": "manual", "max_age": "30d"}}}
    return write_catalog(tmp_path / "cat", kv_mount, providers)


@pytest.mark.integration
def test_key_commands(aigw: Callable[..., Result], catalog: Path, tmp_path: Path) -> None:
    cat = str(catalog)
    put = check("keys-put", aigw("keys", "put", "openai", cat, "--env", "prod", "--json",
                                 stdin="sk-fake-contract-1\n"), 0)
    assert put["version"] == 1 and put["changed"] is True
    misspelt = check("keys-put", aigw("keys", "put", "openai/nope", cat, "--env", "prod",
                                      "--json", stdin="x"), 2)
    assert "no slot openai/nope" in misspelt["errors"][0]["message"]

    dotenv = tmp_path / "keys.env"
    dotenv.write_text("AIGW_KEY_OPENAI_DEFAULT=sk-fake-contract-2\n")
    imported = check("keys-import", aigw("keys", "import", str(dotenv), cat, "--env", "prod",
                                         "--json"), 0)
    assert [k["slot"] for k in imported["keys"]] == ["prod/openai/default"]

    listed = check("keys-list", aigw("keys", "list", cat, "--json"), 0)
    assert [s["provider"] for s in listed["slots"]] == ["openai"]
    status = check("keys-status", aigw("keys", "status", cat, "--json"), 0)
    assert status["slots"][0]["version"] == 2
    unknown = check("keys-list", aigw("keys", "list", cat, "--env", "qa", "--json"), 2)
    assert unknown["errors"]
    fleet = check("status", aigw("status", cat, "--json"), 0)
    assert [s["slots"][0]["instances"] for s in fleet["services"]] == [[]]  # no reports yet
    assert check("status", aigw("status", cat, "--env", "qa", "--json"), 2)["errors"]

    dry = check("rotate-keys", aigw("rotate-keys", cat, "--dry-run", "--json"), 1)
    assert [s["status"] for s in dry["slots"]] == ["would-start"]
    refused = check("rotate-keys", aigw("rotate-keys", cat, "--json"), 2)
    assert "--yes" in refused["errors"][0]["message"]

    # audit: ONE shape with and without --verify.
    plain = check("audit", aigw("audit", cat, "--json"), 0)
    verified = check("audit", aigw("audit", cat, "--verify", "--json"), 0)
    assert plain["verified"] is False and verified["verified"] is True
    assert plain["scopes"] == verified["scopes"]
    assert [r["action"] for r in verified["scopes"][0]["records"]] == ["put", "import"]
    assert "sk-fake-contract" not in json.dumps([put, imported, listed, status, verified])
