"""Which slot a key of a provider's usage report is: by id, by owner, or by redacted hint.

A usage report names keys by id (`api_key_id`). The rotation inventory (each slot's
journal) knows the ids aigw saw: the id a driver minted, the one `aigw keys put
--key-id` was given, the one a rotation identified. What it lacks, the provider's key
listing fills in:

- OpenAI (``GET /v1/organization/projects/{p}/api_keys``): a key's owner; the
  `openai-admin` driver journals the *service account* it minted, and the usage
  report names that account's *key*;
- both providers list a key's redacted hint (OpenAI `redacted_value` `sk-...abcd`,
  Anthropic `partial_key_hint` `sk-ant-api03-R2D...igAA`). A journal keeps only the
  last characters of a key whose id it never learnt (slots.targets.secret_hint): a
  key whose hint matches exactly one such slot is that slot's; one that matches
  several is *ambiguous*, flagged and never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aigw.slots.targets import HINT_CHARS
from aigw.usage.sources import ReportClient

PAGE_SIZE = {"openai": 100, "anthropic": 1000}  # each API's largest page
_MASK = re.compile(r"\.\.\.|…|\*{3,}")


@dataclass(frozen=True)
class ProviderKey:
    """One key as the provider lists it: id, owning service account, redacted hint."""

    key_id: str
    owner_id: str | None
    hint: str


def hint_tail(redacted: str) -> str | None:
    """The last HINT_CHARS characters a redacted hint shows (`sk-ab...wxyz` -> `wxyz`);
    None when it shows fewer, or is no redacted hint."""
    parts = _MASK.split(redacted or "")
    tail = parts[-1] if len(parts) > 1 else ""
    return tail[-HINT_CHARS:] if len(tail) >= HINT_CHARS else None


def _cursor(client: ReportClient, path: str, after_param: str,
            params: dict[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        doc = client.get(path, [*params.items(), *([(after_param, after)] if after else [])])
        data = doc.get("data") or []
        out.extend(d for d in data if isinstance(d, dict))
        after = doc.get("last_id") or (data[-1].get("id") if data else None)
        if not doc.get("has_more") or not data or not after:
            return out


def openai_keys(client: ReportClient, projects: set[str]) -> list[ProviderKey]:
    """The API keys of PROJECTS, with the service account owning each."""
    out = []
    for project in sorted(projects):
        for k in _cursor(client, f"/organization/projects/{project}/api_keys", "after",
                         {"limit": str(PAGE_SIZE["openai"])}):
            acct = ((k.get("owner") or {}).get("service_account") or {}).get("id")
            out.append(ProviderKey(str(k.get("id")), str(acct) if acct else None,
                                   str(k.get("redacted_value") or "")))
    return out


def anthropic_keys(client: ReportClient, projects: set[str]) -> list[ProviderKey]:
    """The organization's API keys (archived ones too: their usage is still reported)."""
    return [ProviderKey(str(k.get("id")), None, str(k.get("partial_key_hint") or ""))
            for k in _cursor(client, "/v1/organizations/api_keys", "after_id",
                             {"limit": str(PAGE_SIZE["anthropic"])})]


LISTERS = {"openai": openai_keys, "anthropic": anthropic_keys}


def resolve(index: Any, provider: str, keys: list[ProviderKey]) -> None:
    """Add to INDEX (report.KeyIndex) the slot of each listed key it does not know yet:
    through the key's owner, else through a hint only one slot's journal kept; a hint
    several slots kept marks the key ambiguous."""
    for key in keys:
        if index.slot_of(provider, key.key_id):
            continue
        owner = index.slot_of(provider, key.owner_id)
        if owner:
            index.slots[(provider, key.key_id)] = owner
            continue
        tail = hint_tail(key.hint)
        slots = sorted(index.hints.get((provider, tail), ())) if tail else []
        if len(slots) == 1:
            index.slots[(provider, key.key_id)] = slots[0]
        elif slots:
            index.ambiguous[(provider, key.key_id)] = tuple(slots)
