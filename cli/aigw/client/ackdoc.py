"""The acknowledgement document, version 2 (spec/README.md#acknowledgements-v2).

Pure functions over the JSON an instance merges its report into (`merge`) and
that rotation and `aigw status` read (`live_instances`, `acknowledges`,
`holds`): one place for what the document means. No I/O.
"""

from __future__ import annotations

from typing import Any

FORMAT = 2  # the acknowledgement document's version
REFRESH = 600.0        # a heartbeat rewrite when nothing changed (default)
STALE = 3.0            # instances silent for STALE * refresh are dropped from the entry


def live_instances(doc: Any, now: float) -> dict[str, dict[str, Any]]:
    """The instances of an acknowledgement entry that reported recently enough to count.

    An instance is dropped once silent for STALE times its own `refresh` (it
    heartbeats every `refresh`). An entry without `instances` (written by hand, or
    by a post-render command) is one instance, "", of unknown age.
    """
    if not isinstance(doc, dict):
        return {}
    raw = doc.get("instances")
    if not isinstance(raw, dict):
        fp = doc.get("fingerprint")
        return {"": {"fingerprint": str(fp), "revision": str(doc.get("revision") or ""),
                     "at": None}} if fp else {}
    out = {}
    for name, inst in raw.items():
        if not isinstance(inst, dict):
            continue
        try:
            at, refresh = float(inst.get("at") or 0), float(inst.get("refresh") or REFRESH)
        except (TypeError, ValueError):
            continue
        if now - at < STALE * refresh:
            out[str(name)] = inst
    return out


def acknowledges(inst: dict[str, Any], fp: str | None) -> bool:
    """Whether an instance's report counts as having moved to the key of FP: it used
    that key in a successful call, or it never called the slot and has that key
    loaded (a fallback it never needed). The one rule rotation and `aigw status` read.
    """
    used = inst.get("fingerprint") or ""  # (`used` in v2 documents; the same value)
    return bool(fp) and (used == fp or (not used and inst.get("loaded") == fp))


def holds(inst: dict[str, Any], old_fp: str, new_fp: str | None) -> bool:
    """Whether an instance still holds the old key: it used it and has not loaded the
    new one, or it never called the slot and has the old one loaded."""
    used = inst.get("fingerprint") or ""
    loaded = inst.get("loaded") or ""
    return (used == old_fp and (not new_fp or loaded != new_fp)) or (not used and loaded == old_fp)


def _agreed(instances: dict[str, dict[str, Any]], name: str) -> str:
    values = {v.get(name) or "" for v in instances.values()}
    return values.pop() if len(values) == 1 else ""


def merge(doc: dict[str, Any] | None, me: str, fingerprint: str, revision: str, now: float,
          refresh: float = REFRESH, loaded: str = "") -> dict[str, Any]:
    """The entry after instance ME reports at NOW (epoch seconds).

    FINGERPRINT is the key ME last used in a successful call ("" when it never
    called the slot), LOADED the key it holds loaded now, REVISION its config's.
    At the top, `used` (also `fingerprint`, what version-1 readers read),
    `loaded` and `revision` are the values every live instance agrees on, else ""
    (rotation then counts the service as not acknowledged). `counters` is kept
    for per-route counters (a later version fills it; readers ignore what they
    do not know).
    """
    instances = {k: v for k, v in live_instances(doc, now).items() if k}
    mine = instances.get(me) or {}
    instances[me] = {"fingerprint": fingerprint, "used": fingerprint, "loaded": loaded,
                     "revision": revision, "at": now, "refresh": refresh,
                     "counters": mine.get("counters") or {}}
    used = _agreed(instances, "used")
    return {"format": FORMAT, "fingerprint": used, "used": used,
            "loaded": _agreed(instances, "loaded"), "revision": _agreed(instances, "revision"),
            "at": now, "instances": dict(sorted(instances.items())),
            "counters": (doc.get("counters") if isinstance(doc, dict) else None) or {}}
