"""Keys ready before a config is published: which deployments `aigw apply` holds.

A deployment's published `aigw-client.json` reaches its running service within
seconds (docs/live-config.md), so `apply` must never publish one whose routes
read a slot that has no current value, or a slot the deployment's policy (the
one apply leaves in OpenBao) does not grant `read` on: every route would end in
`no_key`. `check_environment` reads OpenBao (slot metadata, never a value, and
the live configs) and says, per deployment, what its new config would read that
is not there; `hold` turns an environment's desired spec into one where each
held deployment keeps its live config, its live policy and the slots that policy
reads, while the rest of the environment applies.

The contract (docs/safe-changes.md, docs/json.md), defined here once:

- a deployment is **held** when a config of it is already published, the
  catalog changes it, and its new config reads an empty or unreadable slot;
- a deployment never published before is never held (nothing runs it yet): it
  is published with a warning naming the empty slots;
- `apply` exits 1 (`EXIT_CHANGES`) when it held a deployment; `plan` counts a
  held deployment as a pending change; `--allow-empty-slots` publishes anyway
  and leaves an audit record per deployment it let through;
- `DeploymentReadiness.as_dict()` is the JSON of one deployment, in `plan --json`,
  `apply --json` and `diff --json` alike.
"""

from __future__ import annotations

import functools
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import hvac

from aigw.catalog.models import Catalog
from aigw.catalog.view import SlotRef, deployments
from aigw.names import CONFIG_FIELD, bookkeeping_path, slot_path
from aigw.slots.audit import AuditLog
from aigw.slots.kv import KV
from aigw.slots.lock import who_am_i
from aigw.stack.listing import MetadataIndex, holds_value, published_revision
from aigw.stack.spec import ConfigSpec, EnvSpec, PolicySpec, secret_path, slot_spec
from aigw.vault import vault_errors

_PATH_BLOCK = re.compile(r'path\s+"([^"]+)"\s*\{([^}]*)\}', re.S)


@dataclass(frozen=True)
class DeploymentReadiness:
    """What one deployment's new config would read, against OpenBao now."""

    service: str
    environment: str
    live_revision: str | None  # the published config's revision (None: never published)
    new_revision: str
    empty: tuple[str, ...] = ()  # slot ids with no current value
    unreadable: tuple[str, ...] = ()  # slot ids its policy would not grant read on
    agent_changed: bool = False  # the key files its agent writes change: restart it
    allowed: bool = False  # --allow-empty-slots let it through

    @property
    def changes(self) -> bool:
        """True when the catalog changes the deployment's published config."""
        return self.live_revision != self.new_revision

    @property
    def blocked(self) -> bool:
        """True when the new config reads a slot that is empty or unreadable."""
        return bool(self.empty or self.unreadable) and self.changes

    @property
    def held(self) -> bool:
        """True when apply keeps the deployment's live config, policy and slots."""
        return self.blocked and self.live_revision is not None and not self.allowed

    @property
    def label(self) -> str:
        """`web-app in staging`."""
        return f"{self.service} in {self.environment}"

    def fill_commands(self) -> list[str]:
        """The commands that fill the empty slots (values from stdin, never argv)."""
        return [f"aigw keys put {slot} --env {self.environment}" for slot in self.empty]

    def lines(self, *, ahead: bool) -> list[str]:
        """One line about the deployment (plus the agent restart note), for people.

        AHEAD: said by plan or diff, before apply ("would be read").
        """
        out = []
        if self.blocked:
            reasons = "; ".join(r for r in (
                _slots(self.empty, "is empty", "are empty"),
                _slots(self.unreadable, "is not readable by its policy",
                       "are not readable by its policy")) if r)
            what = (f"{reasons} and would be read by {self.label}" if ahead
                    else f"{self.label}: {reasons}")
            fill = "; ".join(f"`{c}`" for c in self.fill_commands()) or \
                "grant it in policies/vault/service.hcl.j2"
            if self.allowed:
                verdict = "published anyway (--allow-empty-slots, audited)"
            elif self.live_revision is None:
                verdict = "first config: published, its service gets no_key until filled"
            else:
                verdict = (f"{'apply will hold' if ahead else 'held'}: keeps revision "
                           f"{self.live_revision}, its policy, role and slots")
            out.append(f"{what}: {verdict}; fill: {fill}, then rerun `aigw apply`")
        if self.agent_changed and not self.held:
            out.append(f"{self.label}: the key files its agent writes change: restart the "
                       f"agent of {self.service} (re-render it first; the live "
                       "aigw-client.json needs no restart)")
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON of one deployment (docs/json.md `readiness`)."""
        return {"service": self.service, "environment": self.environment,
                "live_revision": self.live_revision, "new_revision": self.new_revision,
                "empty_slots": list(self.empty), "unreadable_slots": list(self.unreadable),
                "held": self.held, "allowed": self.allowed,
                "agent_restart": self.agent_changed, "fill": self.fill_commands()}


def _slots(ids: tuple[str, ...], one: str, many: str) -> str:
    """`slot a/b is empty`, `slots a/b, c/d are empty`, or "" for none."""
    if not ids:
        return ""
    return f"slot {ids[0]} {one}" if len(ids) == 1 else f"slots {', '.join(ids)} {many}"


def _path_regex(pattern: str) -> re.Pattern[str] | str:
    """An ACL path as OpenBao matches it: `+` is one segment, a trailing `*` any suffix
    (a path with neither stays a string, compared as is: most are, and compiling each
    service's own paths took most of a 1,000-service plan's CPU)."""
    if "+" not in pattern and not pattern.endswith("*"):
        return pattern
    body = pattern[:-1] if pattern.endswith("*") else pattern
    text = "[^/]+".join(re.escape(part) for part in body.split("+"))
    return re.compile(text + (".*" if pattern.endswith("*") else ""))


@functools.lru_cache(maxsize=8192)  # one per service policy: 256 thrashed at 1,000 services
def _rules(policy_text: str) -> tuple[tuple[re.Pattern[str] | str, str], ...]:
    """A policy's path blocks, parsed once: (path regex, capabilities text)."""
    out = []
    for pattern, body in _PATH_BLOCK.findall(policy_text):
        caps = re.search(r"capabilities\s*=\s*\[([^\]]*)\]", body)
        if caps is not None:
            out.append((_path_regex(pattern), caps.group(1)))
    return tuple(out)


def grants_read(policy_text: str, path: str) -> bool:
    """Whether an ACL policy's text grants `read` on PATH (and does not deny it)."""
    granted = False
    for regex, caps in _rules(policy_text):
        if not (regex == path if isinstance(regex, str) else regex.fullmatch(path)):
            continue
        if '"deny"' in caps:
            return False
        granted = granted or '"read"' in caps
    return granted


def has_value(kv: KV, path: str) -> bool:
    """True when the KV v2 entry's current version holds data (read from metadata only)."""
    return holds_value(kv.metadata(path) or None)


def _live_config(kv: KV, path: str) -> tuple[str, dict[str, Any]] | None:
    """The published aigw-client.json of a deployment (text, parsed); None when absent."""
    entry = kv.read(path)
    if entry is None or not entry.data:
        return None
    text = str(entry.data.get(CONFIG_FIELD, ""))
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return (text, doc) if isinstance(doc, dict) else None


def _published(kv: KV, index: MetadataIndex, cfg: ConfigSpec,
               ) -> tuple[str, dict[str, Any]] | None:
    """CFG's deployment's live config; not read when the listed metadata vouches that it
    is CFG's own revision (then it is CFG's text: the revision is a digest of the rest)."""
    if index.knows(cfg.path):
        meta = index.meta(cfg.path)
        if meta is None:
            return None
        if published_revision(meta) == cfg.revision:
            doc = json.loads(cfg.text)
            return (cfg.text, doc) if isinstance(doc, dict) else None
    return _live_config(kv, cfg.path)


def config_slots(doc: dict[str, Any]) -> set[SlotRef]:
    """The slots a config's routes read."""
    return {SlotRef(str(r.get("provider")), str(r.get("slot")))
            for alias in (doc.get("aliases") or {}).values() if isinstance(alias, dict)
            for r in alias.get("routes") or [] if isinstance(r, dict)}


@dataclass(frozen=True)
class EnvReadiness:
    """The readiness of every deployment of one environment that publishes a config."""

    environment: str
    deployments: tuple[DeploymentReadiness, ...]
    # service -> its live config (text, parsed), of the deployments whose config changes
    live: dict[str, tuple[str, dict[str, Any]]]

    @property
    def held(self) -> list[DeploymentReadiness]:
        """The deployments apply holds."""
        return [d for d in self.deployments if d.held]

    def lines(self, *, ahead: bool) -> list[str]:
        """Every line for people, deployment by deployment."""
        return [line for d in self.deployments for line in d.lines(ahead=ahead)]


# Concurrent reads of the check (slot metadata and live configs): one HTTP round trip
# each, so a catalog of hundreds of deployments waits on OpenBao, not on the CPU.
READERS = 8


def check_environment(cat: Catalog, spec: EnvSpec, client: hvac.Client, *,
                      allow_empty: bool = False) -> EnvReadiness:
    """Read OpenBao and judge each deployment of SPEC that publishes a config."""
    env_name = spec.environment
    env = cat.environments[env_name]
    kv = KV(client, env.mount)
    deps = {d.service: d for d in deployments(cat, env=env_name)}
    policies = {p.service: p for p in spec.policies}
    refs = sorted({ref for cfg in spec.configs for ref in deps[cfg.service].slots})
    paths = {ref: slot_path(env_name, env, ref) for ref in refs}
    index = MetadataIndex.load(client, env, [*paths.values(), *(c.path for c in spec.configs)])
    with vault_errors(str(client.url)), ThreadPoolExecutor(READERS) as pool:
        filled = dict(zip(refs, pool.map(
            lambda ref: holds_value(index.meta(paths[ref])) if index.knows(paths[ref])
            else has_value(kv, paths[ref]), refs), strict=True))
        found = dict(zip([c.service for c in spec.configs], pool.map(
            lambda cfg: _published(kv, index, cfg), spec.configs), strict=True))
    out, live = [], {}
    for cfg in spec.configs:
        dep = deps[cfg.service]
        entry = found[cfg.service]
        doc = entry[1] if entry is not None else None
        old_revision = str(doc.get("revision")) if doc is not None else None
        if entry is not None and old_revision != cfg.revision:
            live[cfg.service] = entry  # what a hold keeps (1,000 parsed configs otherwise)
        empty = [ref.id for ref in dep.slots if not filled[ref]]
        unreadable = [ref.id for ref in dep.slots if not grants_read(
            policies[cfg.service].text, secret_path(cat, env_name, ref))]
        agent = doc is not None and (config_slots(doc) != set(dep.slots)
                                     or doc.get("key_dir") != dep.key_dir)
        out.append(DeploymentReadiness(
            cfg.service, env_name, old_revision, cfg.revision, tuple(empty),
            tuple(unreadable), agent, allowed=allow_empty))
    return EnvReadiness(env_name, tuple(out), live)


def _live_policy(client: hvac.Client, name: str) -> str | None:
    with vault_errors(str(client.url)):
        found = client.read(f"sys/policies/acl/{name}")
    return str(found["data"]["policy"]) if found else None


def hold(cat: Catalog, spec: EnvSpec, readiness: EnvReadiness,
         client: hvac.Client) -> EnvSpec:
    """SPEC with each held deployment kept as OpenBao has it: live config and policy text,
    and the slot entries that config reads (declared again if the catalog dropped them)."""
    held = {d.service for d in readiness.held}
    if not held:
        return spec
    configs = tuple(replace(c, text=readiness.live[c.service][0],
                            revision=str(readiness.live[c.service][1].get("revision")))
                    if c.service in held else c for c in spec.configs)
    policies = tuple(_kept_policy(p, client) if p.service in held else p
                     for p in spec.policies)
    slots = list(spec.slots)
    declared = {(s.mount, s.path) for s in slots}
    for service in sorted(held):
        for ref in sorted(config_slots(readiness.live[service][1])):
            if ref.provider not in cat.providers:
                continue
            slot = slot_spec(cat, spec.environment, ref)
            if (slot.mount, slot.path) not in declared:
                declared.add((slot.mount, slot.path))
                slots.append(slot)
    return replace(spec, configs=configs, policies=policies, slots=tuple(slots))


def _kept_policy(policy: PolicySpec, client: hvac.Client) -> PolicySpec:
    text = _live_policy(client, policy.name)
    return policy if text is None else replace(policy, text=text)

def audit_overrides(cat: Catalog, readiness: EnvReadiness, client: hvac.Client) -> list[int]:
    """Audit records of what `--allow-empty-slots` published: one per empty or unreadable
    slot of each deployment it let through (who, the deployment, its revisions); their
    sequence numbers. `aigw audit` lists them with the key operations."""
    let_through = [d for d in readiness.deployments if d.allowed and d.blocked]
    if not let_through:
        return []
    env = cat.environments[readiness.environment]
    log = AuditLog(KV(client, env.mount), bookkeeping_path(readiness.environment, env))
    who = who_am_i(client)
    with vault_errors(str(client.url)):
        return [log.append({
            "action": "allow-empty-slots", "env": d.environment, "slot": slot,
            "from_state": state, "to_state": "published", "who": who,
            "detail": {"service": d.service, "from_revision": d.live_revision,
                       "to_revision": d.new_revision}})
            for d in let_through
            for state, slots in (("empty", d.empty), ("unreadable", d.unreadable))
            for slot in slots]
