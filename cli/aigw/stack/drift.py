"""`--refresh` without the engine when nothing drifted: aigw reads every object back itself.

A refresh asks each resource's provider `read` for the live object, one call through
the engine and the dynamic-provider process per resource: at 1,000 services (3,507
resources) that was most of a `plan --refresh` and of a default `apply`. aigw reads the
recorded state itself (aigw.stack.fastplan.recorded_resources), calls the same provider
`read` for every aigw resource in its own process (`THREADS` at once, a connection each,
with the run's server and token: aigw.stack._conn.pinned), and compares what each
returns with the recorded outputs, strictly: the same id, the same fields, numbers by
value, anything else by type and value, lists in order.

- Every object reads back as recorded: the engine's refresh would change nothing in
  the state, so plan and apply go on as without a refresh (the fingerprint, the
  targeted apply: aigw.stack.targets).
- Objects changed or gone: `Drift.why` counts them and names one, `Drift.urns` lists
  them; plan has the engine refresh everything, apply has it refresh just those
  (aigw.stack.run).
- A state aigw cannot judge (none, or a backend aigw does not read; an interrupted run or
  a resource pending deletion; a resource type or an encrypted value it does not know):
  the engine refreshes everything, as before, and `Drift.why` says why.

A provider failure (OpenBao unreachable, a token that may not read) is the aigw error
the engine's refresh would have reported (aigw.stack._conn.tagged_error).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from aigw.context import EngineSettings
from aigw.errors import VaultError
from aigw.stack import fastplan
from aigw.stack._conn import ProviderFailure, pinned, tagged_error
from aigw.stack.report import TYPE_PREFIX
from aigw.stack.resources import provider_for
from aigw.vault import VaultSettings

THREADS = 8
_PROVIDER_KEY = "__provider"  # the pickled provider the engine keeps in each resource
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of an encrypted value


@dataclass(frozen=True)
class Drift:
    """What reading every recorded object back found."""

    why: str | None  # None: every object as recorded; else why the engine must refresh
    checked: int = 0  # objects read back
    seconds: float = 0.0
    recorded: fastplan.Recorded | None = None  # the state's resources that were judged
    drifted: tuple[str, ...] = ()  # `policy.aigw-prod-x (changed)`, `slot.... (gone)`
    urns: tuple[str, ...] = ()  # the URNs of the objects that drifted

    @property
    def clean(self) -> bool:
        """True when an engine refresh would change nothing."""
        return self.why is None

    def line(self, label: str) -> str:
        """The one line plan and apply print about the check."""
        if self.clean and not self.checked:
            return f"{label}: the state records no object yet (nothing to read back)"
        if self.clean:
            return (f"{label}: read back {self.checked} objects from OpenBao in "
                    f"{self.seconds:.1f} s, all as the state records them (no engine "
                    "refresh needed)")
        return f"{label}: {self.why}"


def check(settings: EngineSettings, vault: VaultSettings, stack: str, *,
          until_first: bool = False) -> Drift:
    """Read every aigw object the stack's state records back from OpenBao (module docstring).
    UNTIL_FIRST: stop at the first object that drifted (plan, whose engine refresh then reads
    everything again: the count would cost a full read-back for nothing)."""
    recorded = fastplan.recorded_resources(settings, stack)
    if recorded.why is not None:
        return Drift(recorded.why)
    mine = [r for r in recorded.resources if str(r.get("type", "")).startswith(TYPE_PREFIX)]
    for res in mine:
        if provider_for(str(res["type"])) is None:
            return Drift(f"the state holds a resource type this aigw does not know "
                         f"({res['type']})")
        if _SECRET_SIG in repr(res.get("outputs")):
            return Drift("the state holds an encrypted value")
    start = time.monotonic()
    found: dict[int, str] = {}
    with pinned(vault), ThreadPoolExecutor(THREADS, "aigw-drift") as pool:
        futures = {pool.submit(_drifted, res): i for i, res in enumerate(mine)}
        try:
            for future in as_completed(futures):
                verdict = future.result()
                if verdict is not None:
                    found[futures[future]] = verdict
                    if until_first:
                        break
        finally:  # after the first drift (plan) or an error: the rest is not read
            pool.shutdown(cancel_futures=True)
    seconds = time.monotonic() - start
    if until_first and found:
        [(index, first)] = found.items()
        return Drift(f"{first} differs from the recorded state", len(mine), seconds, recorded,
                     (first,), (str(mine[index]["urn"]),))
    if found:
        order = sorted(found)
        return Drift(f"{len(found)} of {len(mine)} objects differ from the recorded state, "
                     f"e.g. {found[order[0]]}", len(mine), seconds, recorded,
                     tuple(found[i] for i in order), tuple(str(mine[i]["urn"]) for i in order))
    return Drift(None, len(mine), seconds, recorded)


def _drifted(res: Mapping[str, Any]) -> str | None:
    """None when RES reads back as recorded; else the object's name and what happened."""
    provider = provider_for(str(res["type"]))
    assert provider is not None  # checked by `check`
    recorded = dict(res.get("outputs") or {})
    name = str(res.get("urn", "")).rsplit("::", 1)[-1]  # `policy.aigw-prod-support-bot`
    try:
        found = provider.read(str(res.get("id", "")), recorded)
    except ProviderFailure as exc:
        error = tagged_error(str(exc))
        raise error or VaultError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - not judged: the engine's own read reports it
        return f"{name} (not read: {type(exc).__name__})"
    if not found.id:
        return f"{name} (gone)"
    if str(found.id) != str(res.get("id", "")) or not _same_fields(found.outs, recorded) or (
            found.inputs is not None and not _same_fields(found.inputs, res.get("inputs"))):
        return f"{name} (changed)"  # (a `read` returning inputs replaces the recorded ones)
    return None


def _same_fields(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return equal({k: v for k, v in (a or {}).items() if k != _PROVIDER_KEY},
                 {k: v for k, v in (b or {}).items() if k != _PROVIDER_KEY})


def equal(a: Any, b: Any) -> bool:
    """Strict equality of two JSON values: numbers by value (the engine keeps every number
    as a float), anything else by type and value, lists in order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)
