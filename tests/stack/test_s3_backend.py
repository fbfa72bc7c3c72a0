"""Shared Pulumi state in S3: the real engine, two checkouts applying at once.

A moto server (ThreadedMotoServer) stands in for S3: the engine's gocloud S3
client talks to it as to AWS (`s3://bucket?endpoint=http://127.0.0.1:PORT&
use_path_style=true&region=us-east-1`, credentials from AWS_*). The engine's own
locking of a self-managed backend (a lock object under `.pulumi/locks/`) is what
is tested; aigw adds nothing but the one-line message. OpenBao and the engine are real.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from aigw.catalog import load_catalog
from aigw.context import EngineSettings
from aigw.stack import run
from tests.stack.conftest import EXAMPLES, PASSPHRASE, StackRig
from tests.stack.vaultstate import assert_holds_exactly

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BUCKET = "aigw-state"
AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty bucket on a moto server; the backend URL the engine uses for it."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield f"s3://{BUCKET}?endpoint={endpoint}&use_path_style=true&region=us-east-1"
    finally:
        server.stop()


def _keys(url: str, prefix: str) -> list[str]:
    endpoint = url.split("endpoint=", 1)[1].split("&", 1)[0]
    found = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET,
                                                                      Prefix=prefix)
    return [o["Key"] for o in found.get("Contents", [])]


def _checkout(tmp_path: Path, name: str, services: int) -> Path:
    """A copy of examples/ (one checkout of the catalog repo) with extra services."""
    folder = tmp_path / name
    shutil.copytree(EXAMPLES, folder, ignore=shutil.ignore_patterns("rendered", ".aigw"))
    data = yaml.safe_load((folder / "aigw.yaml").read_text())
    for i in range(services):
        data["services"][f"{name}-svc-{i}"] = {"environments": ["prod"],
                                               "models": ["gpt-4o"], "keys": "per-service"}
    (folder / "aigw.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _apply(rig: StackRig, url: str, folder: Path, home: Path) -> subprocess.Popen[str]:
    env = {**rig.cli_env(), **AWS, "PULUMI_BACKEND_URL": url, "AIGW_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "aigw", "apply", str(folder), "--env",
                             "prod", "--yes"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_checkouts_applying_at_once(rig: StackRig, s3_url: str, tmp_path: Path) -> None:
    first = _checkout(tmp_path, "alice", services=150)
    second = _checkout(tmp_path, "bob", services=3)
    a = _apply(rig, s3_url, first, tmp_path / "home-a")
    deadline = time.monotonic() + 120
    while not _keys(s3_url, ".pulumi/locks/") and a.poll() is None:
        assert time.monotonic() < deadline, "the first apply never took the lock"
        time.sleep(0.05)
    b = _apply(rig, s3_url, second, tmp_path / "home-b")
    b_out, b_err = b.communicate(timeout=300)
    a_out, a_err = a.communicate(timeout=600)
    assert a.returncode == 0, a_err
    assert b.returncode == 3, (b_out, b_err)  # the engine's lock: refused, nothing written
    assert b_err.strip().splitlines() == [
        "error: stack aigw/prod is locked by another run (hint: wait for it, or rerun with "
        "--force-unlock if it is dead)"]
    assert not _keys(s3_url, ".pulumi/locks/")  # released by the run that held it

    # The state is whole: it parses, and a refreshed plan of alice's catalog is a no-op.
    state = json.loads(rig_state(s3_url))
    assert state["checkpoint"]["latest"]["resources"]
    engine = EngineSettings(backend_url=s3_url,
                            passphrase_env={"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})
    plan = run.plan(first, "prod", echo=rig.lines.append, refresh=True, vault=rig.vault,
                    engine=engine)
    assert not any(r.changed for r in plan), rig.lines
    assert_holds_exactly(rig.client(), load_catalog(first).catalog, ["prod"])

    # Bob reruns after alice: his catalog converges, and the state stays consistent.
    b = _apply(rig, s3_url, second, tmp_path / "home-b")
    _, err = b.communicate(timeout=600)
    assert b.returncode == 0, err
    plan = run.plan(second, "prod", echo=rig.lines.append, refresh=True, vault=rig.vault,
                    engine=engine)
    assert not any(r.changed for r in plan), rig.lines
    assert_holds_exactly(rig.client(), load_catalog(second).catalog, ["prod"])

    # A one-service change: read back without the engine, then a targeted `up` that the
    # state's backup in the bucket (`prod.json.bak`) vouches for: no second, full run.
    data = yaml.safe_load((second / "aigw.yaml").read_text())
    data["services"]["bob-svc-0"]["models"].append("deepseek-v3")
    (second / "aigw.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    rig.lines.clear()
    [done] = run.apply(second, "prod", echo=rig.lines.append, yes=True, vault=rig.vault,
                       engine=engine)
    assert (done.refresh, done.apply_path) == ("aigw", "targeted"), rig.lines
    assert ".pulumi/stacks/aigw/prod.json.bak" in _keys(s3_url, ".pulumi/stacks/")


def rig_state(url: str) -> str:
    """The stack's state file, read from the bucket."""
    endpoint = url.split("endpoint=", 1)[1].split("&", 1)[0]
    body = boto3.client("s3", endpoint_url=endpoint).get_object(
        Bucket=BUCKET, Key=".pulumi/stacks/aigw/prod.json")["Body"]
    return str(body.read().decode())
