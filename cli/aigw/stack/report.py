"""Turn engine events into what a reviewer reads: changes per resource, policy text diffs.

`EventLog` is the `on_event` callback of a preview/up/destroy (the engine calls
it from several threads). `Change` is one create/update/delete/replace of an
aigw resource with its old and new inputs; `format_plan` prints a readable
summary; `Progress` prints one line per finished operation with a count.
"""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK is not imported by a plan answered without the engine
    from pulumi.automation import EngineEvent

TYPE_PREFIX = "pulumi-python:dynamic/aigw:"
KINDS = {"KvMount": "mount", "AuthBackend": "auth", "KvSlot": "slot", "Policy": "policy",
         "AuthRole": "role", "ClientConfig": "config", "AuthMethodConfig": "authconfig",
         "ProviderLimit": "limit"}
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "+-"}
# Shared objects whose provider `delete` keeps them in OpenBao (providers.py says why):
# the mount holds every environment's key values, the auth method their roles.
KEPT_ON_DELETE = ("mount", "auth")
# pulumi.automation.OpType values (a str enum, compared by value: see `_op`).
_OPS = {"create": "create", "update": "update", "delete": "delete", "replace": "replace"}
_NOT_STEPS = ("refresh", "read")  # reads of a refresh, not operations of the run
_HIDDEN = ("__provider", "addr", "original", "project_id", "rate_limit_id", "services",
           "admin_base_url", "admin_key_env")


@dataclass(frozen=True)
class Change:
    """One pending or finished operation on an aigw resource."""

    op: str  # create, update, delete, replace
    kind: str  # mount, auth, slot, policy, role, config
    urn: str
    old: Mapping[str, Any] = field(default_factory=dict)  # live/state values (update, delete)
    new: Mapping[str, Any] = field(default_factory=dict)  # desired inputs (create, update)

    @property
    def target(self) -> str:
        """The object in OpenBao terms: `aigw/`, `auth/approle/`, a slot path, a policy name."""
        p = self.new or self.old
        if self.kind == "mount":
            return f"{p.get('path')}/"
        if self.kind == "auth":
            return f"auth/{p.get('path')}/"
        if self.kind in ("slot", "config"):
            return f"{p.get('mount')}/{p.get('path')}"
        if self.kind == "role":
            return f"auth/{p.get('mount')}/role/{p.get('name')}"
        if self.kind == "limit":
            where = "workspace" if p.get("scope_kind") == "workspace" else "project"
            return f"{p.get('provider')}/{p.get('model')} ({where} {p.get('scope')})"
        return str(p.get("name", self.urn.rsplit("::", 1)[-1]))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: op, kind, target and the detail lines (never the inputs themselves)."""
        return {"op": self.op, "kind": self.kind, "target": self.target,
                "detail": self.detail()}

    def detail(self) -> list[str]:
        """What changes in an update: a unified diff of policy text, else field by field."""
        if self.kind == "config":
            return [config_line(self.old, self.new, self.op)]
        if self.op not in ("update", "replace"):
            return []
        if self.kind == "policy":
            old, new = str(self.old.get("policy", "")), str(self.new.get("policy", ""))
            return [ln.rstrip("\n") for ln in difflib.unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                "openbao", "catalog", n=1)]
        old_flat, new_flat = _flatten(self.old), _flatten(self.new)
        return [f"{k}: {old_flat.get(k, '(unset)')} -> {new_flat.get(k, '(unset)')}"
                for k in sorted(set(old_flat) | set(new_flat))
                if old_flat.get(k) != new_flat.get(k)]


def config_line(old: Mapping[str, Any], new: Mapping[str, Any], op: str) -> str:
    """`config of support-bot (prod): revision 3f2a... -> 9c1d...` (the text itself is not shown)."""
    p = new or old
    label = f"config of {p.get('service')} ({p.get('environment')})"
    if op == "create":
        return f"{label}: revision {new.get('revision')} (new)"
    if op == "delete":
        return f"{label}: revision {old.get('revision')} removed"
    line = f"{label}: revision {old.get('revision', '(unknown)')} -> {new.get('revision')}"
    what = config_summary(old.get("text"), new.get("text"))
    return f"{line} ({what})" if what else line


def _routes(doc: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    aliases = doc.get("aliases") if isinstance(doc.get("aliases"), Mapping) else {}
    return {str(name): [r for r in (a.get("routes") or []) if isinstance(r, Mapping)]
            for name, a in (aliases or {}).items() if isinstance(a, Mapping)}


def _route_id(route: Mapping[str, Any]) -> str:
    return f"{route.get('provider')}/{route.get('model')}"


def config_summary(old_text: Any, new_text: Any) -> str:
    """What a config change does, in a few words: aliases added or removed, and per changed
    alias its routes (`chat: routes alpha/m1, beta/m2 -> beta/m2`) or the fields that moved.

    Empty when either text is missing or not JSON (the revisions still say it changed).
    """
    try:
        old, new = json.loads(str(old_text)), json.loads(str(new_text))
    except ValueError:
        return ""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return ""
    before, after = _routes(old), _routes(new)
    parts = [f"+alias {a}" for a in sorted(set(after) - set(before))]
    parts += [f"-alias {a}" for a in sorted(set(before) - set(after))]
    for alias in sorted(set(before) & set(after)):
        a, b = before[alias], after[alias]
        if [_route_id(r) for r in a] != [_route_id(r) for r in b]:
            parts.append(f"{alias}: routes {', '.join(map(_route_id, a))} -> "
                         f"{', '.join(map(_route_id, b))}")
            continue
        for r_old, r_new in zip(a, b, strict=True):
            moved = sorted(k for k in set(r_old) | set(r_new) if r_old.get(k) != r_new.get(k))
            if moved:
                parts.append(f"{alias}: route {_route_id(r_new)} {', '.join(moved)} changed")
    skip = {"aliases", "revision"}
    parts += [f"{k} changed" for k in sorted(set(old) | set(new))
              if k not in skip and old.get(k) != new.get(k)]
    return "; ".join(parts)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        if key in _HIDDEN:
            continue
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, float) and value.is_integer():
            out[f"{prefix}{key}"] = str(int(value))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = "[" + ", ".join(sorted(map(str, value))) + "]"
        else:
            out[f"{prefix}{key}"] = str(value)
    return out


def _op(op: Any) -> str:
    """An OpType as its value (`create`...): the enum hashes by name, not by value."""
    return str(getattr(op, "value", op))


def kind_of(resource_type: str) -> str:
    """The word a reviewer reads for a resource type (never the engine's type token)."""
    name = resource_type.removeprefix(TYPE_PREFIX)
    return KINDS.get(name) or name.rsplit(":", 1)[-1].rsplit("/", 1)[-1].lower()


def change_of(event: EngineEvent, *, pre: bool) -> Change | None:
    """The aigw Change an event announces (pre) or reports done (outputs), if any."""
    source = event.resource_pre_event if pre else event.res_outputs_event
    if source is None:
        return None
    meta = source.metadata
    op = _OPS.get(_op(meta.op))
    if op is None or not meta.type.startswith(TYPE_PREFIX):
        return None
    kind = kind_of(meta.type)
    old = dict(meta.old.outputs or meta.old.inputs or {}) if meta.old else {}
    new = dict(meta.new.inputs or {}) if meta.new and op != "delete" else {}
    return Change(op=op, kind=kind, urn=meta.urn, old=old, new=new)


class EventLog:
    """Collects the changes of one engine operation; pass `.on_event` to the Automation API."""

    def __init__(self, on_step: Callable[[Change | None, int], None] | None = None) -> None:
        self.planned: list[Change] = []
        self.done: list[Change] = []
        self.steps = 0  # finished resource steps of any kind (same included)
        self.counts: dict[str, int] = {}  # aigw resources by op: create, update, same...
        self._lock = threading.Lock()
        self._on_step = on_step

    def on_event(self, event: EngineEvent) -> None:
        """Record one engine event (thread-safe)."""
        with self._lock:
            started = event.resource_pre_event
            if started is not None and started.metadata.type.startswith(TYPE_PREFIX):
                op = _op(started.metadata.op)
                if op in _OPS or op == "same":
                    self.counts[op] = self.counts.get(op, 0) + 1
            pre = change_of(event, pre=True)
            if pre is not None:
                self.planned.append(pre)
            out = event.res_outputs_event
            if out is not None and out.metadata.type.startswith(TYPE_PREFIX) \
                    and _op(out.metadata.op) not in _NOT_STEPS:
                self.steps += 1
                finished = change_of(event, pre=False)
                if finished is not None:
                    self.done.append(finished)
                if self._on_step is not None:
                    self._on_step(finished, self.steps)

    def changes(self) -> list[Change]:
        """The planned changes in a stable order (kind, then object)."""
        order = list(KINDS.values())
        return sorted(self.planned, key=lambda c: (order.index(c.kind) if c.kind in order
                                                   else 99, c.target, c.op))


def summary_line(counts: Mapping[str, int]) -> str:
    """`2 to create, 1 to update, 0 to delete, 17 unchanged`."""
    create = counts.get("create", 0) + counts.get("replace", 0)
    return (f"{create} to create, {counts.get('update', 0)} to update, "
            f"{counts.get('delete', 0)} to delete, {counts.get('same', 0)} unchanged")


def format_plan(stack: str, changes: list[Change], counts: Mapping[str, int]) -> list[str]:
    """The readable plan of one stack: a header line, one line per change, policy diffs."""
    if not changes:
        return [f"{stack}: no changes ({counts.get('same', 0)} resources up to date)"]
    lines = [f"{stack}: {summary_line(counts)}"]
    for change in changes:
        lines.append(f"  {SYMBOLS[change.op]:<2} {change.op:<7} {change.kind:<6} {change.target}")
        lines += [f"        {d}" for d in change.detail()]
    return lines


def deleted_count(changes: list[Change]) -> int:
    """How many objects a destroy really deleted (the kept shared ones do not count)."""
    return sum(1 for c in changes if c.op == "delete" and c.kind not in KEPT_ON_DELETE)


class Progress:
    """Prints `[k/N] created policy aigw-prod-x` as operations finish.

    k counts every finished resource step (unchanged ones too) and N the
    resources the program declares, so the count reaches N at the end; a
    heartbeat line every `every` steps shows progress through unchanged ones.
    """

    PAST = {"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced"}

    def __init__(self, echo: Callable[[str], None], total: int, every: int = 500) -> None:
        self.echo = echo
        self.total = total
        self.every = every

    def __call__(self, change: Change | None, step: int) -> None:
        """Print one finished step (changes always, unchanged ones as a periodic count)."""
        self.total = max(self.total, step)
        if change is not None:
            verb = self.PAST[change.op]
            if change.op == "delete" and change.kind in KEPT_ON_DELETE:
                verb = "kept (shared)"  # out of the stack, still in OpenBao
            self.echo(f"  [{step}/{self.total}] {verb} {change.kind} {change.target}")
        elif step % self.every == 0:
            self.echo(f"  [{step}/{self.total}] ...")
