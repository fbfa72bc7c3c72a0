"""`aigw keys`: put, import, list and inspect the key values of slots.

Values come from stdin, a file or a no-echo prompt, never from argv, and never
reach output, logs or errors: they are named by fingerprint (sha256 prefix).
Every write is a KV v2 check-and-set under the slot's rotation lock, refuses
while a rotation of the slot is in progress, and leaves an audit record.
"""

from __future__ import annotations

import difflib
import getpass
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import hvac

from aigw.apis import APIS
from aigw.catalog.models import Catalog
from aigw.catalog.overrides import environment_view
from aigw.catalog.view import environment_slots, used_slots
from aigw.errors import RotationInProgress, UsageError
from aigw.names import EVAL_SLOT, KEY_ENV_PREFIX, KEY_FILE_ENV_PREFIX, key_field_env
from aigw.slots.audit import AuditLog
from aigw.slots.journal import Journal, JournalEntry, KeyRef, new_run_id, transition_event
from aigw.slots.kv import KV
from aigw.slots.lock import SlotLock
from aigw.slots.status import SlotStatus, read_status
from aigw.slots.targets import (
    SlotTarget,
    check_secret,
    parse_slot,
    secret_fingerprint,
    secret_hint,
    select_targets,
)


@dataclass(frozen=True)
class PutResult:
    """What a put did to one slot (no value)."""

    slot: str
    changed: bool
    version: int
    fingerprint: str

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"slot": self.slot, "changed": self.changed, "version": self.version,
                "fingerprint": self.fingerprint}


def parse_secret_text(text: str, fields: Sequence[str], what: str) -> dict[str, str]:
    """Parse a value read from stdin or a file.

    One field: the bare key on one line. Several fields: JSON, `name=value`
    lines, or one value per line in field order.
    """
    text = text.strip()
    if len(fields) == 1:
        if "\n" in text:
            raise UsageError(f"{what}: expected one line holding the key")
        return check_secret({fields[0]: text}, tuple(fields), what)
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise UsageError(f"{what}: not valid JSON") from None
        return check_secret({str(k): str(v) for k, v in data.items()}, tuple(fields), what)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if all("=" in ln for ln in lines):
        pairs = (ln.removeprefix("export ").split("=", 1) for ln in lines)
        return check_secret({k.strip().lower(): v.strip() for k, v in pairs}, tuple(fields),
                            what)
    if len(lines) > len(fields):
        raise UsageError(f"{what}: expected {len(fields)} values (one per line, in the order "
                         f"{', '.join(fields)}), got {len(lines)} lines",
                         hint="or give JSON, or `name=value` lines")
    return check_secret(dict(zip(fields, lines, strict=False)), tuple(fields), what)


class StdinSecretInput:
    """Ask for key values: a no-echo prompt on a terminal, else one line per field on stdin."""

    def __init__(self, stream: TextIO | None = None,
                 prompt: Callable[[str], str] | None = None) -> None:
        self.stream = stream or sys.stdin
        self.prompt = prompt or getpass.getpass

    def __call__(self, prompt: str, fields: Sequence[str]) -> dict[str, str]:
        """One value per field."""
        out = {}
        for name in fields:
            if self.stream.isatty():
                out[name] = self.prompt(f"{prompt} ({name}): ")
            else:
                out[name] = self.stream.readline().strip()
        return check_secret(out, tuple(fields), prompt)


def read_secret(fields: Sequence[str], what: str, *, file: Path | None = None,
                stream: TextIO | None = None) -> dict[str, str]:
    """A value from FILE, else from stdin (no-echo prompt when it is a terminal)."""
    stream = stream or sys.stdin
    if file is not None:
        return parse_secret_text(file.read_text(), fields, what)
    if stream.isatty():
        return StdinSecretInput(stream)(what, fields)
    return parse_secret_text(stream.read(), fields, what)


def resolve_target(cat: Catalog, env: str, slot_text: str) -> SlotTarget:
    """`provider[/slot]` in ENV -> its target (the provider's first slot by default)."""
    provider, slot = parse_slot(slot_text)
    if "/" not in slot_text and provider in cat.providers:
        slot = environment_view(cat, env).providers[provider].slots[0]
    try:
        return select_targets(cat, env, provider, slot)[0]
    except UsageError as exc:
        raise _did_you_mean(exc, cat, env, f"{provider}/{slot}") from None


def _did_you_mean(exc: UsageError, cat: Catalog, env: str, wanted: str) -> UsageError:
    """EXC with a did-you-mean hint: the closest environment, or PROVIDER/SLOT of ENV."""
    import difflib

    if env not in cat.environments:
        wanted, known = env, sorted(cat.environments)
    else:
        known = sorted(f"{r.provider}/{r.slot}" for r in environment_slots(cat, env))
    close = difflib.get_close_matches(wanted, known, n=1, cutoff=0.6)
    if not close:
        return exc
    return UsageError(exc.message, hint=f"did you mean '{close[0]}'?")


def unread_slot(cat: Catalog, target: SlotTarget) -> UsageError | None:
    """The refusal for a put into a slot no deployment of its environment reads, if so.

    Its hint names the read slots closest to the one asked for (same provider
    first), e.g. `prod/mistral/svc-contracts` for `prod/mistral/default`.
    """
    if target.consumers or target.ref.slot == EVAL_SLOT:  # `aigw eval` reads eval slots
        return None
    used = [ref.id for ref in used_slots(cat, target.env_name)]
    same = [u for u in used if u.startswith(f"{target.ref.provider}/")]
    close = difflib.get_close_matches(target.ref.id, used, n=1, cutoff=0.6) or same[:1]
    if close:
        guess = f"did you mean '{close[0]}'? "
    else:
        guess = f"slots read in {target.env_name}: {', '.join(used[:6]) or 'none'}; "
    return UsageError(f"{target.id}: no service in {target.env_name} reads this slot",
                      hint=f"{guess}pass --force to store the key anyway")


def put_key(client: hvac.Client, target: SlotTarget, secret: dict[str, str], *,
            key_id: str | None = None, who: str = "", op: str = "put",
            clock: Callable[[], float] = time.time) -> PutResult:
    """Write SECRET to the slot (CAS), record it in the journal and the audit trail."""
    secret = check_secret(secret, target.fields, target.id)
    kv = KV(client, target.mount)
    run_id = f"{op}-{new_run_id()}"
    with SlotLock(kv, target.lock_path, target.id, run_id, ttl=120.0, clock=clock):
        journal = Journal(kv, target.journal_path, target.id)
        prior = journal.load()
        if prior is not None and prior.in_progress:
            raise RotationInProgress(
                f"{target.id}: a rotation is in progress (run {prior.run_id}, state "
                f"{prior.state})", hint="finish it first: `aigw rotate-keys --resume`")
        fp = secret_fingerprint(secret)
        current = kv.read(target.secret_path)
        old_version = current.version if current is not None else 0
        old_fp = secret_fingerprint(current.data) if current and current.data else None
        old_hint = secret_hint(current.data) if current and current.data else None
        if old_fp == fp:
            return PutResult(target.id, False, old_version, fp)
        version = kv.write(target.secret_path, secret, cas=old_version)
        now = clock()
        entry = JournalEntry(run_id=run_id, state="done", driver=target.rotation.driver,
                             by=who, started_at=now, updated_at=now, op=op,
                             old=KeyRef(None, old_fp, old_version, old_hint),
                             new=KeyRef(key_id, fp, version, secret_hint(secret)),
                             kv_version=prior.kv_version if prior else 0)
        # A put is one recorded transition: (no state) -> done, the record rotation writes.
        event = transition_event(replace(entry, state=""),
                                 replace(entry, old=KeyRef(None, old_fp, old_version or None,
                                                           old_hint)),
                                 slot=target.ref.id, env=target.env_name, who=who, detail=None)
        seq = AuditLog(kv, target.bookkeeping, clock=clock).append(event)
        journal.save(replace(entry, audit_seq=seq), now)
    return PutResult(target.id, True, version, fp)


def parse_dotenv(text: str, where: str = "") -> dict[str, str]:
    """`NAME=value` lines (optional `export `, quotes, `#` comments) -> {NAME: value}.

    WHERE (the file) prefixes an error's line number. An error never quotes the line:
    it may hold a key.
    """
    out = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name.replace("_", "").isalnum():
            raise UsageError(f"{where}:{n}: expected NAME=value" if where
                             else f"line {n}: expected NAME=value",
                             hint="one NAME=value per line (NAME: letters, digits, _); "
                             "the line is not shown, it may hold a key")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].strip()
        out[name] = value
    return out


def import_plan(cat: Catalog, env: str,
                names: Sequence[str]) -> list[tuple[SlotTarget, dict[str, str]]]:
    """Map dotenv NAMES to slots: [(target, {field: NAME})]; unknown AIGW_KEY_* names fail."""
    table: dict[str, tuple[SlotTarget, str]] = {}
    clashes = []
    for target in select_targets(cat, env):
        wanted = {key_field_env(target.ref, f): f
                  for f in APIS[target.provider.api].secret_fields}
        for name, field_ in wanted.items():
            if name in table:
                clashes.append(f"{name} names both {table[name][0].ref.id} and {target.ref.id}")
            table[name] = (target, field_)
    if clashes:
        raise UsageError("ambiguous key names: " + "; ".join(clashes))
    plan: dict[str, tuple[SlotTarget, dict[str, str]]] = {}
    unknown = []
    for name in names:
        if name in table:
            target, field_ = table[name]
            plan.setdefault(target.id, (target, {}))[1][field_] = name
        elif name.startswith(KEY_ENV_PREFIX) and not name.startswith(KEY_FILE_ENV_PREFIX):
            unknown.append(name)
    if unknown:
        raise UsageError(f"no slot in {env} for {', '.join(sorted(unknown))}",
                         hint=f"names are {KEY_ENV_PREFIX}<PROVIDER>_<SLOT> as in aigw.env and "
                         "litellm.yaml")
    for target, fields in plan.values():
        missing = [f for f in target.fields if f not in fields]
        if missing:
            raise UsageError(f"{target.id}: the file lacks {', '.join(missing)}")
    return [plan[k] for k in sorted(plan)]


def load_env_file(file: Path) -> dict[str, str]:
    """The NAME=value pairs of a dotenv FILE (parse errors name the file and line only)."""
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot read it ({type(exc).__name__})") from None
    return parse_dotenv(text, str(file))


def import_values(client: hvac.Client, cat: Catalog, env: str, values: dict[str, str],
                  where: str, *, who: str = "") -> list[PutResult]:
    """Put every key of VALUES (a dotenv file's pairs) into its slot, all names checked first."""
    plan = import_plan(cat, env, list(values))
    if not plan:
        raise UsageError(f"{where}: no {KEY_ENV_PREFIX}* names found")
    return [put_key(client, target, {f: values[n] for f, n in fields.items()}, who=who,
                    op="import")
            for target, fields in plan]


def slot_statuses(client: hvac.Client, cat: Catalog, env: str | None = None,
                  provider: str | None = None, *, read_only: bool = False) -> list[SlotStatus]:
    """The status of every selected slot (READ_ONLY: only slots some deployment reads)."""
    return [read_status(KV(client, t.mount), t)
            for t in select_targets(cat, env, provider, read_only=read_only)]
