"""aigw render again: deployments whose inputs and files are unchanged are not rendered again.

The manifest in the marker (aigw.render_manifest) records each deployment's inputs
fingerprint and its files' stat; these tests check what a user sees of it: which
files are written, what the command says, and that nothing stale survives.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import aigw
from aigw import fsutil, render, render_manifest, render_sync
from aigw.catalog import load_catalog
from aigw.package_data import templates_dir
from aigw.render import render_all
from aigw.render_manifest import MARKER
from aigw.render_sync import render_into
from tests.helpers import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEPLOYMENTS = 7  # the example catalog: support-bot, eu-contracts, research-assistant x2, nightly


def _catalog(tmp_path: Path) -> Path:
    catalog = tmp_path / "aigw.yaml"
    catalog.write_text((EXAMPLES / "aigw.yaml").read_text())
    return catalog


def _stats(out: Path) -> dict[str, tuple[int, int]]:
    """(mtime_ns, inode) of every file in OUT, the marker included."""
    return {p.relative_to(out).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino)
            for p in out.rglob("*") if p.is_file()}


def _render(capsys: pytest.CaptureFixture[str], catalog: Path, out: Path) -> dict:
    result = run_cli(capsys, "render", str(catalog), "--out", str(out), "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_unchanged_rerender_writes_nothing_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    first = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out))
    assert first.code == 0 and f"0 of {DEPLOYMENTS} deployments unchanged" in first.out
    before = _stats(out)
    second = run_cli(capsys, "render", str(EXAMPLES), "--out", str(out))
    assert second.code == 0
    assert f"{DEPLOYMENTS} of {DEPLOYMENTS} deployments unchanged" in second.out
    assert "0 written" in second.out
    assert _stats(out) == before, "a re-render of an unchanged catalog wrote a file"


def test_changing_one_service_rerenders_only_its_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = _catalog(tmp_path)
    out = tmp_path / "out"
    _render(capsys, catalog, out)
    before = _stats(out)
    catalog.write_text(catalog.read_text().replace(
        "defaults: {timeout: 20, retries: 1, cooldown: 30}",
        "defaults: {timeout: 25, retries: 1, cooldown: 30}"))
    result = _render(capsys, catalog, out)
    assert result["deployments_unchanged"] == DEPLOYMENTS - 2  # support-bot: staging, prod
    assert result["written"] == ["prod/support-bot/aigw-client.json",
                                 "prod/support-bot/litellm.yaml",
                                 "staging/support-bot/aigw-client.json",
                                 "staging/support-bot/litellm.yaml"]
    after = _stats(out)
    touched = {rel for rel in before if before[rel] != after.get(rel)}
    assert touched == set(result["written"]) | {MARKER}
    assert render_all(load_catalog(catalog))["prod/support-bot/aigw-client.json"] == \
        (out / "prod/support-bot/aigw-client.json").read_bytes()


def test_deleted_or_hand_edited_file_is_restored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    _render(capsys, EXAMPLES, out)
    expected = render_all(load_catalog(EXAMPLES))
    deleted = "staging/nightly-batch/aigw.env"
    edited = "prod/eu-contracts/litellm.yaml"
    (out / deleted).unlink()
    # Same size, written at once: only the bytes tell (file times can stay the same).
    text = (out / edited).read_bytes()
    (out / edited).write_bytes(text.replace(b"model_list", b"MODEL_LIST"))
    result = _render(capsys, EXAMPLES, out)
    assert sorted(result["written"]) == sorted([deleted, edited])
    assert result["deployments_unchanged"] == DEPLOYMENTS - 2
    for rel in (deleted, edited):
        assert (out / rel).read_bytes() == expected[rel]


@pytest.mark.parametrize("change", ["template", "version"])
def test_changed_template_or_aigw_version_renders_everything_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        change: str) -> None:
    out = tmp_path / "out"
    _render(capsys, EXAMPLES, out)
    render_manifest.code_digest.cache_clear()
    if change == "version":
        monkeypatch.setattr(aigw, "__version__", aigw.__version__ + ".post1")
    else:
        templates = tmp_path / "templates"
        shutil.copytree(templates_dir(), templates)
        env_template = templates / "aigw.env.j2"
        env_template.write_text(env_template.read_text().replace(
            "never holds a key value", "never holds a key"))
        monkeypatch.setattr(render, "templates_dir", lambda: templates)
        monkeypatch.setattr(render_manifest, "templates_dir", lambda: templates)
    try:
        result = _render(capsys, EXAMPLES, out)
    finally:
        render_manifest.code_digest.cache_clear()
    assert result["deployments_unchanged"] == 0
    if change == "template":
        assert sorted(result["written"]) == sorted(
            rel for rel in render_all(load_catalog(EXAMPLES)) if rel.endswith("/aigw.env"))
        assert b"never holds a key)\n" in (out / "prod/support-bot/aigw.env").read_bytes()
    else:
        assert result["written"] == []  # rendered again, to the same bytes: nothing written


def test_removed_service_files_go_and_the_others_are_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = _catalog(tmp_path)
    out = tmp_path / "out"
    _render(capsys, catalog, out)
    catalog.write_text(catalog.read_text().split("  nightly-batch:")[0])
    result = _render(capsys, catalog, out)
    assert result["deployments"] == result["deployments_unchanged"] == DEPLOYMENTS - 1
    assert result["removed"] and all(r.startswith("staging/nightly-batch/")
                                     for r in result["removed"])
    assert not (out / "staging" / "nightly-batch").exists()
    assert not any("nightly-batch" in rel for rel in render_manifest.read_manifest(out) or ())


def test_a_render_that_stops_half_way_is_redone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest is written last: after a crash, the next render trusts nothing it rewrote."""
    catalog = _catalog(tmp_path)
    out = tmp_path / "out"
    _render(capsys, catalog, out)
    marker = (out / MARKER).read_bytes()
    catalog.write_text(catalog.read_text().replace(
        "defaults: {timeout: 20, retries: 1, cooldown: 30}",
        "defaults: {timeout: 25, retries: 1, cooldown: 30}"))
    writes = []
    real = fsutil.atomic_write

    def crash_on_second(path: str, data: bytes, *args: object, **kwargs: object) -> object:
        writes.append(path)
        if len(writes) == 2:
            raise OSError("killed")
        return real(path, data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(render_sync, "atomic_write", crash_on_second)
    with pytest.raises(OSError, match="killed"):
        render_into(load_catalog(catalog), out)
    assert (out / MARKER).read_bytes() == marker, "the manifest changed before the end"
    monkeypatch.setattr(render_sync, "atomic_write", real)
    result = _render(capsys, catalog, out)
    assert result["deployments_unchanged"] == DEPLOYMENTS - 2
    expected = render_all(load_catalog(catalog))
    assert {rel: (out / rel).read_bytes() for rel in expected} == expected


@pytest.mark.parametrize("edit", ["other size", "same size, as new as the manifest"])
def test_an_edit_that_keeps_the_file_time_is_restored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str) -> None:
    """Editors and tools can keep a file's mtime; file times are also coarse (an edit in
    the same tick as the render keeps it). Size, then bytes, still tell."""
    out = tmp_path / "out"
    _render(capsys, EXAMPLES, out)
    path = out / "prod/eu-contracts/litellm.yaml"
    text, mtime = path.read_bytes(), path.stat().st_mtime_ns
    marker = out / MARKER
    if edit == "other size":  # an older file: nothing but its size shows the edit
        path.write_bytes(text + b"# hand edit\n")
        os.utime(marker, ns=(mtime + 10**9, mtime + 10**9))
    else:  # the manifest written in the same tick as the file: its bytes are compared
        path.write_bytes(text.replace(b"model_list", b"MODEL_LIST"))
        os.utime(marker, ns=(mtime, mtime))
    os.utime(path, ns=(mtime, mtime))
    result = _render(capsys, EXAMPLES, out)
    assert result["written"] == ["prod/eu-contracts/litellm.yaml"]
    assert path.read_bytes() == text
