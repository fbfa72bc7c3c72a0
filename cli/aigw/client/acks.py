"""Consumer acknowledgements (v2): which key each slot loaded and used, and the revision.

Rotation revokes an old key only on evidence that every consumer moved
(docs/rotation.md#evidence-that-consumers-moved). This module is the runtime's half
of spec/README.md#acknowledgements-v2: the client's recorder (`recorder(client)`)
notes, per slot, the fingerprint (never the value) of the key it has **loaded** from
the key file and of the key it last **used** in a successful call, with the client's
config revision; a daemon thread writes them to OpenBao with the service's OWN
identity (the token its agent keeps in the key folder, `.aigw-token`, or the Vault
Agent injector's `token`), at

    <mount>/data/<acks.path>/<provider>/<slot>/<service>

as one versioned document (`format` 2, client/ackdoc.py). Each instance (replica) keeps
its own entry, merged with check-and-set, so one replica still on the old key keeps
the service's agreed fingerprints empty (not acknowledged).

Never on the request path and never a failure: the hot path is one dict lookup
and, when something changed, a `put_nowait` into a bounded queue (dropped when
full). The thread looks at the loaded keys every `interval` (a slot the service
never calls is still reported as loaded), writes at most once per slot per
`interval`, only when something changed, plus a heartbeat every `refresh` so that
`aigw status` can say how long ago each consumer reported and dead replicas age
out. OpenBao unreachable, a missing token file or a refused write are retried
every interval and logged once a minute at most. Only httpx (the base client's dependency).

Where: the `acks` block of aigw-client.json (`aigw render`): `address` (null: the
service's BAO_ADDR / VAULT_ADDR, like its agent), `mount`, `path`, `token_files`
(relative to `key_dir`), optional `interval` and `refresh` (seconds).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .ackdoc import REFRESH, merge

log = logging.getLogger("aigw.client.acks")

INTERVAL = 10.0        # at most one write per slot per interval
TIMEOUT = 2.0          # per OpenBao request
QUEUE_SIZE = 256
IDLE_EXIT = 60.0       # the thread stops when idle this long; the next use restarts it
LOG_EVERY = 60.0       # one warning per kind of failure per minute, however many retries
ACKS_ATTR = "_aigw_acks"  # where a client keeps its recorder

Slot = tuple[str, str]


def instance_id() -> str:
    """This process among the service's replicas: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


# What the client reports of one slot: the key it holds loaded now (None: none).
LoadedSource = Callable[[], dict[Slot, str | None]]


class AckRecorder:
    """Queue of (slot, kind, fingerprint, revision) and the thread that writes them."""

    on = True  # (`_Off` is not: a client then skips it on the request path)

    def __init__(self, service: str, address: str, mount: str, folder: str,
                 token_files: list[Path], *, interval: float = INTERVAL,
                 refresh: float = REFRESH, timeout: float = TIMEOUT,
                 queue_size: int = QUEUE_SIZE, verify: bool | str = True,
                 instance: str | None = None, idle_exit: float = IDLE_EXIT,
                 revision: str = "") -> None:
        self.revision = revision  # the config file's, for a client without `revision`
        self.service, self.address, self.mount, self.folder = service, address, mount, folder
        self.token_files = token_files
        self.interval, self.refresh, self.timeout = interval, refresh, timeout
        self.verify = verify
        self.instance = instance or instance_id()
        self.idle_exit = idle_exit
        self._queue: queue.Queue[tuple[Slot, str, str, str]] = queue.Queue(queue_size)
        self._seen: dict[Slot, tuple[str, str, float]] = {}  # what the hot path queued last
        self._source: LoadedSource | None = None
        # On the thread only: per slot [used, loaded, revision], and what was written.
        self._state: dict[Slot, list[str]] = {}
        self._pending: set[Slot] = set()
        self._written: dict[Slot, tuple[str, str, str, float]] = {}
        self._tried: dict[Slot, float] = {}
        self._logged: dict[str, float] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.writes = 0       # acknowledgements written
        self.failures = 0     # write attempts that failed (OpenBao down, refused, no token)
        self.dropped = 0      # uses not queued (queue full)
        self.in_flight = False  # a write is under way (on this thread, never a request's)

    # -- the request path ------------------------------------------------------
    def used(self, provider: str, slot: str, fingerprint: str, revision: str) -> None:
        """Note a successful call with the key of FINGERPRINT; cheap, never raises or blocks."""
        key = (provider, slot)
        revision = revision or self.revision
        seen = self._seen.get(key)
        now = time.monotonic()
        if seen is not None and seen[0] == fingerprint and seen[1] == revision \
                and now - seen[2] < self.refresh:
            return
        self._seen[key] = (fingerprint, revision, now)
        try:
            self._queue.put_nowait((key, "used", fingerprint, revision))
        except queue.Full:
            self.dropped += 1
            self._seen.pop(key, None)  # noted again by a later use
            return
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._start()

    def watch(self, source: LoadedSource | None) -> None:
        """Report the loaded keys SOURCE gives, looked at every `interval` by the thread
        (which then keeps running: a slot never called is still reported); None stops
        looking (the thread then ends once idle, as without a source)."""
        self._source = source
        if source is not None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="aigw-acks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread (tests; a process exit does not need it)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- the thread ------------------------------------------------------------
    def note(self, key: Slot, kind: str, fp: str, rev: str) -> None:
        """Fold one report into the slot's state (`kind`: used or loaded)."""
        state = self._state.setdefault(key, ["", "", self.revision])
        new = list(state)
        if kind == "used":
            new[0], new[2] = fp, rev or self.revision
        else:
            new[1] = fp
        if new != state or key not in self._written:
            self._state[key] = new
            self._pending.add(key)

    def report(self, key: Slot) -> dict[str, str]:
        """What this instance reports for the slot now: used, loaded, revision."""
        used, loaded, rev = self._state.get(key, ["", "", self.revision])
        return {"used": used, "loaded": loaded, "revision": rev}

    def poll(self) -> None:
        """Fold in the loaded keys, and mark slots due for a heartbeat."""
        source = self._source
        if source is not None:
            for key, fp in source().items():
                self.note(key, "loaded", fp or "", "")
        now = time.monotonic()
        for key, written in self._written.items():
            if now - written[3] >= self.refresh:
                self._pending.add(key)

    def _run(self) -> None:
        idle_since = time.monotonic()
        next_poll = 0.0
        with httpx.Client(timeout=self.timeout, verify=self.verify) as http:
            while not self._stop.is_set():
                try:
                    self.note(*self._queue.get(timeout=min(self.interval, 1.0)))
                    continue  # drain the queue before writing
                except queue.Empty:
                    pass
                now = time.monotonic()
                if now >= next_poll:
                    next_poll = now + self.interval
                    try:
                        self.poll()
                    except Exception:  # noqa: BLE001 - a bug here must not stop the thread
                        self._once("bug", "loaded keys not read", exc_info=True)
                for key in list(self._pending):
                    if now - self._tried.get(key, -1e18) < self.interval:
                        continue
                    self._tried[key] = now
                    try:
                        self._flush(http, key)
                    except Exception:  # noqa: BLE001 - a bug here must not stop the thread
                        self.failures += 1
                        self._once("bug", "key acknowledgement failed", exc_info=True)
                if self._pending or not self._queue.empty() or self._source is not None:
                    idle_since = now
                elif now - idle_since > self.idle_exit:
                    return

    def _flush(self, http: httpx.Client, key: Slot) -> None:
        used, loaded, rev = state = tuple(self._state[key])
        written = self._written.get(key)
        now = time.monotonic()
        if written is not None and written[:3] == state and now - written[3] < self.refresh:
            self._pending.discard(key)
            return
        self.in_flight = True
        try:
            ok = self._write(http, key, used, rev, loaded)
        except (httpx.HTTPError, OSError, ValueError) as exc:
            self.failures += 1
            self._once("unreachable", "cannot write key acknowledgements to %s (%s); "
                       "retrying", self.address, type(exc).__name__)
            return
        finally:
            self.in_flight = False
        if not ok:
            self.failures += 1
        else:
            if self._logged:
                log.info("key acknowledgements written again to %s", self.address)
                self._logged.clear()
            self._written[key] = (used, loaded, rev, now)
            if tuple(self._state[key]) == (used, loaded, rev):
                self._pending.discard(key)
            self.writes += 1

    def _token(self) -> str | None:
        for path in self.token_files:
            try:
                token = path.read_text(encoding="utf-8").strip()
            except OSError:
                continue
            if token:
                return token
        return None

    def _write(self, http: httpx.Client, key: Slot, fp: str, rev: str, loaded: str) -> bool:
        token = self._token()
        if token is None:
            self._once("token", "no agent token in %s; key acknowledgements wait for it",
                       " or ".join(str(p) for p in self.token_files))
            return False
        url = (f"{self.address}/v1/{self.mount}/data/{self.folder}/{key[0]}/{key[1]}/"
               f"{self.service}")
        headers = {"X-Vault-Token": token}
        for _ in range(3):  # another replica may write between our read and write
            got = http.get(url, headers=headers)
            if got.status_code == 404:
                version, doc = 0, None
            elif got.status_code == 200:
                body = got.json().get("data") or {}
                version = int((body.get("metadata") or {}).get("version") or 0)
                doc = body.get("data")
            else:
                return self._refused(got)
            new = merge(doc, self.instance, fp, rev, time.time(), self.refresh, loaded)
            put = http.post(url, headers=headers, json={"options": {"cas": version},
                                                        "data": new})
            if put.status_code in (200, 204):
                return True
            if put.status_code == 400 and "check-and-set" in put.text:
                continue
            return self._refused(put)
        return False

    def _refused(self, response: httpx.Response) -> bool:
        self._once(f"http{response.status_code}", "OpenBao refused a key acknowledgement "
                   "(HTTP %d): check that `aigw apply` ran for service %s", response.status_code,
                   self.service)
        return False

    def _once(self, kind: str, msg: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        if now - self._logged.get(kind, -1e18) >= max(self.interval, LOG_EVERY):
            self._logged[kind] = now
            log.warning(msg, *args, exc_info=exc_info)


class _Off:
    """No acks block, no address: acknowledgements are off; uses cost nothing."""

    on = False

    def used(self, provider: str, slot: str, fingerprint: str, revision: str) -> None:
        """Nothing to do."""
        return None

    def watch(self, source: LoadedSource | None) -> None:
        """Nothing to watch."""
        return None

    def stop(self, timeout: float = 2.0) -> None:
        """Nothing to stop."""
        return None


def recorder_for(config: Any) -> AckRecorder | _Off:
    """The recorder of a client config (`aigw.client.config.ClientConfig`), from its file."""
    path = getattr(config, "path", None)
    block: Any = None
    raw: Any = None
    if path is not None:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            block = raw.get("acks")
        except (OSError, ValueError, AttributeError):
            block = None
    if not isinstance(block, dict):
        return _Off()
    address = block.get("address") or os.environ.get("BAO_ADDR") or os.environ.get("VAULT_ADDR")
    if not address or not block.get("mount") or not block.get("path"):
        log.info("key acknowledgements off: no OpenBao address (BAO_ADDR) for %s",
                 config.service)
        return _Off()
    key_dir = Path(config.key_dir)
    files = [p if p.is_absolute() else key_dir / p
             for p in (Path(str(f)) for f in block.get("token_files") or [])]
    verify: bool | str = os.environ.get("BAO_CACERT") or os.environ.get("VAULT_CACERT") or True
    return AckRecorder(config.service, str(address).rstrip("/"), str(block["mount"]),
                       str(block["path"]).strip("/"), files,
                       interval=float(block.get("interval") or INTERVAL),
                       refresh=float(block.get("refresh") or REFRESH), verify=verify,
                       revision=str(raw.get("revision") or ""))


_create = threading.Lock()


def recorder(client: Any) -> AckRecorder | _Off:
    """The client's recorder, made on first use."""
    rec = client.__dict__.get(ACKS_ATTR)
    if rec is None:
        with _create:
            rec = client.__dict__.get(ACKS_ATTR)
            if rec is None:
                try:
                    rec = recorder_for(client.config)
                except Exception:  # noqa: BLE001 - never fail a request for an ack
                    log.exception("key acknowledgements off")
                    rec = _Off()
                client.__dict__[ACKS_ATTR] = rec
    return rec
