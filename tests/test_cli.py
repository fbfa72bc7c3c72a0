"""The CLI edge: usage errors exit 2 with typer's usage text, prompts, imports at start-up."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_cli

# (argv, what stderr must say): unknown option, unknown command, missing argument and
# invalid choice, spread over several commands and sub-apps.
USAGE_ERRORS = [
    (["validate", "--bogus-flag"], "No such option: --bogus-flag"),
    (["render", "--nope"], "No such option: --nope"),
    (["plan", "--what"], "No such option: --what"),
    (["rotate-keys", "--bogus"], "No such option: --bogus"),
    (["nosuchcmd"], "No such command 'nosuchcmd'"),
    (["keys", "nosuch"], "No such command 'nosuch'"),
    (["policy", "nosuch"], "No such command 'nosuch'"),
    (["dev", "sideways"], "No such command 'sideways'"),
    (["keys", "put"], "Missing argument"),
    (["keys", "put", "deepseek"], "Missing option '--env'"),
    (["keys", "import"], "Missing argument"),
    (["diff", "--format", "xml"], "Invalid value for '--format'"),
    (["diff", "--limit", "10"], "Invalid value for '--limit'"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_exit_2_with_usage_text(capsys: pytest.CaptureFixture[str],
                                             argv: list[str], message: str) -> None:
    result = run_cli(capsys, *argv)
    assert result.code == 2, result
    assert message in result.err
    assert "Usage: aigw" in result.err
    assert "unexpected error" not in result.err and "Traceback" not in result.err


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys)
    assert "Usage: aigw" in result.out + result.err
    assert "validate" in result.out + result.err
    assert "unexpected error:" not in result.err


def test_help_of_every_command_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["validate", "--help"], ["keys", "put", "--help"],
                 ["rotate-keys", "--help"], ["dev", "up", "--help"], ["policy", "--help"]):
        result = run_cli(capsys, *argv)
        assert result.code == 0, (argv, result)
        assert "Usage: aigw" in result.out


def test_no_at_a_prompt_is_aborted_exit_1(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    def refuse(*_a: object, **_k: object) -> bool:
        raise typer.Abort()

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(typer, "confirm", refuse)
    result = run_cli(capsys, "rotate-keys", "examples")
    assert result.code == 1, result
    assert result.err.strip().splitlines()[-1] == "aborted"


def test_ctrl_c_is_one_line_exit_130(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from aigw.commands import validate

    def interrupted(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("aigw.catalog.load_catalog", interrupted)
    assert validate  # the command imports load_catalog when it runs
    result = run_cli(capsys, "validate", "examples")
    assert result.code == 130
    assert result.err.strip() == "interrupted"


def test_missing_extra_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    def missing(*_a: object, **_k: object) -> None:
        raise ModuleNotFoundError("No module named 'hvac'", name="hvac")

    monkeypatch.setattr("aigw.catalog.load_catalog", missing)
    result = run_cli(capsys, "validate", "examples")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "aigw: the command line needs the cli extra: pip install 'aigw[cli]' "
        "(module 'hvac' is not installed)"]


HEAVY = ("pulumi", "hvac", "boto3", "botocore", "requests", "rich")


@pytest.mark.parametrize("argv", [["--help"], ["validate", "examples", "--no-policy"],
                                  ["render", "examples", "--check"], ["policy", "--help"]])
def test_start_up_does_not_import_heavy_packages(argv: list[str]) -> None:
    """`aigw --help` and `aigw validate` run on every commit (pre-commit): keep them light."""
    probe = (
        "import sys\n"
        "from aigw import cli\n"
        f"code = cli.run({argv!r})\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY', ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parents[1])
    line = [x for x in proc.stdout.splitlines() if x.startswith("HEAVY")]
    assert line == ["HEAVY "], (proc.stdout, proc.stderr)


def test_validate_never_reads_every_distributions_entry_points() -> None:
    """pydantic's plugin lookup reads every installed package's metadata: not at start-up.

    benchmarks/startup.py times it; here the effect a user could notice is pinned
    (no lookup) together with its hygiene (the switch aigw flips is put back).
    """
    probe = (
        "import os\n"
        "from aigw import cli\n"
        "code = cli.run(['validate', 'examples', '--no-policy'])\n"
        "import pydantic.plugin._loader as loader\n"
        "print('LOOKUP', loader._plugins is not None, 'PYDANTIC_DISABLE_PLUGINS' in os.environ)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False, cwd=Path(__file__).resolve().parents[1], env=env)
    assert [x for x in proc.stdout.splitlines() if x.startswith("LOOKUP")] == \
        ["LOOKUP False False"], (proc.stdout, proc.stderr)


# -- CLI conventions (issue 14, item 11) ---------------------------------------------------

_ENGINE_STOPS = '''
import os, signal, sys, threading, time
import aigw.catalog

def engine(*_a, **_k):
    # Stands in for a Pulumi preview: on Ctrl-C the engine stops and its gRPC and
    # event-log threads fail as they go down.
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)  # KeyboardInterrupt arrives here
    finally:
        def worker():
            raise RuntimeError("engine stopped: rpc error: code = Unavailable")
        t = threading.Thread(target=worker, name="pulumi-grpc")
        t.start()
        t.join()

aigw.catalog.load_catalog = engine
from aigw import cli
cli.main(["validate", "examples"])
'''


def test_ctrl_c_is_one_line_even_when_engine_threads_fail() -> None:
    proc = subprocess.run([sys.executable, "-c", _ENGINE_STOPS], capture_output=True,
                          text=True, check=False, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == "interrupted", proc.stderr


def _every_command() -> list[list[str]]:
    import typer

    from aigw import cli

    cli._register()
    out: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        out.append(path)
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(typer.main.get_command(cli.app), [])
    return out


def test_help_shows_flags_without_a_bool_metavar(capsys: pytest.CaptureFixture[str]) -> None:
    """`--due <bool>` read as if the flag took a value: flags show their name only."""
    commands = _every_command()
    assert ["rotate-keys"] in commands and ["keys", "list"] in commands
    for path in commands:
        result = run_cli(capsys, *path, "--help")
        assert result.code == 0, (path, result)
        assert "<bool>" not in result.out, (path, result.out)
    assert "  --dry-run " in run_cli(capsys, "rotate-keys", "--help").out


def _on_a_terminal(args: list[str], env: dict[str, str]) -> bytes:
    """`aigw ARGS` with stdout and stderr on a pseudo-terminal; everything it wrote."""
    import os
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "aigw", *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env={**os.environ, **env},
                            cwd=Path(__file__).resolve().parents[1])
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks)


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "xterm-256color"}],
                         ids=["NO_COLOR", "terminal"])
def test_no_bold_or_dim_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    """Help, usage errors and catalog errors are plain text: no ANSI bold/dim/colour.

    aigw prints no styling at all, so NO_COLOR (and a pipe) is honoured by construction.
    """
    bad = tmp_path / "aigw.yaml"
    bad.write_text("providers: {x: {api: nope}}\n")
    for args in (["--help"], ["rotate-keys", "--help"], ["validate", "--bogus"],
                 ["validate", str(bad)]):
        written = _on_a_terminal(args, env)
        assert written.strip(), args
        assert b"\x1b[" not in written, (args, written[:400])


def _allowed(metadata: list[object]) -> str | None:
    """How docs/catalog.md words a field's numeric bounds (`allowed: 0 to 10`)."""
    bounds = {type(m).__name__.lower(): getattr(m, type(m).__name__.lower()) for m in metadata
              if type(m).__name__.lower() in ("gt", "ge", "lt", "le")}  # not the validators
    low = (f"more than {bounds['gt']}" if "gt" in bounds
           else f"{bounds['ge']} or more" if "ge" in bounds else None)
    if "le" in bounds:
        return f"{bounds['ge']} to {bounds['le']}"
    return low


def test_every_range_a_hint_points_to_is_in_docs_catalog_md(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The hint "see docs/catalog.md for the allowed range" must find the range there."""
    from aigw.catalog.models import Defaults, Route

    doc = (Path(__file__).resolve().parents[1] / "docs/catalog.md").read_text()
    checked = 0
    for model, prefix in ((Route, ""), (Defaults, "defaults.")):
        for name, info in model.model_fields.items():
            allowed = _allowed(list(info.metadata))
            if allowed is None:
                continue
            row = next(ln for ln in doc.splitlines() if ln.startswith(f"| `{prefix}{name}` |"))
            assert f"allowed: {allowed}" in row, (f"{prefix}{name}", row)
            checked += 1
    assert checked == 7  # timeout, retries, cooldown on a route (+ weight) and in defaults
    bad = tmp_path / "aigw.yaml"
    bad.write_text((Path(__file__).resolve().parents[1] / "examples/aigw.yaml").read_text()
                   .replace("retries: 1,", "retries: 11,"))
    result = run_cli(capsys, "validate", str(bad), "--no-policy")
    assert result.code == 2 and "allowed range" in result.err


def test_routes_are_named_as_dotted_paths(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    """Catalog messages say `models.x.routes[0]`, like their keys, never "route 1"."""
    bad = tmp_path / "aigw.yaml"
    bad.write_text((Path(__file__).resolve().parents[1] / "examples/aigw.yaml").read_text()
                   .replace("    regions: [eu]\n", "    regions: [us]\n", 1))
    result = run_cli(capsys, "validate", str(bad), "--no-policy")
    assert result.code == 2
    assert "alias 'claude-eu' route 1" not in result.err
    assert "models.claude-eu.routes[0] (bedrock-eu, region eu) is outside" in result.err


def test_a_misspelt_slot_gets_a_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    # Names are checked against the catalog before OpenBao is contacted: no server needed.
    for slot, env, close in (("openai/defualt", "prod", "'openai/default'"),
                             ("opneai", "prod", "'openai/default'"),
                             ("openai", "prdo", "'prod'")):
        result = run_cli(capsys, "keys", "put", slot, "examples", "--env", env)
        assert result.code == 2, result
        assert f"(hint: did you mean {close}?)" in result.err, result.err


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "--show-completion", "bash")
    assert result.code == 0, result
    assert "_AIGW_COMPLETE" in result.out and "complete " in result.out
    assert "--install-completion" in run_cli(capsys, "--help").out


def test_one_hint_per_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                           bao: Any, tmp_path: Path) -> None:
    """A failed manual rotation printed `(hint: …) (hint: …)`: the slot's and the run's."""
    from tests.rotation.conftest import write_catalog

    mount = f"t-{tmp_path.name[-12:]}".replace("_", "-")
    bao.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    bao.client().secrets.kv.v2.configure(cas_required=True, mount_point=mount)
    try:
        folder = write_catalog(tmp_path / "cat", mount, {"openai": {
            "api": "openai", "base_url": "http://127.0.0.1:9/v1", "region": "us",
            "rotation": {"driver": "manual", "max_age": "30d"}}})
        monkeypatch.setenv("BAO_ADDR", bao.addr)
        monkeypatch.setenv("BAO_TOKEN", bao.token)
        monkeypatch.setenv("AIGW_HOME", str(tmp_path))
        monkeypatch.setattr("sys.stdin", io.StringIO("sk-fake-hint-1\n"))
        assert run_cli(capsys, "keys", "put", "openai", str(folder), "--env", "prod").code == 0
        header = run_cli(capsys, "keys", "list", str(folder)).out.splitlines()[0]
        assert header.split() == ["SLOT", "VER", "AGE", "FINGERPRINT", "DRIVER"]
        # The current key again: the slot fails with its own hint ("supply a newly created
        # key"), and the run's summary must not add a second one on the same line.
        monkeypatch.setattr("sys.stdin", io.StringIO("sk-fake-hint-1\n"))
        failed = run_cli(capsys, "rotate-keys", str(folder), "--yes")
        assert failed.code == 3, failed
        line = next(ln for ln in failed.err.splitlines() if ln.startswith("error:"))
        assert "the new key is the current key" in line
        assert line.count("(hint:") == 1, line
    finally:
        bao.client().sys.disable_secrets_engine(path=mount)
