"""The world `aigw usage` tests run in: a catalog, the admin stand-ins, an inventory.

testing.openai_admin stands in for OpenAI's organization usage and costs API and
testing.anthropic_admin for Anthropic's Admin usage and cost reports (real HTTP
on 127.0.0.1, paged); the rotation inventory (each slot's journal, with the key
ids recorded when keys were minted) is in a real OpenBao dev server.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import replace
from pathlib import Path

import pytest
from testing.anthropic_admin import AnthropicAdminServer
from testing.bao import BaoDevServer
from testing.openai_admin import OpenAIAdminServer

from aigw.catalog import load_catalog
from aigw.slots.journal import Journal, JournalEntry, KeyRef
from aigw.slots.kv import KV
from aigw.slots.targets import select_targets

OPENAI_ADMIN = "openai-admin-canary-" + secrets.token_hex(6)  # canaries: never printed
ANTHROPIC_ADMIN = "anthropic-admin-canary-" + secrets.token_hex(6)
TODAY = dt.datetime.now(dt.UTC).date()
DAY = TODAY.isoformat()

CATALOG = """\
environments:
  prod: {{mount: {mount}}}
providers:
  openai:
    api: openai
    base_url: {openai}/v1
    region: us
    rotation: {{driver: openai-admin, params: {{project_id: proj_1, admin_base_url: {openai}/v1}}}}
    prices:
      gpt-4o: {{currency: USD, as_of: 2026-11-01, input: "2.50", cache_read: "1.25", output: "10"}}
  anthropic:
    api: anthropic
    base_url: {anthropic}
    region: us
    prices:
      claude-sonnet-4-5: {{currency: USD, as_of: 2026-11-01, input: "3", cache_read: "0.30", cache_write: "3.75", output: "15"}}
  deepseek:
    api: openai
    base_url: https://api.deepseek.com
    region: us
    prices:
      deepseek-chat: {{currency: CNY, as_of: 2026-11-01, input: "2", output: "8"}}
models:
  gpt: {{routes: [{{provider: openai, model: gpt-4o}}]}}
  claude: {{routes: [{{provider: anthropic, model: claude-sonnet-4-5}}]}}
  ds: {{routes: [{{provider: deepseek, model: deepseek-chat}}]}}
services:
  bot:
    environments: [prod]
    models: [gpt, claude]
    keys: per-service
    budget: {{monthly: "{budget}", currency: USD}}
  helper:
    environments: [prod]
    models: [gpt, ds]
    keys: per-service
  batch-a: {{environments: [prod], models: [ds, gpt]}}
  batch-b: {{environments: [prod], models: [ds, gpt]}}
"""


@pytest.fixture
def world(tmp_path: Path, bao: BaoDevServer, vault_mount: str,
          monkeypatch: pytest.MonkeyPatch):
    """The catalog, both stand-ins, and key ids in the inventory; yields a runner."""
    oa = OpenAIAdminServer(OPENAI_ADMIN).start()
    an = AnthropicAdminServer(ANTHROPIC_ADMIN).start()
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)
    monkeypatch.setenv("OPENAI_ADMIN_KEY", OPENAI_ADMIN)
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_ADMIN)

    def write(budget: str = "1000") -> Path:
        (tmp_path / "aigw.yaml").write_text(CATALOG.format(
            mount=vault_mount, openai=oa.url.removesuffix("/v1"), anthropic=an.url,
            budget=budget))
        return tmp_path

    cat = load_catalog(write()).catalog
    kv = KV(bao.client(), vault_mount)
    ids = {("openai", "svc-bot"): "key_bot", ("openai", "svc-helper"): "key_helper",
           ("anthropic", "svc-bot"): "apikey_bot", ("openai", "default"): "key_shared"}
    for t in select_targets(cat, "prod"):
        key_id = ids.get((t.ref.provider, t.ref.slot))
        if key_id:
            now = time.time()
            journal = Journal(kv, t.journal_path, t.id)
            # bot's OpenAI key was rotated twice: the journal's current entry no longer
            # names the first key, an older version of it does.
            if key_id == "key_bot":
                first = journal.save(JournalEntry("run0", "done", "openai-admin", "test", now,
                                                  now, new=KeyRef("key_bot_old", "fp0", 1)),
                                     now)
                second = journal.save(replace(first, run_id="run1", new=KeyRef(
                    "key_bot_mid", "fp1", 2), old=KeyRef("key_bot_old", "fp0", 1)), now)
                journal.save(replace(second, run_id="run2", new=KeyRef(key_id, "fp2", 3),
                                     old=KeyRef("key_bot_mid", "fp1", 2)), now)
                continue
            journal.save(JournalEntry(
                "run1", "done", "openai-admin", "test", now, now, new=KeyRef(key_id, "fp", 1)),
                now)
    yield oa, an, write
    oa.stop()
    an.stop()


def seed(oa: OpenAIAdminServer, an: AnthropicAdminServer, days: int = 3) -> None:
    for i in range(days):
        day = (TODAY - dt.timedelta(days=i)).isoformat()
        # bot: 1M input (200k cached) + 100k output at gpt-4o = 2 + 0.25 + 1 = 3.25 USD
        oa.record_usage(day, "key_bot", "proj_1", "gpt-4o", input_tokens=1_000_000,
                        cached=200_000, output_tokens=100_000)
        # helper: 400k input, 20k output = 1 + 0.2 = 1.20 USD
        oa.record_usage(day, "key_helper", "proj_1", "gpt-4o", input_tokens=400_000,
                        output_tokens=20_000)
        # batch-a and batch-b share openai/default: 100k input, 10k output = 0.35 USD
        oa.record_usage(day, "key_shared", "proj_1", "gpt-4o", input_tokens=100_000,
                        output_tokens=10_000)
        oa.record_cost(day, "proj_1", 4.60)  # the provider says 4.60 (computed: 4.80)
        # bot on Anthropic: 100k uncached, 1M cache read, 10k 5m cache write, 50k output
        # = 0.3 + 0.3 + 0.0375 + 0.75 = 1.3875 USD
        an.record_usage(day, "apikey_bot", "wrkspc_1", "claude-sonnet-4-5", uncached=100_000,
                        cache_read=1_000_000, cache_5m=10_000, output=50_000)
        an.record_cost(day, "wrkspc_1", "138.75")  # cents
