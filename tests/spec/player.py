"""Plays the conformance vectors (spec/vectors/*.json) on the Python client.

How a runner plays a vector, and what each field means, is spec/README.md; this
module is the Python sync and async runner of it. No provider is needed:
``httpx.MockTransport`` plays the upstream, checks every request it gets
against the vector's ``expect`` and answers as the vector says. Each played
vector gives its entry of the results file (spec/README.md#the-results-file).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from aigw.client import AsyncClient, Client, attempts_of
from aigw.client.acks import AckRecorder
from aigw.client.transport import AsyncFailoverTransport, FailoverTransport

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
VECTORS = sorted((SPEC / "vectors").glob("*.json"))
RESULTS_FORMAT = "aigw-conformance-results/1"
RESULTS_ENV = "AIGW_SPEC_RESULTS"
# The fields the runner fills in when the vector's config leaves them out.
CONFIG_DEFAULTS = {"version": 1, "service": "vectors", "environment": "test",
                   "key_dir": "keys"}
START = 1000.0  # the injected clock's first reading (seconds)


def results_dir() -> Path:
    """Where runs write their results files: $AIGW_SPEC_RESULTS, else spec/results/."""
    return Path(os.environ.get(RESULTS_ENV) or SPEC / "results")


def dumps(obj: Any) -> str:
    """The results file's one serialization (keys sorted, 2-space indent, newline)."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def results_document(runner: str, vectors: dict[str, Any]) -> str:
    """The text of a results file."""
    return dumps({"format": RESULTS_FORMAT, "runner": runner, "vectors": vectors})


class Clock:
    """The client's clock (seconds), advanced by the calls' ``advance``."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


class Draws:
    """The client's random source: the vector's ``random`` numbers, in order."""

    def __init__(self, numbers: list[float], where: str) -> None:
        self.numbers = list(numbers)
        self.where = where

    def random(self) -> float:
        """The next number of the vector's list (a draw it did not plan fails)."""
        assert self.numbers, f"{self.where}: the client drew more numbers than `random` has"
        return self.numbers.pop(0)


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body sent as the vector's chunks, one at a time."""

    def __init__(self, chunks: list[str]) -> None:
        self.chunks = [c.encode() for c in chunks]

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def write_files(root: Path, files: dict[str, str | None]) -> None:
    """Write (or, for null, delete) files relative to `root`, replacing each by rename."""
    for name, text in files.items():
        path = root / name
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)


class RecordedAcks(AckRecorder):
    """The client's real acknowledgement recorder without its thread or OpenBao: the
    runner does the thread's work (`settle`) when the vector ends."""

    def __init__(self) -> None:
        super().__init__("vectors", "http://acks.invalid", "kv", "acks", [], refresh=1e9)

    def _start(self) -> None:
        """No thread."""

    def settle(self) -> dict[str, Any]:
        """What the client would acknowledge now, per `<provider>/<slot>` it can call."""
        while not self._queue.empty():
            self.note(*self._queue.get_nowait())
        self.poll()
        out = {}
        for (provider, slot) in sorted(self._state):
            report = self.report((provider, slot))
            out[f"{provider}/{slot}"] = {"loaded": report["loaded"] or None,
                                         "used": report["used"] or None}
        return out


class Upstream:
    """Plays the providers: each request must match the next expected step."""

    def __init__(self, key_dir: Path, root: Path) -> None:
        self.key_dir = key_dir
        self.root = root
        self.steps: list[dict[str, Any]] = []
        self.where = ""
        self.files_changed: Any = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.steps, f"{self.where}: unexpected upstream request {request.url}"
        step = self.steps.pop(0)
        expect = step.get("expect", {})
        where = f"{self.where}: upstream {expect.get('url', '')}"
        check_request(request, expect, where)
        for name, text in step.get("then_write_keys", {}).items():
            (self.key_dir / name).write_text(text)
        if "then_write_files" in step:
            write_files(self.root, step["then_write_files"])
            self.files_changed()
        fail = step.get("fail")
        if fail == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fail == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        answer = step.get("respond", {"status": 200, "body": {}})
        headers = answer.get("headers")
        if "chunks" in answer:
            return httpx.Response(answer["status"], headers=headers,
                                  stream=Chunks(answer["chunks"]))
        if "text" in answer:
            return httpx.Response(answer["status"], headers=headers,
                                  content=answer["text"].encode())
        return httpx.Response(answer["status"], json=answer.get("body", {}), headers=headers)


def check_request(request: httpx.Request, expect: dict[str, Any], where: str) -> None:
    """Assert that the upstream request is what the vector expects."""
    if "method" in expect:
        assert request.method == expect["method"], where
    if "url" in expect:
        assert str(request.url) == expect["url"], where
    for name, value in expect.get("headers", {}).items():
        assert request.headers.get(name) == value, f"{where}: header {name}"
    for name, prefix in expect.get("header_prefixes", {}).items():
        assert (request.headers.get(name) or "").startswith(prefix), f"{where}: {name}"
    for name in expect.get("absent_headers", []):
        assert name not in request.headers, f"{where}: header {name} must not be sent"
    if "body" in expect:
        assert json.loads(request.content) == expect["body"], f"{where}: body"
    if "content" in expect:
        assert request.content.decode() == expect["content"], f"{where}: content"


def outgoing(req: dict[str, Any]) -> httpx.Request:
    """The request an SDK of the vector's family hands the failover transport."""
    url = "http://aigw.invalid" + req["path"]
    method = req.get("method", "POST")
    headers = req.get("headers", {})
    if "content" in req:
        return httpx.Request(method, url, headers=headers, content=req["content"].encode())
    return httpx.Request(method, url, headers=headers, json=req.get("body"))


RAISES: tuple[tuple[type[BaseException], str], ...] = (
    (httpx.TimeoutException, "timeout"), (httpx.ConnectError, "connect_error"))


def raised_name(exc: BaseException) -> str | None:
    """The spec's name of an error the caller saw (None: not one the spec names)."""
    return next((name for kind, name in RAISES if isinstance(exc, kind)), None)


def call_result(status: int | None, raises: str | None, attempts: list[Any]) -> dict[str, Any]:
    """One call's entry in the results file."""
    pairs = [[a.provider, a.outcome] for a in attempts]
    last = attempts[-1] if attempts else None
    served = f"{last.provider}/{last.slot}" if last is not None and last.outcome == "ok" \
        and status is not None and 200 <= status < 300 else None
    return {"status": status, "raises": raises, "attempts": pairs, "served": served}


def check_call(result: dict[str, Any], want: dict[str, Any], text: str | None,
               where: str) -> None:
    """Assert a call's observed result against the vector's ``expect``."""
    assert result["raises"] == want.get("raises"), f"{where}: raises"
    if "status" in want:
        assert result["status"] == want["status"], f"{where}: status"
    if "attempts" in want:
        assert result["attempts"] == want["attempts"], f"{where}: attempts"
    if "served" in want:
        assert result["served"] == want["served"], f"{where}: served"
    if "body" in want:
        assert text is not None and json.loads(text) == want["body"], f"{where}: body"
    for part in want.get("error_contains", []):
        assert text is not None and part in text, f"{where}: error_contains {part!r}"
    if "stream" in want:
        assert text == want["stream"], f"{where}: stream"


class Player:
    """One vector on one client (sync or async): set up, then `call` per call."""

    def __init__(self, vector_id: str, vector: dict[str, Any], root: Path, aio: bool) -> None:
        self.id, self.vector, self.root, self.aio = vector_id, vector, root, aio
        config = {**CONFIG_DEFAULTS, **vector["config"]}
        self.config_path = root / vector.get("config_path", "aigw-client.json")
        write_files(root, vector.get("files", {}))
        key_dir = self.config_path.parent / config["key_dir"]
        key_dir.mkdir(parents=True, exist_ok=True)
        for name, text in vector.get("keys", {}).items():
            (key_dir / name).write_text(text)
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(config))
        self.upstream = Upstream(key_dir, root)
        self.upstream.files_changed = self.files_changed
        self.acks = RecordedAcks()
        self.mock = httpx.MockTransport(self.upstream)
        self.clock = Clock()
        kwargs: dict[str, Any] = {
            "transport": self.mock, "clock": self.clock, "watch_keys": False,
            "key_check_interval": 3600, "config_check_interval": 3600,
            "rng": Draws(vector.get("random", []), vector_id), "acks": self.acks}
        cls = AsyncClient if aio else Client
        self.client: Any = cls.from_file(self.config_path, **kwargs)

    def before(self, i: int, call: dict[str, Any]) -> str:
        """Set the scene of call `i`: clock, files, config reload, upstream steps."""
        where = f"{self.id} call {i + 1}"
        self.upstream.where = where
        self.upstream.steps = list(call.get("upstream", []))
        self.clock.now += call.get("advance", 0)
        if "files" in call:
            write_files(self.root, call["files"])
            self.files_changed()
        if call.get("reload_config"):
            self.client.reload_config()
        return where

    def after(self, result: dict[str, Any], call: dict[str, Any], text: str | None,
              where: str) -> dict[str, Any]:
        """Check the call and return its results entry."""
        assert self.upstream.steps == [], f"{where}: upstream requests not made"
        if call.get("reload_config"):
            status = self.client.config_status
            result["revision"] = status.revision
            result["rejected"] = status.rejected
        check_call(result, call.get("expect", {}), text, where)
        return result

    def files_changed(self) -> None:
        """Tell the client its files changed (what its file watcher does on an agent's write)."""
        for kf in self.client._key_files.values():
            kf.mark_dirty()

    def ended(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        """The vector's results entry: its calls, and the acknowledgements when it has `acks`."""
        entry: dict[str, Any] = {"calls": calls}
        if "acks" in self.vector:
            self.files_changed()
            entry["acks"] = self.acks.settle()
            assert entry["acks"] == self.vector["acks"], f"{self.id}: acks"
        return entry

    def transport(self, call: dict[str, Any]) -> Any:
        """The failover transport the call's SDK would use."""
        via = call["request"].get("via")
        cls = AsyncFailoverTransport if self.aio else FailoverTransport
        return cls(self.client, self.mock, httpx, via)

    def play(self) -> dict[str, Any]:
        """Every call, in order; the vector's results entry (sync client)."""
        calls = []
        try:
            for i, call in enumerate(self.vector["calls"]):
                where = self.before(i, call)
                request = outgoing(call["request"])
                status: int | None = None
                raises, text = None, None
                try:
                    resp = self.transport(call).handle_request(request)
                except httpx.TransportError as exc:
                    raises = raised_name(exc)
                    if raises is None:
                        raise
                    attempts = attempts_of(exc)
                else:
                    text = resp.read().decode()
                    status, attempts = resp.status_code, attempts_of(resp)
                calls.append(self.after(call_result(status, raises, attempts), call, text,
                                        where))
            return self.ended(calls)
        finally:
            self.client.close()

    async def aplay(self) -> dict[str, Any]:
        """Every call, in order; the vector's results entry (async client)."""
        calls = []
        try:
            for i, call in enumerate(self.vector["calls"]):
                where = self.before(i, call)
                request = outgoing(call["request"])
                status: int | None = None
                raises, text = None, None
                try:
                    resp = await self.transport(call).handle_async_request(request)
                except httpx.TransportError as exc:
                    raises = raised_name(exc)
                    if raises is None:
                        raise
                    attempts = attempts_of(exc)
                else:
                    text = (await resp.aread()).decode()
                    status, attempts = resp.status_code, attempts_of(resp)
                calls.append(self.after(call_result(status, raises, attempts), call, text,
                                        where))
            return self.ended(calls)
        finally:
            await self.client.aclose()


def load(path: Path) -> dict[str, Any]:
    """A vector file."""
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def play(path: Path, root: Path, aio: bool) -> dict[str, Any]:
    """Play the vector at `path` in the empty folder `root`; its results entry."""
    player = Player(path.stem, load(path), root, aio)
    return asyncio.run(player.aplay()) if aio else player.play()


def run_all(root: Path, aio: bool) -> dict[str, Any]:
    """Every vector's results entry (each played in its own folder under `root`)."""
    out = {}
    for path in VECTORS:
        folder = root / path.stem
        folder.mkdir(parents=True)
        out[path.stem] = play(path, folder, aio)
    return out
