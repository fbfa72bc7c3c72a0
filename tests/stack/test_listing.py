"""The keys-ready check lists each folder's metadata once instead of reading every entry.

Real OpenBao dev server and the real Pulumi engine (tests/stack/conftest.py); the
catalog is a copy of examples/. The check's HTTP requests are counted on the hvac
client it is given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import pytest

from aigw.catalog import load_catalog
from aigw.names import CONFIG_VERSION_META
from aigw.stack.readiness import EnvReadiness, check_environment
from aigw.stack.spec import environment_spec
from tests.stack.conftest import StackRig

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ENV = "prod"


def counted(client: hvac.Client) -> Callable[[], list[str]]:
    """Record every request CLIENT makes (method and path); returns the recorder."""
    seen: list[str] = []
    real = client.adapter.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(f"{method.upper()} {url}")
        return real(method, url, *args, **kwargs)

    client.adapter.request = request  # type: ignore[method-assign]
    return lambda: seen


def check(folder: Path, client: hvac.Client) -> EnvReadiness:
    cat = load_catalog(folder).catalog
    return check_environment(cat, environment_spec(cat, ENV), client)


def no_list_token(client: hvac.Client) -> str:
    """A token that reads entries and their metadata but may not LIST detailed metadata
    (as a policy written for Vault, which has no such endpoint, would be)."""
    client.sys.create_or_update_acl_policy("reads-only", """
path "aigw/data/*" { capabilities = ["read"] }
path "aigw/metadata/*" { capabilities = ["read"] }
""")
    return str(client.auth.token.create(policies=["reads-only"])["auth"]["client_token"])


def test_the_check_lists_folders_and_judges_as_reading_each_entry_would(
        rig: StackRig, catalog_dir: Path) -> None:
    rig.apply(catalog_dir)
    rig.fill(catalog_dir, ENV, slots=["openai/default"])
    client = rig.client()
    requests = counted(client)
    listed = check(catalog_dir, client)
    assert requests() and all(r.startswith("LIST ") for r in requests()), requests()
    providers = {r.rsplit("/", 1)[-1] for r in requests() if "/providers/" in r}
    assert len(requests()) == len(providers) + 1 == 8  # per provider, and the configs' folder
    one_by_one = hvac.Client(url=rig.bao.addr, token=no_list_token(client))
    slow = counted(one_by_one)
    read = check(catalog_dir, one_by_one)
    assert len(slow()) > len(listed.deployments) + 2  # refused LISTs, then entry by entry
    assert listed == read
    assert any(d.empty for d in listed.deployments)  # the empty slots are seen empty,
    assert all("openai/default" not in d.empty for d in listed.deployments)  # a full one not


def test_a_config_its_metadata_does_not_vouch_for_is_read(
        rig: StackRig, catalog_dir: Path) -> None:
    rig.apply(catalog_dir)
    client = rig.client()
    path = f"{ENV}/_aigw/config/support-bot"
    meta = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point="aigw")["data"]
    assert meta["custom_metadata"][CONFIG_VERSION_META] == str(meta["current_version"])
    before = {d.service: d for d in check(catalog_dir, client).deployments}
    assert not before["support-bot"].changes
    # A new version written after the metadata (a run stopped between its two writes,
    # or a hand edit): the listed revision no longer describes the entry.
    entry = client.secrets.kv.v2.read_secret_version(path=path, mount_point="aigw",
                                                     raise_on_deleted_version=True)["data"]
    doc = json.loads(entry["data"]["config"])
    doc["revision"] = "0123456789abcdef"
    client.secrets.kv.v2.create_or_update_secret(
        path=path, mount_point="aigw", cas=entry["metadata"]["version"],
        secret={"config": json.dumps(doc)})
    requests = counted(client)
    after = {d.service: d for d in check(catalog_dir, client).deployments}
    assert after["support-bot"].live_revision == "0123456789abcdef"
    assert after["support-bot"].changes
    assert any(r.startswith("GET ") and r.endswith("support-bot") for r in requests())
    rig.fill(catalog_dir, ENV)  # else apply holds it at the live (edited) config
    rig.apply(catalog_dir)  # converges, and vouches for the version it wrote
    meta = client.secrets.kv.v2.read_secret_metadata(path=path, mount_point="aigw")["data"]
    assert meta["current_version"] == entry["metadata"]["version"] + 2
    assert meta["custom_metadata"][CONFIG_VERSION_META] == str(meta["current_version"])
    assert not {d.service: d for d in check(catalog_dir, client).deployments}[
        "support-bot"].changes


def test_a_plan_from_the_fingerprint_never_imports_the_pulumi_sdk(
        rig: StackRig, catalog_dir: Path, tmp_path: Path) -> None:
    rig.apply(catalog_dir)
    shim = tmp_path / "shim" / "pulumi"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('the fast plan imported pulumi')\n")
    env = {**rig.cli_env(), "PYTHONPATH": os.pathsep.join(
        [str(shim.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-m", "aigw", "plan", str(catalog_dir)], env=env,
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("planned from the last apply's fingerprint") == 2, done.stdout


def test_apply_reads_the_recorded_server_without_the_engine(
        rig: StackRig, catalog_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        ) -> None:
    """`pulumi stack output` loads the whole state: apply neither asks it which server the
    state was recorded against (aigw reads the state file) nor after `up` (the SDK would)."""
    from aigw.tools import find_pulumi

    real = find_pulumi().parent
    wrapper, log = tmp_path / "engine", tmp_path / "engine.log"
    wrapper.mkdir()
    for item in real.iterdir():
        if item.name != "pulumi":
            (wrapper / item.name).symlink_to(item)
    script = wrapper / "pulumi"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real / "pulumi"}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("AIGW_PULUMI_DIR", str(wrapper))
    rig.apply(catalog_dir)
    rig.apply(catalog_dir, refresh=False)
    runs = log.read_text().splitlines()
    assert sum(" up " in f" {r} " for r in runs) == 4, runs  # two stacks, twice
    assert not [r for r in runs if "stack output" in r], runs


def test_on_a_server_with_nothing_yet_the_check_only_lists(catalog_dir: Path) -> None:
    """Before the first apply every folder is empty (`404 {"errors": []}`): known empty,
    so no slot or config is read one by one, and every slot is empty."""
    from testing.bao import BaoDevServer

    with BaoDevServer() as bao:
        client = bao.client()
        client.sys.enable_secrets_engine("kv", path="aigw", options={"version": "2"})
        requests = counted(client)
        found = check(catalog_dir, client)
    assert requests() and all(r.startswith("LIST ") for r in requests()), requests()
    assert all(d.live_revision is None and d.empty for d in found.deployments)
