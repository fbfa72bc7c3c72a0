"""Key slots as rotation sees them: where each one's value and bookkeeping live.

A `SlotTarget` is one slot in one environment with everything the key commands
need: the catalog settings (driver, max_age, grace, agent_refresh), the services
consuming it, and the KV v2 paths (relative to the environment's mount)::

    <prefix>/providers/<provider>/<slot>          the value services read
    <prefix>/_aigw/journal/<provider>/<slot>      rotation state (no values)
    <prefix>/_aigw/staged/<provider>/<slot>       a minted key before promotion
    <prefix>/_aigw/locks/<provider>/<slot>        who is rotating the slot now
    <prefix>/_aigw/acks/<provider>/<slot>/<svc>   consumer acknowledgements
    <prefix>/_aigw/audit/<seq>                    the hash-chained audit trail

Values are never logged; they are named by fingerprint (aigw.client.keys.fingerprint,
the one the runtime reports).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from aigw import apis
from aigw.catalog.models import Catalog, Environment, Provider, Rotation
from aigw.catalog.overrides import environment_view
from aigw.catalog.view import (
    SlotRef,
    check_scope,
    deployments,
    did_you_mean,
    environment_slots,
)
from aigw.client.keys import fingerprint  # the one definition: the runtime's
from aigw.errors import UsageError
from aigw.names import PER_SERVICE_SLOT_PREFIX, ack_path, bookkeeping_path, slot_path


def secret_fingerprint(data: Mapping[str, object]) -> str:
    """Fingerprint of a slot's data: of `api_key`, else of the AWS secret access key."""
    if "api_key" in data:
        return fingerprint(str(data["api_key"]))
    if "aws_secret_access_key" in data:
        return fingerprint(str(data["aws_secret_access_key"]))
    return fingerprint("\0".join(f"{k}={data[k]}" for k in sorted(data)))


HINT_CHARS = 4  # the last characters of a key every provider's redacted hint shows


def secret_hint(data: Mapping[str, object]) -> str | None:
    """What a journal may keep of an `api_key` to match a provider's redacted hint later
    (`sk-...abcd`, `sk-ant-api03-R2D...igAA`): its last HINT_CHARS characters, never
    more than any provider shows; None for a short key or a slot without `api_key` (an
    AWS access key id is an id, journaled as such)."""
    value = str(data.get("api_key") or "")
    return "..." + value[-HINT_CHARS:] if len(value) >= 5 * HINT_CHARS else None


def secret_fields(api: str) -> tuple[str, ...]:
    """The data fields of a slot of a provider speaking API (docs/architecture.md)."""
    return apis.secret_fields(api)


def check_secret(data: Mapping[str, str], fields: tuple[str, ...], what: str) -> dict[str, str]:
    """Keep exactly FIELDS, each non-empty and on one line; raise UsageError naming WHAT.

    No error quotes a value, nor a name that may be one (see below).
    """
    extra = sorted(set(data) - set(fields))
    if extra:
        # A name is shown only when it is a near miss of a field name: a value pasted in
        # the wrong place (a `name=value` split of a key, a JSON key) is never printed.
        named = [n for n in extra if difflib.get_close_matches(n, fields, n=1, cutoff=0.75)]
        unnamed = len(extra) - len(named)
        parts = named + ([f"{unnamed} not shown (not a field name)"] if unnamed else [])
        raise UsageError(f"{what}: unexpected field(s) {', '.join(parts)}",
                         hint=f"expected {', '.join(fields)}")
    out = {}
    for name in fields:
        value = (data.get(name) or "").strip()
        if not value:
            raise UsageError(f"{what}: no value for {name}")
        if any(c.isspace() for c in value):
            raise UsageError(f"{what}: {name} contains whitespace",
                             hint="a key is one token; check what was pasted")
        out[name] = value
    return out


@dataclass(frozen=True)
class SlotTarget:
    """One key slot in one environment, with its settings and KV v2 paths."""

    env_name: str
    env: Environment
    ref: SlotRef
    provider: Provider
    consumers: tuple[str, ...]
    # A per-service slot's service's Anthropic `workspace` (where its key belongs).
    workspace: str | None = None

    @property
    def id(self) -> str:
        """`prod/openai/default`: environment and slot id, for messages."""
        return f"{self.env_name}/{self.ref.id}"

    @property
    def mount(self) -> str:
        """The KV v2 mount holding the slot."""
        return self.env.mount

    @property
    def rotation(self) -> Rotation:
        """The provider's rotation settings (driver, max_age, grace, params)."""
        return self.provider.rotation

    @property
    def fields(self) -> tuple[str, ...]:
        """The data fields of the slot's value."""
        return secret_fields(self.provider.api)

    @property
    def secret_path(self) -> str:
        """Where services read the current value (relative to the mount)."""
        return slot_path(self.env_name, self.env, self.ref)

    @property
    def bookkeeping(self) -> str:
        """The `_aigw` folder of the slot's environment (readable by no service)."""
        return bookkeeping_path(self.env_name, self.env)

    def _aigw(self, kind: str) -> str:
        return f"{self.bookkeeping}/{kind}/{self.ref.provider}/{self.ref.slot}"

    @property
    def journal_path(self) -> str:
        """The rotation journal of the slot."""
        return self._aigw("journal")

    @property
    def staged_path(self) -> str:
        """Where a minted key waits, unread by services, until it is verified and promoted."""
        return self._aigw("staged")

    @property
    def lock_path(self) -> str:
        """The slot's rotation lock."""
        return self._aigw("locks")

    @property
    def acks_path(self) -> str:
        """The folder of consumer acknowledgements (`<service>` entries)."""
        return ack_path(self.env_name, self.env, self.ref, "").rstrip("/")

    def label_prefix(self, run_id: str) -> str:
        """The name prefix of provider keys minted by run RUN_ID (to find unrecorded ones)."""
        return f"aigw-{self.env_name}-{self.ref.provider}-{self.ref.slot}-{run_id}-"

    @property
    def grace_floor(self) -> int:
        """The shortest allowed grace: one refresh interval of the environment's agents."""
        return int(self.env.agent_refresh)


def consumers_of(cat: Catalog, env_name: str, ref: SlotRef) -> tuple[str, ...]:
    """Services whose routes in ENV_NAME use the slot REF."""
    return tuple(d.service for d in deployments(cat, env=env_name) if ref in d.slots)


def parse_slot(text: str) -> tuple[str, str]:
    """`openai/batch` -> (openai, batch); `openai` -> (openai, default)."""
    provider, _, slot = text.partition("/")
    if not provider or "/" in slot:
        raise UsageError(f"bad slot {text!r}", hint="write PROVIDER or PROVIDER/SLOT")
    return provider, slot or "default"


def select_targets(cat: Catalog, env: str | None = None, provider: str | None = None,
                   slot: str | None = None, *, read_only: bool = False) -> list[SlotTarget]:
    """The slots of the catalog, sorted, optionally narrowed; unknown names are UsageErrors.

    READ_ONLY leaves out the slots no deployment of their environment reads (a
    provider's declared slot no route of that environment uses): `keys list` and
    `rotate-keys` do not show or rotate a key nobody uses, as `keys put` refuses one.
    """
    check_scope(cat, env)
    if provider is not None and provider not in cat.providers:
        raise UsageError(f"unknown provider '{provider}'", did_you_mean(provider, cat.providers))
    out = []
    for env_name in sorted(cat.environments) if env is None else [env]:
        for ref in environment_slots(cat, env_name):
            if (provider is None or ref.provider == provider) and (slot is None or ref.slot == slot):
                readers = consumers_of(cat, env_name, ref)
                if readers or not read_only:
                    view = environment_view(cat, env_name)
                    owner = view.services.get(ref.slot.removeprefix(PER_SERVICE_SLOT_PREFIX)) \
                        if ref.slot.startswith(PER_SERVICE_SLOT_PREFIX) else None
                    out.append(SlotTarget(env_name, cat.environments[env_name], ref,
                                          view.providers[ref.provider], readers,
                                          owner.workspace if owner is not None else None))
    if slot is not None and not out:
        unread = " that a service reads" if read_only else ""
        raise UsageError(f"no slot {provider or '*'}/{slot}{unread} in "
                         f"{env or 'any environment'}", hint="see `aigw keys list`")
    return out
