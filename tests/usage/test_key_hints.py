"""`aigw usage` maps a provider's key back to its slot where the inventory lacks its id.

Keys are put with `aigw keys put` without `--key-id` (the journal keeps only the
key's last characters), or minted as OpenAI service accounts (the journal names the
account; the usage report names the account's key). The usage report's key ids are
then resolved through the providers' key listings: testing.openai_admin and
testing.anthropic_admin stand in for them (real HTTP on 127.0.0.1); the inventory
is in a real OpenBao dev server.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest

from aigw.catalog import load_catalog
from aigw.slots.journal import Journal, JournalEntry, KeyRef
from aigw.slots.kv import KV
from aigw.slots.targets import select_targets
from aigw.usage.keys import PAGE_SIZE
from tests.helpers import run_cli
from tests.usage.conftest import ANTHROPIC_ADMIN, DAY, OPENAI_ADMIN


def _put(capsys: pytest.CaptureFixture[str], folder: Path, slot: str, value: str) -> None:
    """`aigw keys put SLOT --env prod --file F` (no --key-id: the provider id is unknown)."""
    f = folder / f"{slot.replace('/', '-')}.key"
    f.write_text(value)
    f.chmod(0o600)
    got = run_cli(capsys, "keys", "put", slot, "--env", "prod", str(folder), "--file", str(f))
    assert got.code == 0, got.err
    f.unlink()


def test_a_put_key_is_found_by_its_redacted_hint(world, bao, vault_mount, capsys, monkeypatch):
    """Anthropic lists `partial_key_hint`; the journal kept the put key's last characters.
    The listing is read page by page (one key a page here)."""
    oa, an, write = world
    folder = write()
    monkeypatch.setitem(PAGE_SIZE, "anthropic", 1)
    key_id, value = an.create_key("bot's pasted key", "wrkspc_1")
    for i in range(3):  # newer: listed first
        an.create_key(f"other key {i}")
    _put(capsys, folder, "anthropic/svc-bot", value)
    (target,) = [t for t in select_targets(load_catalog(folder).catalog, "prod")
                 if t.ref.id == "anthropic/svc-bot"]
    journal = KV(bao.client(), vault_mount).read(target.journal_path)
    assert journal is not None and journal.data["new"]["hint"] == "..." + value[-4:]
    assert value[-5:] not in json.dumps(journal.data)  # no more than the last 4 characters
    an.record_usage(DAY, key_id, "wrkspc_1", "claude-sonnet-4-5", uncached=1_000_000, output=0)
    got = run_cli(capsys, "usage", str(folder), "--since", "1d", "--json")
    doc = json.loads(got.out)
    assert {r["service"]: r["amount"] for r in doc["rows"]} == {"bot": "3.00"}
    assert doc["ambiguous_keys"] == []
    text = run_cli(capsys, "usage", str(folder), "--since", "1d")
    for out in (got.out, got.err, text.out, text.err):
        assert value not in out and value[:20] not in out


def test_one_hint_of_two_slots_is_flagged_never_guessed(world, capsys):
    """Two slots' keys end alike: the key with that hint is charged to neither."""
    oa, an, write = world
    folder = write()
    tail = "Zq7w"
    a = "sk-proj-" + secrets.token_urlsafe(24) + tail
    b = "sk-proj-" + secrets.token_urlsafe(24) + tail
    _put(capsys, folder, "openai/svc-helper", a)
    _put(capsys, folder, "openai/default", b)
    key_a, _ = oa.add_user_key("proj_1", a)
    oa.record_usage(DAY, key_a, "proj_1", "gpt-4o", input_tokens=400_000, output_tokens=0)
    got = run_cli(capsys, "usage", str(folder), "--since", "1d", "--json")
    doc = json.loads(got.out)
    assert {r["service"]: r["amount"] for r in doc["rows"]} == {"(ambiguous key)": "1.00"}
    assert doc["ambiguous_keys"] == [{"provider": "openai", "key_id": key_a,
                                      "slots": ["default", "svc-helper"]}]
    text = run_cli(capsys, "usage", str(folder), "--since", "1d").out
    md = run_cli(capsys, "usage", str(folder), "--since", "1d", "--format", "markdown").out
    line = f"openai key {key_a}: ambiguous key, its hint matches slots default, svc-helper"
    assert line in text and line in md
    for out in (got.out, got.err, text, md):
        assert a not in out and b not in out and tail not in out  # nor the hint
        assert OPENAI_ADMIN not in out and ANTHROPIC_ADMIN not in out


def test_a_minted_service_account_key_is_found_through_its_owner(world, bao, vault_mount,
                                                                 capsys, monkeypatch):
    """The openai-admin driver journals the service account; usage names its key. The
    project's key listing is read page by page (one key a page here)."""
    oa, an, write = world
    folder = write()
    monkeypatch.setitem(PAGE_SIZE, "openai", 1)
    for _ in range(3):
        oa.add_user_key("proj_1")
    acct, _value = oa.create_account("proj_1", "aigw-prod-openai-svc-helper-r1-1")
    (key,) = [k for k in oa.live_keys("proj_1") if k.account_id == acct]
    (target,) = [t for t in select_targets(load_catalog(folder).catalog, "prod")
                 if t.ref.id == "openai/svc-helper"]
    journal = Journal(KV(bao.client(), vault_mount), target.journal_path, target.id)
    prior = journal.load()
    now = time.time()
    journal.save(JournalEntry("r1", "done", "openai-admin", "test", now, now,
                              new=KeyRef(acct, "fp-new", 2),
                              kv_version=prior.kv_version if prior else 0), now)
    oa.record_usage(DAY, key.key_id, "proj_1", "gpt-4o", input_tokens=400_000, output_tokens=0)
    doc = json.loads(run_cli(capsys, "usage", str(folder), "--since", "1d", "--json").out)
    assert {r["service"]: r["amount"] for r in doc["rows"]} == {"helper": "1.00"}


def test_an_unknown_key_stays_unknown(world, capsys: pytest.CaptureFixture[str]):
    """A key no journal knows, by id, owner or hint, is not attributed."""
    oa, an, write = world
    key_id, _ = oa.add_user_key("proj_1")
    oa.record_usage(DAY, key_id, "proj_1", "gpt-4o", input_tokens=400_000, output_tokens=0)
    doc = json.loads(run_cli(capsys, "usage", str(write()), "--since", "1d", "--json").out)
    assert {r["service"] for r in doc["rows"]} == {"(unknown key)"}
