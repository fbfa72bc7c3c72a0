"""`aigw plan` without the engine when nothing changed since the last apply.

After an apply succeeds, aigw records a fingerprint of that run in the stack's
backend, beside the state: `.pulumi/aigw/<project>/<stack>.json` holding

- `spec`: a digest of what the engine was given (the environment's EnvSpec after
  keys-ready holds, the OpenBao address and cluster id, aigw's version), and
- `state`: a digest of the state file the engine wrote
  (`.pulumi/stacks/<project>/<stack>.json`, or `.json.gz`).

The same spec digest is also a stack output (`SPEC_OUTPUT`), so the state says
which spec produced it: when two checkouts apply at once, the one that records
its fingerprint last may hash the other's state, and the output then differs.

`aigw plan` (without --refresh) computes the same spec digest and reads the state
file. Fingerprint, state digest and the state's own output all equal: the engine
would compare the same inputs with the same recorded state, so the answer is "no
changes" without starting it. Anything else
(no fingerprint, as after an older aigw; a state changed since, by a destroy, a
failed or foreign run; a lock on the stack; a backend other than `file://` and
`s3://`; any read error) and the engine plans as before. The fingerprint holds
digests only, never values: the spec has no key values, and the state is hashed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from aigw import __version__
from aigw.context import EngineSettings
from aigw.fsutil import atomic_write
from aigw.stack.ids import PROJECT, SERVER_OUTPUT, SPEC_OUTPUT
from aigw.stack.spec import EnvSpec

# Bump when what the digest covers changes (an old fingerprint then never matches).
FORMAT = 1
FAST = "fingerprint"  # StackResult.planner values (plan.v1.json `planner`)
ENGINE = "engine"


class Store(Protocol):
    """The few reads and writes of a self-managed Pulumi backend that aigw makes itself."""

    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes) -> None: ...
    def any_under(self, prefix: str, part: str) -> bool: ...


@dataclass(frozen=True)
class FileStore:
    """A `file://` backend folder."""

    root: Path

    def read(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        atomic_write(self.root / key, data, 0o600)

    def any_under(self, prefix: str, part: str) -> bool:
        folder = self.root / prefix
        return folder.is_dir() and any(part in p.as_posix() for p in folder.rglob("*.json"))


@dataclass(frozen=True)
class S3Store:
    """An `s3://bucket/prefix?endpoint=...&region=...&use_path_style=true` backend.

    Credentials come from the same AWS_* environment and profile the engine uses.
    """

    client: Any
    bucket: str
    prefix: str

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str) -> bytes | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(body.read())

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def any_under(self, prefix: str, part: str) -> bool:
        found = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(prefix))
        return any(part in o["Key"] for o in found.get("Contents", []))


def backend_store(settings: EngineSettings) -> Store | None:
    """The store of SETTINGS' backend; None for backends aigw does not read itself."""
    if settings.backend_dir is not None:
        return FileStore(settings.backend_dir)
    parts = urlsplit(settings.backend_url)
    if parts.scheme != "s3":
        return None
    import boto3
    from botocore.config import Config

    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    path_style = query.get("use_path_style", "").lower() in ("1", "true")
    session = boto3.session.Session(profile_name=query.get("profile"))
    client = session.client(
        "s3", endpoint_url=query.get("endpoint"), region_name=query.get("region"),
        config=Config(s3={"addressing_style": "path"}) if path_style else None)
    return S3Store(client, parts.netloc, parts.path.strip("/"))


def spec_digest(spec: EnvSpec, addr: str, cluster_id: str) -> str:
    """The digest of everything the engine is given for one stack (no key values in it)."""
    payload = {"format": FORMAT, "aigw": __version__, "addr": addr, "cluster": cluster_id,
               "spec": spec}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> object:
    """JSON for what json does not know: a record as its fields (what `dataclasses.asdict`
    gives, without its deep copy: a third of a 1,000-service plan), a mapping as a dict."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    return repr(value)


def fingerprint_key(stack: str) -> str:
    """Where the fingerprint of STACK lives, relative to the backend's root."""
    return f".pulumi/aigw/{PROJECT}/{stack}.json"


def _read_state(store: Store, stack: str) -> tuple[list[bytes | None], str | None]:
    """The stack's state file(s) (`.json`, `.json.gz`) and their digest (None: no state)."""
    base = f".pulumi/stacks/{PROJECT}/{stack}"
    found = [store.read(base + ".json"), store.read(base + ".json.gz")]
    if all(b is None for b in found):
        return found, None
    digest = hashlib.sha256()
    for data in found:
        digest.update(b"-" if data is None else b"+" + hashlib.sha256(data).digest())
    return found, digest.hexdigest()


def _state_bytes(found: list[bytes | None]) -> bytes:
    """The state's JSON text from `_read_state`'s files (the plain one, else the gzipped)."""
    plain, packed = found
    return plain if plain is not None else gzip.decompress(packed or b"")


def _state_digest(store: Store, stack: str) -> str | None:
    return _read_state(store, stack)[1]


# The engine writes SPEC_OUTPUT as `"aigw_spec_digest": "<hex>"`; only the root stack
# resource's outputs hold that key unescaped (resource inputs holding JSON text escape
# their quotes), so one match is the answer without parsing megabytes of state.
_SPEC_IN_STATE = re.compile(rb'"' + re.escape(SPEC_OUTPUT.encode()) + rb'":\s*"([0-9a-f]{64})"')


def _recorded_spec(found: list[bytes | None]) -> object:
    """The SPEC_OUTPUT the state's root stack resource holds (None when absent)."""
    import orjson

    data = _state_bytes(found)
    matches = _SPEC_IN_STATE.findall(data)
    if len(matches) == 1:
        return matches[0].decode()
    resources = (orjson.loads(data).get("checkpoint", {}).get("latest") or {}).get(
        "resources") or []
    root: dict[str, Any] = next(
        (r for r in resources if r.get("type") == "pulumi:pulumi:Stack"), {})
    return (root.get("outputs") or {}).get(SPEC_OUTPUT)


_SERVER_IN_STATE = re.compile(rb'"' + re.escape(SERVER_OUTPUT.encode()) + rb'":\s*"([^"\\]*)"')


def recorded_server(settings: EngineSettings, stack: str) -> str | None:
    """The SERVER_OUTPUT the stack's state records (None: none, or no state yet), read from
    the backend without the engine (`pulumi stack output` loads and decrypts the whole
    state, twice: seconds at 1,000 services). LookupError when aigw cannot tell."""
    try:
        store = backend_store(settings)
        found, state = (None, None) if store is None else _read_state(store, stack)
    except Exception as exc:  # noqa: BLE001 - any doubt: ask the engine
        raise LookupError(type(exc).__name__) from None
    if store is None or found is None:
        raise LookupError("the backend is not file:// or s3://")
    if state is None:
        return None
    data = _state_bytes(found)
    matches = _SERVER_IN_STATE.findall(data)
    if len(matches) > 1 or (not matches and SERVER_OUTPUT.encode() in data):
        raise LookupError("the state names the server in an unexpected form")
    return matches[0].decode() if matches else None


def _state_key(stack: str, found: list[bytes | None]) -> str:
    """The backend key of the file `_state_bytes` reads from FOUND."""
    base = f".pulumi/stacks/{PROJECT}/{stack}"
    return base + (".json" if found[0] is not None else ".json.gz")


def _state_file(settings: EngineSettings, stack: str) -> tuple[dict[str, Any] | None, str]:
    """The stack's state file as JSON (None: no state yet), read from the backend without the
    engine, and a digest of the bytes it parsed and of their key ("" when there is no state,
    or both a plain and a gzipped file, so which one the engine reads is unsure).
    LookupError for a backend aigw does not read; read errors propagate."""
    import orjson

    store = backend_store(settings)
    if store is None:
        raise LookupError("the backend is not file:// or s3://")
    found, state = _read_state(store, stack)
    if state is None:
        return None, ""
    data = _state_bytes(found)
    doc = orjson.loads(data)
    sure = None in found
    mark = _file_digest(_state_key(stack, found), data) if sure else ""
    return (doc if isinstance(doc, dict) else None), mark


def _file_digest(key: str, data: bytes) -> str:
    return hashlib.sha256(key.encode() + b"\0" + data).hexdigest()


def replaced(settings: EngineSettings, stack: str, mark: str) -> bool:
    """True when the engine's last write of the stack's state replaced exactly the state
    whose `Recorded.mark` is MARK: no other run updated the stack in between.

    A self-managed backend copies the state file to `<file>.bak` before each write
    (pulumi pkg/backend/diy/state.go, `saveCheckpoint`), and aigw has the engine write the
    state once per run (PULUMI_SKIP_CHECKPOINTS); so after a run, `.bak` holds what the run
    started from. False on any doubt (unreadable, no digest)."""
    if not mark:
        return False
    try:
        store = backend_store(settings)
        found = None if store is None else _read_state(store, stack)[0]
        if store is None or found is None or all(f is None for f in found):
            return False
        key = _state_key(stack, found)
        before = store.read(key + ".bak")
    except Exception:  # noqa: BLE001 - any doubt: not sure
        return False
    return before is not None and _file_digest(key, before) == mark


@dataclass(frozen=True)
class Recorded:
    """The resources of a stack's latest recorded state, or why aigw cannot judge them."""

    resources: list[dict[str, Any]]
    why: str | None = None  # None: RESOURCES is the state's word
    mark: str = ""  # a digest of the state file read (`replaced` compares it)


def recorded_resources(settings: EngineSettings, stack: str) -> Recorded:
    """The stack's recorded resources, read without the engine, unless the state is missing,
    unreadable (or in a backend aigw does not read), records an interrupted run, or holds a
    resource pending deletion: then WHY says which (the targeted apply and the drift check
    leave such a state to the engine)."""
    try:
        state, mark = _state_file(settings, stack)
    except LookupError as exc:
        return Recorded([], str(exc))
    except Exception as exc:  # noqa: BLE001 - any doubt: the engine
        return Recorded([], f"the state could not be read ({type(exc).__name__})")
    if state is None:
        return Recorded([], "no recorded state yet")
    latest = (state.get("checkpoint") or {}).get("latest") or {}
    if latest.get("pending_operations"):
        return Recorded([], "the state records an interrupted run")
    resources = list(latest.get("resources") or ())
    if any(r.get("delete") or r.get("pendingReplacement") for r in resources):
        return Recorded([], "the state holds a resource pending deletion")
    return Recorded(resources, mark=mark)


def record(settings: EngineSettings, stack: str, digest: str) -> None:
    """After a successful apply: remember what the engine was given and the state it wrote.

    Best effort: a backend aigw cannot write leaves plan on the engine path.
    """
    try:
        store = backend_store(settings)
        if store is None:
            return
        state = _state_digest(store, stack)
        if state is None:
            return
        body = json.dumps({"format": FORMAT, "spec": digest, "state": state}).encode()
        store.write(fingerprint_key(stack), body)
    except Exception:  # noqa: BLE001 - a missed fingerprint only costs the next plan time
        return


def why_engine(settings: EngineSettings, stack: str, digest: str) -> str | None:
    """None when plan may answer "no changes" without the engine; else the reason not to."""
    try:
        store = backend_store(settings)
        if store is None:
            return "the backend is not file:// or s3://"
        raw = store.read(fingerprint_key(stack))
        if raw is None:
            return "no fingerprint of a previous apply (first run, or an older aigw)"
        saved = json.loads(raw)
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            return "the fingerprint is from another aigw"
        if saved.get("spec") != digest:
            return "the catalog or OpenBao differs from the last apply"
        if store.any_under(".pulumi/locks/", f"/{PROJECT}/{stack}/"):
            return "the stack is locked"
        found, state = _read_state(store, stack)
        if saved.get("state") != state:
            return "the state changed since the last apply"
        if _recorded_spec(found) != digest:
            return "the state was written by another run"
    except Exception as exc:  # noqa: BLE001 - any doubt: let the engine decide
        return f"the backend could not be read ({type(exc).__name__})"
    return None
