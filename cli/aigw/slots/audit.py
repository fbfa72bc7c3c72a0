"""The append-only, hash-chained audit trail of key operations, stored in OpenBao.

One KV v2 entry per record at `<prefix>/_aigw/audit/<seq>` (12-digit sequence),
created with `cas=0` so an existing record is never overwritten by aigw. Each
record holds the sha256 of the previous record (`prev`) and its own (`hash`)
over its canonical JSON, so `verify` detects a missing record (a gap in the
sequence, or a chain that does not link), an edited one (hash mismatch, or a
KV version above 1) and a cut tail (`audit-head` says more records existed).
`audit-head` is only a hint for appenders; the create-only writes are the truth.

Records name keys by fingerprint and provider-side id, never by value.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aigw.errors import RotationError
from aigw.slots.kv import KV, CasConflict

GENESIS = "0" * 64
_APPEND_ATTEMPTS = 50


def digest(record: dict[str, Any]) -> str:
    """sha256 of the record's canonical JSON without its own `hash`."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def iso(ts: float) -> str:
    """POSIX seconds -> `2025-01-02T03:04:05.678Z`."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


@dataclass
class AuditReport:
    """What `verify` found: the records read and every problem (empty when intact)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the trail is complete and unedited."""
        return not self.problems


class AuditLog:
    """The audit trail of one environment (`<prefix>/_aigw`)."""

    def __init__(self, kv: KV, bookkeeping: str, clock: Callable[[], float] = time.time) -> None:
        self.kv = kv
        self.folder = f"{bookkeeping}/audit"
        self.head_path = f"{bookkeeping}/audit-head"
        self.clock = clock
        self._tail: tuple[int, str] | None = None   # last record known to this appender
        self._head_version: int | None = None

    def _path(self, seq: int) -> str:
        return f"{self.folder}/{seq:012d}"

    def _record(self, seq: int) -> dict[str, Any] | None:
        """Record SEQ; None if it was never written; RotationError if it was deleted."""
        entry = self.kv.read(self._path(seq))
        if entry is None:
            return None
        if entry.data is None:
            raise RotationError(f"audit record {seq} was deleted: the trail is broken",
                                hint="run `aigw audit --verify`")
        return entry.data

    def _probe(self, seq: int) -> dict[str, Any] | None:
        """Record SEQ in one request (the common case when appending: it is absent)."""
        entry = self.kv.read(self._path(seq), metadata_fallback=False)
        return entry.data if entry is not None else None

    def _head(self) -> tuple[int, str, int]:
        entry = self.kv.read(self.head_path)
        if entry is None or not entry.data:
            return 0, GENESIS, 0 if entry is None else entry.version
        return int(entry.data.get("seq", 0)), str(entry.data.get("hash", GENESIS)), entry.version

    def append(self, event: dict[str, Any], *, after: int | None = None) -> int:
        """Append EVENT as the next record and return its sequence number.

        With AFTER (the sequence of the slot's previous record), a record with the
        same `event_id` written after it is reused instead: a run that crashed
        between its audit record and its journal write does not log twice.
        """
        for _ in range(_APPEND_ATTEMPTS):
            if self._tail is None:
                head_seq, head_hash, self._head_version = self._head()
                self._tail = (head_seq, head_hash)
            seq, prev = self._tail
            if after is not None and after < seq:
                seq = after
                prev = GENESIS if after == 0 else str((self._record(after) or {}).get("hash"))
            while (rec := self._probe(seq + 1)) is not None:
                seq += 1
                prev = str(rec.get("hash", ""))
                if after is not None and event.get("event_id") and \
                        rec.get("event_id") == event["event_id"]:
                    self._tail = None
                    return seq
            record = {**event, "seq": seq + 1, "at": iso(self.clock()), "prev": prev}
            record["hash"] = digest(record)
            try:
                self.kv.create(self._path(seq + 1), record)
            except CasConflict:
                self._record(seq + 1)  # raises if that record was deleted (a broken trail)
                self._tail = (seq, prev)
                continue  # another writer took this number: walk on
            self._tail = (seq + 1, record["hash"])
            self._move_head(seq + 1, record["hash"])
            return seq + 1
        raise RotationError("could not append to the audit trail (too many concurrent writers)")

    def _move_head(self, seq: int, hash_: str) -> None:
        """Best effort: point `audit-head` at SEQ unless it already points further."""
        for _ in range(5):
            if self._head_version is None:
                head_seq, _, self._head_version = self._head()
                if head_seq >= seq:
                    return
            try:
                self._head_version = self.kv.write(self.head_path, {"seq": seq, "hash": hash_},
                                                   cas=self._head_version)
                return
            except CasConflict:
                self._head_version = None

    def records(self) -> list[dict[str, Any]]:
        """Every record in sequence order (unverified)."""
        return self.verify().records

    def verify(self) -> AuditReport:
        """Read the whole trail and check sequence, chain, hashes, versions and head."""
        report = AuditReport()
        seqs: list[int] = []
        for name in self.kv.list(self.folder):
            if name.isdigit():
                seqs.append(int(name))
            else:
                report.problems.append(f"unexpected entry {name!r} in the audit folder")
        seqs.sort()
        prev, expected = GENESIS, 1
        for seq in seqs:
            if seq != expected:
                missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
                report.problems.append(f"record(s) {missing} missing (gap before {seq})")
            expected = seq + 1
            entry = self.kv.read(self._path(seq))
            if entry is None or entry.data is None:
                report.problems.append(f"record {seq} was deleted")
                prev = ""
                continue
            rec = entry.data
            report.records.append(rec)
            if entry.version != 1:
                report.problems.append(f"record {seq} was rewritten (KV version {entry.version})")
            if rec.get("seq") != seq:
                report.problems.append(f"record {seq} claims sequence {rec.get('seq')}")
            if rec.get("hash") != digest(rec):
                report.problems.append(f"record {seq} was edited (hash mismatch)")
            if prev and rec.get("prev") != prev:
                report.problems.append(f"record {seq} does not link to record {seq - 1}")
            prev = str(rec.get("hash", ""))
        head_seq, head_hash, _ = self._head()
        last = seqs[-1] if seqs else 0
        if head_seq > last:
            report.problems.append(f"records after {last} are missing (the head names {head_seq})")
        elif head_seq and report.records and head_seq <= len(report.records):
            named = next((r for r in report.records if r.get("seq") == head_seq), None)
            if named is not None and named.get("hash") != head_hash:
                report.problems.append(f"record {head_seq} differs from what the head recorded")
        return report
