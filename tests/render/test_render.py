"""aigw render: golden files, determinism, no needless writes, --check, removal, the manifest."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.render import render_all
from aigw.render_manifest import MARKER, MARKER_TEXT, read_manifest
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MARKER
    }


def test_golden_files_match() -> None:
    """Every template's output for the example catalog, byte for byte.

    Regenerate after an intended change with AIGW_UPDATE_GOLDEN=1 and review the diff.
    """
    files = render_all(load_catalog(EXAMPLES))
    if os.environ.get("AIGW_UPDATE_GOLDEN"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, data in files.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_bytes(data)
    assert files == _tree(GOLDEN)
    names = {rel.split("/")[-1] for rel in files}
    for every in ("aigw-client.json", "litellm.yaml", "aigw.env", "bao-agent.hcl",
                  "k8s-injector.yaml", "k8s-csi.yaml"):
        assert every in names, f"no golden file covers {every}"
    assert any(rel.endswith(".ctmpl") for rel in files)


def test_second_render_touches_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run_cli(capsys, "render", str(EXAMPLES), "--out", str(out)).code == 0
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    second = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out))
    assert second.code == 0
    assert "0 written" in second.out
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file()}
    assert before == after


def test_check_detects_edited_added_and_missing(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run_cli(capsys, "render", str(EXAMPLES), "--out", str(out))
    assert run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--check").code == 0

    edited = out / "prod" / "support-bot" / "aigw-client.json"
    edited.write_text(edited.read_text().replace("deepseek-chat", "deepseek-reasoner"))
    added = out / "prod" / "support-bot" / "notes.txt"
    added.write_text("stray\n")
    missing = out / "staging" / "nightly-batch" / "aigw.env"
    missing.unlink()
    snapshot = _tree(out)

    result = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--check")
    assert result.code == 1
    removed_lines = [line for line in result.out.splitlines() if line.startswith("-")]
    assert any('"model": "deepseek-reasoner"' in line for line in removed_lines)
    assert "notes.txt" not in result.out.split("render --check:")[0], "a stray file is no diff"
    assert "+++ b/staging/nightly-batch/aigw.env" in result.out
    assert _tree(out) == snapshot, "--check must write nothing"

    assert run_cli(capsys, "render", str(EXAMPLES), "--out", str(out)).code == 0
    assert run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--check").code == 0
    assert added.read_text() == "stray\n", "render removed a file it did not write"


def test_removed_service_files_are_removed(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "aigw.yaml"
    text = (EXAMPLES / "aigw.yaml").read_text()
    catalog.write_text(text)
    out = tmp_path / "out"
    run_cli(capsys, "render", str(catalog), "--out", str(out))
    assert (out / "staging" / "nightly-batch").is_dir()
    catalog.write_text(text.split("  nightly-batch:")[0])
    result = run_cli(capsys, "render", str(catalog), "--out", str(out))
    assert result.code == 0, result.err
    assert not (out / "staging" / "nightly-batch").exists()
    assert (out / "staging" / "support-bot" / "aigw-client.json").is_file()


def test_render_removes_only_what_it_wrote(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`key_dir: keys` puts an agent's key files inside the rendered folder: render keeps them.

    As a new user would: render, the agent writes key files (and the live config)
    into `keys/`, a note is added by hand, then a service is removed from the
    catalog. Render removes that service's rendered files only, and says what it left.
    """
    catalog = tmp_path / "aigw.yaml"
    text = (EXAMPLES / "aigw.yaml").read_text().replace("key_dir: /run/secrets/aigw",
                                                        "key_dir: keys")
    # Kubernetes outputs mount the key folder in a container: theirs stays absolute.
    text = text.replace(", k8s-csi]", ", k8s-csi]\n    key_dir: /run/secrets/aigw").replace(
        ", k8s-injector]", ", k8s-injector]\n    key_dir: /run/secrets/aigw")
    catalog.write_text(text)
    out = tmp_path / "out"
    assert run_cli(capsys, "render", str(catalog), "--out", str(out)).code == 0
    runtime = {
        "staging/nightly-batch/keys/openai.batch.key": "fake-key-1\n",
        "staging/nightly-batch/keys/aigw-client.json": "{}\n",
        "staging/nightly-batch/role-id": "r\n",
        "prod/support-bot/keys/deepseek.svc-support-bot.key": "fake-key-2\n",
        "prod/support-bot/NOTES.md": "hand-written\n",
    }
    for rel, body in runtime.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(body)

    again = run_cli(capsys, "render", str(catalog), "--out", str(out))
    assert again.code == 0 and "0 removed" in again.out
    # The agent's own login file (role-id, named in its bao-agent.hcl) is not even listed.
    assert "left alone 4 file(s)" in again.out + again.err
    assert "role-id" not in again.out + again.err

    catalog.write_text(text.split("  nightly-batch:")[0])
    result = run_cli(capsys, "render", str(catalog), "--out", str(out))
    assert result.code == 0, result.err
    assert not (out / "staging/nightly-batch/aigw-client.json").exists()
    assert not (out / "staging/nightly-batch/templates").exists()
    for rel, body in runtime.items():
        assert (out / rel).read_text() == body, f"render touched {rel}"
    assert "left alone 5 file(s)" in result.out + result.err
    listed = run_cli(capsys, "render", str(catalog), "--out", str(out), "--json")
    assert sorted(json.loads(listed.out)["kept"]) == sorted(runtime)


def test_marker_lists_what_render_wrote(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The manifest names every rendered file, and a scoped render keeps the others' entries."""
    out = tmp_path / "out"
    run_cli(capsys, "render", str(EXAMPLES), "--out", str(out))
    every = set(_tree(out))
    assert read_manifest(out) == every
    run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--env", "prod")
    assert read_manifest(out) == every
    # A file rendered before manifests existed (bare marker) is kept, not removed.
    (out / MARKER).write_bytes(MARKER_TEXT)
    result = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--env", "prod",
                     "--service", "support-bot")
    assert result.code == 0
    assert set(_tree(out)) == every


def test_scoped_render_leaves_other_services(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    run_cli(capsys, "render", str(EXAMPLES), "--out", str(out))
    full = _tree(out)
    result = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--env", "prod",
                     "--service", "support-bot")
    assert result.code == 0
    assert _tree(out) == full


def test_refuses_a_folder_it_does_not_own(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_cli(capsys, "render", str(EXAMPLES), "--out", str(tmp_path))
    assert result.code == 2
    assert "did not write" in result.err
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert not (tmp_path / "prod").exists()


def test_unknown_environment_is_invalid_input(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "render", str(EXAMPLES), "--out", str(tmp_path / "o"), "--env", "qa")
    assert result.code == 2
    assert "unknown environment 'qa'" in result.err


def test_unknown_scope_names_the_closest_known_one(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`--env`/`--service` are checked in one place (catalog.view.check_scope), with a hint."""
    out = tmp_path / "o"
    env = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--env", "prdo")
    assert env.code == 2 and "unknown environment 'prdo' (hint: did you mean 'prod'?)" in env.err
    svc = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out), "--service", "zzz")
    assert svc.code == 2 and "unknown service 'zzz' (hint: known: " in svc.err
    assert not out.exists(), "nothing is written for an unknown scope"


def test_rendered_files_name_keys_and_never_inline_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render never sees OpenBao; the one place a key value could leak in is the environment.

    Every AIGW_KEY_* name the files reference is set to a canary value, as on a
    host that runs the service: the output must be byte-identical (render reads
    no environment) and hold no canary; keys appear only as references.
    """
    import re
    import secrets

    first = render_all(load_catalog(EXAMPLES))
    names = sorted({m.decode() for data in first.values()
                    for m in re.findall(rb"AIGW_KEY_[A-Z0-9_]+", data)})
    assert names, "the example references no key at all"
    canaries = {name: f"canary-{secrets.token_hex(12)}" for name in names}
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    second = render_all(load_catalog(EXAMPLES))
    assert second == first  # deterministic, and independent of the environment
    for rel, data in second.items():
        assert data.endswith(b"\n"), rel
        for value in canaries.values():
            assert value.encode() not in data, rel
    litellm = [d for rel, d in second.items() if rel.endswith("litellm.yaml")]
    assert litellm and all(b'"os.environ/AIGW_KEY_' in d for d in litellm)


def test_interrupted_write_leaves_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while writing leaves the previous bytes and no temp file behind."""
    from aigw import fsutil

    target = tmp_path / "f.json"
    target.write_bytes(b"old\n")

    def boom(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fsutil.os, "fsync", boom)
    with pytest.raises(OSError):
        fsutil.atomic_write(target, b"new\n")
    assert target.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_revision_is_the_hash_of_everything_else() -> None:
    """`revision` is recomputable from the file, stable, and moves with any other byte."""
    import hashlib

    from aigw.client_config import config_revision

    files = render_all(load_catalog(EXAMPLES))
    seen = set()
    for rel, data in files.items():
        if not rel.endswith("/aigw-client.json"):
            continue
        doc = json.loads(data)
        body = {k: v for k, v in doc.items() if k != "revision"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert doc["revision"] == hashlib.sha256(canonical.encode()).hexdigest()[:16] == \
            config_revision(doc)
        seen.add(doc["revision"])
        changed = json.loads(data)
        next(iter(changed["aliases"].values()))["routes"][0]["timeout"] += 1
        assert config_revision(changed) != doc["revision"]
    assert len(seen) == 7, "every deployment has its own revision"


def test_weights_reach_the_client_config(tmp_path: Path) -> None:
    text = (EXAMPLES / "aigw.yaml").read_text().replace(
        "      - {provider: deepseek, model: deepseek-chat}",
        "      - {provider: deepseek, model: deepseek-chat, weight: 90}").replace(
        "      - {provider: volcengine, model: deepseek-v3-250324, timeout: 45}",
        "      - {provider: volcengine, model: deepseek-v3-250324, timeout: 45, weight: 10}")
    (tmp_path / "aigw.yaml").write_text(text)
    doc = json.loads(render_all(load_catalog(tmp_path))["prod/support-bot/aigw-client.json"])
    assert [r["weight"] for r in doc["aliases"]["deepseek-v3"]["routes"]] == [90, 10, None]
