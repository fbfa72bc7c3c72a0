"""`aigw apply` publishes each deployment's aigw-client.json into OpenBao (real engine, real OpenBao).

The entry's data is the rendered file byte for byte; a no-op apply (also after an
unrelated git commit) writes no new KV version; a catalog change shows in the plan
as a revision change and lands as exactly one new version; a config edited by hand
in OpenBao is put back by the next apply.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from testing.bao import BaoDevServer

from aigw.catalog import load_catalog
from aigw.catalog.view import deployments
from aigw.render import render_all
from aigw.stack._conn import ProviderFailure
from aigw.stack.providers import ClientConfigProvider, KvMountProvider
from aigw.stack.session import StackResult
from tests.helpers import run_cli
from tests.stack.conftest import StackRig
from tests.stack.vaultstate import state_urns

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def published(rig: StackRig, env: str, service: str) -> tuple[int, str, dict[str, str]]:
    """(current version, the entry's text, its custom_metadata) of a published config."""
    client = rig.client()
    path = f"{env}/_aigw/config/{service}"
    meta = client.secrets.kv.v2.read_secret_metadata(path, mount_point="aigw")["data"]
    data = client.secrets.kv.v2.read_secret_version(path, mount_point="aigw",
                                                    raise_on_deleted_version=True)["data"]
    return meta["current_version"], data["data"]["config"], meta["custom_metadata"] or {}


def config_changes(results: list[StackResult]) -> list[str]:
    return [line for r in results for c in r.changes if c.kind == "config"
            for line in c.detail()]


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t",
                    *args], check=True, capture_output=True)


def test_apply_publishes_the_rendered_bytes_and_a_noop_apply_writes_nothing(
        rig: StackRig, catalog_dir: Path, capsys: Any) -> None:
    git(catalog_dir, "init", "-q")
    git(catalog_dir, "add", "-A")
    git(catalog_dir, "commit", "-qm", "catalog")
    head = subprocess.run(["git", "-C", str(catalog_dir), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    rig.apply(catalog_dir)
    loaded = load_catalog(catalog_dir)
    files = render_all(loaded)
    deps = deployments(loaded.catalog)
    assert len(deps) == 7
    for dep in deps:
        version, text, custom = published(rig, dep.environment, dep.service)
        rendered = files[f"{dep.environment}/{dep.service}/aigw-client.json"]
        assert text.encode() == rendered, "the entry must be the rendered file, byte for byte"
        assert version == 1
        assert custom["revision"] == json.loads(rendered)["revision"]
        assert custom["catalog_commit"] == head

    # An unrelated commit (a README, a comment in the catalog) changes nothing published.
    (catalog_dir / "README.md").write_text("notes\n")
    catalog = catalog_dir / "aigw.yaml"
    catalog.write_text("# reviewed by the platform team\n" + catalog.read_text())
    git(catalog_dir, "add", "-A")
    git(catalog_dir, "commit", "-qm", "unrelated")
    planned = run_cli(capsys, "plan", str(catalog_dir))
    assert planned.code == 0, planned.out + planned.err
    assert [r.changed for r in rig.apply(catalog_dir)] == [False, False]
    for dep in deps:
        assert published(rig, dep.environment, dep.service)[0] == 1, "a no-op apply wrote"

    # A route change: the plan names the config and both revisions, apply writes one version.
    doc = yaml.safe_load(catalog.read_text())
    routes = doc["models"]["deepseek-v3"]["routes"]
    routes[0], routes[1] = routes[1], routes[0]
    catalog.write_text(yaml.safe_dump(doc, sort_keys=False))
    old = {d.environment: json.loads(files[f"{d.environment}/support-bot/aigw-client.json"])
           for d in deps if d.service == "support-bot"}
    new_files = render_all(load_catalog(catalog_dir))
    new = {env: json.loads(new_files[f"{env}/support-bot/aigw-client.json"]) for env in old}
    for env in ("staging", "prod"):  # keys ready: a config reading empty slots is held
        rig.fill(catalog_dir, env)
    lines = config_changes(rig.plan(catalog_dir, "prod"))
    routes = [f"{r['provider']}/{r['model']}" for r in routes]
    assert lines == [f"config of support-bot (prod): revision {old['prod']['revision']} -> "
                     f"{new['prod']['revision']} (deepseek-v3: routes "
                     f"{routes[1]}, {routes[0]}, {routes[2]} -> {', '.join(routes)})"]
    cli = run_cli(capsys, "plan", str(catalog_dir), "--env", "prod")
    assert cli.code == 1 and "aigw/prod/_aigw/config/support-bot" in cli.out
    assert lines[0] in cli.out
    rig.apply(catalog_dir)
    version, text, custom = published(rig, "prod", "support-bot")
    assert (version, text.encode()) == (2, new_files["prod/support-bot/aigw-client.json"])
    assert custom["revision"] == new["prod"]["revision"]
    assert custom["catalog_commit"].endswith("+dirty"), "uncommitted catalog edits say so"
    assert published(rig, "prod", "research-assistant")[0] == 1, "an unrelated config was written"
    assert not any(r.changed for r in rig.apply(catalog_dir)), "a no-op apply after a change"
    assert published(rig, "prod", "support-bot")[0] == 2

    # A config written into OpenBao by hand is drift: the next apply (which refreshes) restores it.
    rig.client().secrets.kv.v2.create_or_update_secret(
        "prod/_aigw/config/support-bot", {"config": "{not json"}, cas=2, mount_point="aigw")
    assert config_changes(rig.plan(catalog_dir, "prod", refresh=True)) == [
        f"config of support-bot (prod): revision (not JSON) -> {new['prod']['revision']}"]
    rig.apply(catalog_dir, "prod")
    version, text, _ = published(rig, "prod", "support-bot")
    assert (version, text.encode()) == (4, new_files["prod/support-bot/aigw-client.json"])


def test_a_removed_service_loses_its_config_and_the_state_holds_no_key(
        rig: StackRig, catalog_dir: Path) -> None:
    rig.apply(catalog_dir, "staging")
    client = rig.client()
    canary = "fake-canary-value-for-state-check"
    client.secrets.kv.v2.create_or_update_secret(
        "staging/providers/openai/batch", {"api_key": canary}, cas=0, mount_point="aigw")
    catalog = catalog_dir / "aigw.yaml"
    doc = yaml.safe_load(catalog.read_text())
    doc["services"].pop("nightly-batch")
    catalog.write_text(yaml.safe_dump(doc, sort_keys=False))
    plan = rig.plan(catalog_dir, "staging")
    assert [(c.op, c.target) for r in plan for c in r.changes if c.kind == "config"] == [
        ("delete", "aigw/staging/_aigw/config/nightly-batch")]
    rig.apply(catalog_dir, "staging")
    left = client.list("aigw/metadata/staging/_aigw/config")["data"]["keys"]
    assert "nightly-batch" not in left and "support-bot" in left
    for path in (rig.backend / ".pulumi").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            text = gzip.decompress(data) if path.suffix == ".gz" else data
            assert canary.encode() not in text, path
    assert any("config.support-bot" in u for u in state_urns(rig.backend, "staging"))


@pytest.fixture
def provider_env(bao: BaoDevServer,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[BaoDevServer, str]]:
    """A fresh CAS-required KV v2 mount on the shared server; the token in the environment."""
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    mount = f"m-{uuid.uuid4().hex[:8]}"
    KvMountProvider().create({"addr": bao.addr, "path": mount, "max_versions": 10,
                              "cas_required": True})
    yield bao, mount
    bao.client().sys.disable_secrets_engine(mount)


def test_provider_upsert_writes_a_version_only_for_new_bytes(
        provider_env: tuple[BaoDevServer, str]) -> None:
    """Direct provider calls: adopt identical bytes, CAS against a concurrent writer, delete."""
    server, mount = provider_env
    client = server.client()
    text = '{\n  "revision": "aaaa",\n  "version": 1\n}\n'
    props = {"addr": server.addr, "mount": mount, "path": "prod/_aigw/config/bot",
             "service": "bot", "environment": "prod", "revision": "aaaa", "text": text,
             "catalog_commit": ""}
    p = ClientConfigProvider()

    def version() -> int:
        return int(client.read(f"{mount}/metadata/prod/_aigw/config/bot")["data"]
                   ["current_version"])

    assert p.create(props).id == f"{mount}/prod/_aigw/config/bot"
    p.create(props)  # a killed run's create again: the same bytes are adopted
    assert version() == 1
    assert p.read("x", props).outs["text"] == text
    newer = {**props, "text": text.replace("aaaa", "bbbb"), "revision": "bbbb"}
    assert p.diff("x", props, newer).changes is True
    assert p.diff("x", props, {**props, "catalog_commit": "f00d"}).changes is False
    p.update("x", props, newer)
    assert version() == 2
    custom = client.read(f"{mount}/metadata/prod/_aigw/config/bot")["data"]["custom_metadata"]
    # the version the revision was written with: what `aigw plan`'s listing trusts
    assert custom == {"service": "bot", "environment": "prod", "revision": "bbbb",
                      "config_version": "2"}
    # Someone writes between our read and our write: the check-and-set makes the step fail.
    real = p._latest

    def stale(c: Any, pr: dict[str, Any]) -> tuple[int, str | None, dict[str, Any]]:
        found = real(c, pr)
        client.secrets.kv.v2.create_or_update_secret("prod/_aigw/config/bot", {"config": "x"},
                                                     cas=found[0], mount_point=mount)
        return found
    p._latest = stale  # type: ignore[method-assign]
    with pytest.raises(ProviderFailure, match="check-and-set"):
        p.update("x", newer, {**newer, "text": text.replace("aaaa", "cccc")})
    p._latest = real  # type: ignore[method-assign]
    assert client.secrets.kv.v2.read_secret_version("prod/_aigw/config/bot", mount_point=mount,
                                                    raise_on_deleted_version=True)[
        "data"]["data"] == {"config": "x"}, "the concurrent write was not overwritten"
    p.delete("x", props)
    assert p.read("x", props).id is None
    p.delete("x", props)  # already gone is fine
