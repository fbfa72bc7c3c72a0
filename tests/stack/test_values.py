"""apply never touches a key value, and neither values nor the token reach Pulumi's files."""

from __future__ import annotations

import gzip
import secrets
from pathlib import Path
from typing import Any

import pytest

from aigw.stack.sdkfix import quiet_pulumi_home
from tests.helpers import run_cli
from tests.stack.conftest import EXAMPLES, StackRig

pytestmark = [pytest.mark.integration, pytest.mark.slow]
VALUE = "sk-" + "test-" + secrets.token_hex(12)  # made at test time, never committed
SLOT = "prod/providers/deepseek/svc-support-bot"


def file_texts(folder: Path) -> dict[Path, bytes]:
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            out[path] = data
    return out


def test_apply_twice_keeps_the_value_and_its_version(rig: StackRig, capsys: Any) -> None:
    rig.apply(EXAMPLES)
    client = rig.client()
    client.secrets.kv.v2.create_or_update_secret(SLOT, {"api_key": VALUE}, cas=0,
                                                 mount_point="aigw")
    for args in (("apply", str(EXAMPLES), "--yes"), ("apply", str(EXAMPLES), "--yes")):
        result = run_cli(capsys, *args)
        assert result.code == 0, result.err
        assert VALUE not in result.out + result.err and rig.bao.token not in result.out + result.err
    secret = client.secrets.kv.v2.read_secret_version(SLOT, mount_point="aigw",
                                                      raise_on_deleted_version=True)["data"]
    assert secret["data"] == {"api_key": VALUE}
    assert secret["metadata"]["version"] == 1
    meta = client.read(f"aigw/metadata/{SLOT}")["data"]
    assert meta["current_version"] == 1 and meta["custom_metadata"]["slot"] == "svc-support-bot"

    home: dict[str, str] = {}
    quiet_pulumi_home(home)
    files = {**file_texts(rig.backend), **file_texts(Path(home["PULUMI_HOME"]))}
    assert any(b"aigw-prod-support-bot" in data for data in files.values())  # state was read
    for path, data in files.items():
        assert VALUE.encode() not in data, path
        assert rig.bao.token.encode() not in data, path
