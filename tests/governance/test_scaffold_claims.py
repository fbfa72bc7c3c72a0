"""What the `aigw init` scaffold tells a new team is true of the scaffold's own catalog.

The waivers' reasons and the README's `keys put` example are prose a team copies;
issue 23 item 7 found a reason that was false ("claude-sonnet already falls back to
OpenAI": it falls back to Bedrock) and a `keys put` that did not fill the slot a
per-service service reads. Each checkable claim is checked against the catalog.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from aigw.catalog import load_catalog
from aigw.slots.put import resolve_target, unread_slot

FILES = Path(__file__).resolve().parents[2] / "cli" / "aigw" / "scaffold" / "files"
DAY = 86400


def _claims() -> list[dict[str, str]]:
    waivers: list[dict[str, str]] = yaml.safe_load((FILES / "policies/waivers.yaml").read_text())
    return waivers


def test_every_checkable_waiver_reason_is_true_of_the_catalog() -> None:
    cat = load_catalog(FILES / "aigw.yaml").catalog
    checked = 0
    for waiver in _claims():
        reason, service = waiver["reason"], waiver.get("service")
        for alias, target in re.findall(r"(\S+) already falls back to (\w+)", reason):
            assert service and alias in cat.services[service].models, waiver
            fallbacks = {r.provider for r in cat.models[alias].routes[1:]}
            assert any(p.startswith(target.lower()) for p in fallbacks), (
                f"{alias} falls back to {sorted(fallbacks)}, not {target}: {reason}")
            checked += 1
        for days in re.findall(r"every (\d+) days", reason):
            provider = cat.providers[waiver["provider"]]
            assert provider.rotation is not None, waiver
            assert provider.rotation.max_age == int(days) * DAY, (waiver, provider.rotation)
            checked += 1
        if "keys shared" in reason:
            assert service and cat.services[service].keys == "shared", waiver
            checked += 1
        if "only EU-resident provider" in reason:
            eu = [name for name, p in cat.providers.items() if p.region == "eu"]
            assert len(eu) == 1 and "Bedrock" in reason and eu[0].startswith("bedrock"), eu
            checked += 1
    assert checked >= 6


def test_the_readmes_keys_put_fills_a_slot_its_service_reads() -> None:
    """In a per-service catalog a bare `keys put PROVIDER` fills the shared slot, not the
    service's own: the example names `PROVIDER/svc-SERVICE`, which that service reads."""
    cat = load_catalog(FILES / "aigw.yaml").catalog
    examples = re.findall(r"aigw keys put (\S+) --env (\S+)", (FILES / "README.md").read_text())
    assert examples
    for slot, env in examples:
        target = resolve_target(cat, env, slot)
        assert unread_slot(cat, target) is None, (slot, env)
        owner = target.ref.slot.removeprefix("svc-")
        assert target.ref.slot.startswith("svc-") and cat.services[owner].keys == "per-service"
        assert owner in target.consumers, (slot, target.consumers)
