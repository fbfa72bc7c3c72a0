"""No key value in a parse error (issue 23, item 2).

Canary values go through every parser of `aigw.slots.put` (and `check_secret`, which
they all end in) in every way a paste can go wrong, and through `aigw keys put` and
`aigw keys import` run as processes: each error is one line, exit 2, and holds no part
of a canary (compared case-insensitively: `name=value` lines are lowercased).
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from aigw.apis import API_KEY_FIELDS, AWS_FIELDS
from aigw.errors import UsageError
from aigw.slots.put import (
    StdinSecretInput,
    import_plan,
    parse_dotenv,
    parse_secret_text,
    read_secret,
)
from aigw.slots.targets import check_secret

KEY = f"sk-canary-{secrets.token_hex(8)}"
AWS_ID = f"AKIACANARY{secrets.token_hex(5).upper()}"
AWS_SECRET = f"CanarySecret/{secrets.token_hex(10)}+x"
CANARIES = (KEY, AWS_ID, AWS_SECRET, "canaryhalf")


def _assert_clean(text: str) -> None:
    low = text.lower()
    for canary in CANARIES:
        for part in (canary, *canary.split("/"), *canary.split("+")):
            if len(part) >= 8 and part.lower() in low:  # not `assert`: it would print it
                pytest.fail(f"a canary value is in the error: {text[:40]!r}...")


def _fails(call: Callable[[], object]) -> UsageError:
    with pytest.raises(UsageError) as caught:
        call()
    err = caught.value
    _assert_clean(f"{err.message} {err.hint or ''}")
    return err


ONE = tuple(API_KEY_FIELDS)
AWS = tuple(AWS_FIELDS)
BAD_TEXTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "two lines for one key": (f"{KEY}\n{KEY}x", ONE),
    "whitespace inside the key": (f"{KEY[:9]} {KEY[9:]}", ONE),
    "empty": ("  \n", ONE),
    "invalid JSON": (f'{{"aws_access_key_id": "{AWS_ID}", "aws_secret_access_key": '
                     f'"{AWS_SECRET}', AWS),
    "JSON keyed by a value": (f'{{"{AWS_ID}": "{AWS_SECRET}"}}', AWS),
    "JSON missing a field": (f'{{"aws_access_key_id": "{AWS_ID}"}}', AWS),
    "JSON with a nested value": (f'{{"aws_access_key_id": {{"v": "{AWS_ID}"}}, '
                                 f'"aws_secret_access_key": "{AWS_SECRET}"}}', AWS),
    "a value split on =": (f"{AWS_ID}=canaryhalf-1\n{AWS_SECRET}=canaryhalf-2", AWS),
    "name=value with a wrong name": (f"aws_acces_key_id={AWS_ID}\n"
                                     f"aws_secret_access_key={AWS_SECRET}", AWS),
    "name=value with an empty value": (f"aws_access_key_id={AWS_ID}\naws_secret_access_key=",
                                       AWS),
    "three lines for two fields": (f"{AWS_ID}\n{AWS_SECRET}\n{KEY}", AWS),
    "whitespace in a line": (f"{AWS_ID}\n{AWS_SECRET[:6]} {AWS_SECRET[6:]}", AWS),
}


@pytest.mark.parametrize("case", sorted(BAD_TEXTS))
def test_parse_secret_text_never_quotes_its_input(case: str, tmp_path: Path) -> None:
    text, fields = BAD_TEXTS[case]
    _fails(lambda: parse_secret_text(text, fields, "key for prod/p/default"))
    file = tmp_path / "key.txt"
    file.write_text(text)
    _fails(lambda: read_secret(fields, "key for prod/p/default", file=file))
    _fails(lambda: read_secret(fields, "key for prod/p/default", stream=io.StringIO(text)))


def test_a_misspelled_field_is_named_and_a_value_is_not() -> None:
    err = _fails(lambda: parse_secret_text(BAD_TEXTS["name=value with a wrong name"][0], AWS,
                                           "k"))
    assert "aws_acces_key_id" in err.message
    err = _fails(lambda: parse_secret_text(BAD_TEXTS["a value split on ="][0], AWS, "k"))
    assert "2 not shown (not a field name)" in err.message


def test_prompted_values_and_check_secret() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter([AWS_ID, f"{AWS_SECRET} {KEY}"])
    ask = StdinSecretInput(Tty(), prompt=lambda _p: next(answers))
    _fails(lambda: ask("key for prod/bedrock/default", AWS))
    piped = StdinSecretInput(io.StringIO(f"{AWS_ID}\n\n"))
    _fails(lambda: piped("key for prod/bedrock/default", AWS))
    _fails(lambda: check_secret({"api_key": KEY, AWS_SECRET: KEY}, ONE, "k"))


BAD_LINES = {
    "a bare key": f"{KEY}\n",
    "a space in the name": f"export AIGW_KEY OPENAI={KEY}\n",
    "a dash in the name": f"AIGW-KEY-OPENAI={KEY}\n",
    "no name": f"={KEY}\n",
}


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_dotenv_errors_name_file_and_line_only(case: str) -> None:
    text = f"# keys from before aigw\nAIGW_KEY_OK=fine\n{BAD_LINES[case]}"
    err = _fails(lambda: parse_dotenv(text, "old.env"))
    assert err.message.startswith("old.env:3: expected NAME=value")


def _catalog(folder: Path) -> Path:
    doc = {
        "version": 1,
        "environments": {"prod": {}},
        "providers": {
            "openai": {"api": "openai", "base_url": "http://127.0.0.1:9/v1", "region": "us"},
            "bedrock": {"api": "bedrock", "region": "us",
                        "extra": {"aws_region_name": "us-east-1"}}},
        "models": {"m-openai": {"routes": [{"provider": "openai", "model": "m"}]},
                   "m-bedrock": {"routes": [{"provider": "bedrock", "model": "m"}]}},
        "services": {"web": {"environments": ["prod"], "models": ["m-openai", "m-bedrock"]}},
    }
    folder.mkdir()
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc))
    return folder


def test_unknown_dotenv_names_are_named_without_values(tmp_path: Path) -> None:
    from aigw.catalog import load_catalog

    cat = load_catalog(_catalog(tmp_path / "cat")).catalog
    values = parse_dotenv(f"AIGW_KEY_NOPE={KEY}\nAIGW_KEY_BEDROCK_DEFAULT_AWS_ACCESS_KEY_ID="
                          f"{AWS_ID}\n", "old.env")
    err = _fails(lambda: import_plan(cat, "prod", list(values)))
    assert "AIGW_KEY_NOPE" in err.message
    del values["AIGW_KEY_NOPE"]
    _fails(lambda: import_plan(cat, "prod", list(values)))  # lacks the secret access key


def _aigw(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    # No OpenBao: every error here comes before aigw would ask it (an address nobody serves).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env.update({"BAO_ADDR": "http://127.0.0.1:9", "BAO_TOKEN": "unused",
                "AIGW_HOME": str(cwd)})
    return subprocess.run([sys.executable, "-m", "aigw", *args], cwd=cwd, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120, check=False)


PROCESS_PUTS = {
    "openai: two lines": ("openai", f"{KEY}\n{KEY}x\n"),
    "bedrock: invalid JSON": ("bedrock", BAD_TEXTS["invalid JSON"][0]),
    "bedrock: a value split on =": ("bedrock", BAD_TEXTS["a value split on ="][0]),
    "bedrock: JSON keyed by a value": ("bedrock", BAD_TEXTS["JSON keyed by a value"][0]),
}


def test_keys_put_and_import_as_processes_print_no_value(tmp_path: Path) -> None:
    folder = _catalog(tmp_path / "cat")
    for case, (slot, stdin) in PROCESS_PUTS.items():
        done = _aigw(["keys", "put", slot, "--env", "prod"], folder, stdin)
        assert done.returncode == 2, (case, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("error: "), case
        _assert_clean(done.stdout + done.stderr)
    for case, line in BAD_LINES.items():
        env_file = folder / f"old-{len(line)}.env"
        env_file.write_text(f"AIGW_KEY_OPENAI_DEFAULT={KEY}\n{line}")
        done = _aigw(["keys", "import", env_file.name, "--env", "prod"], folder)
        assert done.returncode == 2, (case, done.stderr)
        assert done.stderr.startswith(f"error: {env_file.name}:2: expected NAME=value"), case
        assert len(done.stderr.splitlines()) == 1
        _assert_clean(done.stdout + done.stderr)
