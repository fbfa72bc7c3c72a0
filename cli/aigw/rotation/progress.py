"""The vocabulary a rotation run reports in: timing knobs, progress events, outcomes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Timing:
    """The clocks and periods of a run; tests shrink them to run in seconds."""

    quiet: float = 300.0      # the old key unused this long (>= agent_refresh) => moved
    poll: float = 5.0         # between evidence checks while waiting
    wait: float = 0.0         # how long a run waits for evidence before leaving it pending
    lock_ttl: float = 900.0   # lease of a slot's lock; renewed while the run works
    heartbeat: float = 30.0   # while waiting (--wait): one "waiting: ..." line this often
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Progress:
    """One transition (or note) of one slot, for progress output."""

    slot: str
    from_state: str | None
    to_state: str
    detail: str = ""


Reporter = Callable[[Progress], None]


@dataclass
class SlotOutcome:
    """How a run left one slot."""

    slot: str
    status: str   # done|waiting|aborted|failed|in-progress|skipped|would-start|would-continue
    state: str | None = None
    run_id: str | None = None
    message: str = ""
    notes: list[str] = field(default_factory=list)
    grace_override: dict[str, Any] | None = None  # {from, to, by, reason} when shortened
    blocked_by: list[str] = field(default_factory=list)  # consumers not acknowledging yet

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"slot": self.slot, "status": self.status, "state": self.state,
                "run_id": self.run_id, "message": self.message, "notes": self.notes,
                "grace_override": self.grace_override, "blocked_by": self.blocked_by}
