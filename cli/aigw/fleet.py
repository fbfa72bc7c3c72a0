"""The fleet view (`aigw status`): what each consumer reports it runs, and how long ago.

Per environment and service: for every key slot the service uses, the fingerprint
of the key in the slot now and the one each live instance of the service last
used successfully (its acknowledgement, written by aigw.client.acks), the config
revision each instance runs against the one the catalog renders, and the age of
each report. What a gateway would show about its traffic, from the consumers
themselves. Reads slot values only to fingerprint them; the values go nowhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import hvac

from aigw.catalog.models import Catalog
from aigw.catalog.view import deployments
from aigw.client.ackdoc import acknowledges, live_instances
from aigw.errors import UsageError
from aigw.names import ack_path, slot_path
from aigw.slots.kv import KV
from aigw.slots.targets import secret_fingerprint


@dataclass
class SlotReport:
    """One slot of one service: the current key and what each instance reports."""

    provider: str
    slot: str
    fingerprint: str | None           # the key in the slot now
    instances: list[dict[str, Any]] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        """Every live instance reports the current key."""
        return bool(self.instances) and all(i["current_key"] for i in self.instances)


@dataclass
class ServiceReport:
    """One deployment (service in an environment)."""

    env: str
    service: str
    revision: str | None              # what `aigw render` / `aigw apply` publish now
    slots: list[SlotReport] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (fingerprints, revisions and times; never a value)."""
        return {"env": self.env, "service": self.service, "revision": self.revision,
                "slots": [{"provider": s.provider, "slot": s.slot,
                           "fingerprint": s.fingerprint, "acknowledged": s.acknowledged,
                           "instances": s.instances} for s in self.slots]}


def _expected_revisions(cat: Catalog, env: str | None) -> dict[tuple[str, str], str]:
    from aigw.client_config import REVISION_FIELD, ClientConfigs, publishes_config

    configs = ClientConfigs()
    out = {}
    for dep in deployments(cat, env=env):
        if publishes_config(cat, dep):
            out[(dep.environment, dep.service)] = str(configs.document(dep)[REVISION_FIELD])
    return out


def fleet_status(cat: Catalog, client: hvac.Client, env: str | None = None,
                 service: str | None = None, *, now: float | None = None) -> list[ServiceReport]:
    """What every consumer in scope reports (sorted by environment and service)."""
    if env is not None and env not in cat.environments:
        raise UsageError(f"unknown environment {env!r}",
                         hint=f"one of {', '.join(sorted(cat.environments)) or '(none)'}")
    if service is not None and service not in cat.services:
        raise UsageError(f"unknown service {service!r}", hint="see `services:` in the catalog")
    now = time.time() if now is None else now
    return _collect(cat, client, env, service, now)  # OpenBao unreachable: exit 3, as everywhere


def _collect(cat: Catalog, client: hvac.Client, env: str | None, service: str | None,
             now: float) -> list[ServiceReport]:
    revisions = _expected_revisions(cat, env)
    fingerprints: dict[tuple[str, str, str], str | None] = {}
    out = []
    for dep in sorted(deployments(cat, env=env, service=service),
                      key=lambda d: (d.environment, d.service)):
        kv = KV(client, dep.env.mount)
        rep = ServiceReport(dep.environment, dep.service,
                            revisions.get((dep.environment, dep.service)))
        for ref in sorted(dep.slots, key=lambda r: (r.provider, r.slot)):
            where = (dep.environment, ref.provider, ref.slot)
            if where not in fingerprints:
                cur = kv.read(slot_path(dep.environment, dep.env, ref))
                fingerprints[where] = secret_fingerprint(cur.data) if cur and cur.data else None
            fp = fingerprints[where]
            entry = kv.read(ack_path(dep.environment, dep.env, ref, dep.service),
                            metadata_fallback=False)
            slot = SlotReport(ref.provider, ref.slot, fp)
            for name, inst in sorted(live_instances(entry.data if entry else None, now).items()):
                at = inst.get("at")
                rev = str(inst.get("revision") or "")
                slot.instances.append({
                    "instance": name or None,
                    "fingerprint": inst.get("fingerprint") or inst.get("loaded") or None,
                    "loaded": inst.get("loaded") or None,
                    "current_key": acknowledges(inst, fp),
                    "revision": rev or None,
                    "current_revision": bool(rev) and rev == rep.revision,
                    "at": _iso(float(at)) if at else None,
                    "age_seconds": round(now - float(at), 1) if at else None})
            rep.slots.append(slot)
        out.append(rep)
    return out


def _iso(ts: float) -> str:
    from aigw.slots.audit import iso

    return iso(ts)
