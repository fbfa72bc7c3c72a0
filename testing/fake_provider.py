"""A local OpenAI-compatible LLM provider for tests, the demo and benchmarks.

It checks Bearer keys against its set of valid keys, injects faults on demand
(400, 429, 500, 503, slow answers, refused connections, streams cut after the
first chunk), and counts calls per key fingerprint (sha256[:12]; key values are never
logged or returned, except a freshly minted key to the caller that minted it).

Use it in-process::

    with FakeProvider("deepseek", keys=["sk-1"]) as fake:
        httpx.post(fake.base_url + "/chat/completions", ...)
        fake.set_mode("503")

or as a process (the demo and the benchmarks do)::

    python -m testing.fake_provider --port 0 --keys-file keys.txt --control-port 0

which prints one JSON line ``{"url": ..., "control_url": ...}`` once listening.
Other processes drive it over HTTP under ``/_fake/`` (see `FakeProviderControl`).
The control port stays up while the provider refuses connections.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from aigw.client.keys import fingerprint  # the one definition (the runtime's)

MODES = ("ok", "400", "429", "500", "503", "slow", "refuse", "cut")
_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 400: "Bad Request",
            429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class LogEntry(NamedTuple):
    """One provider call: wall-clock time, key fingerprint ('' if none), status."""

    time: float
    key_fingerprint: str
    status: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # socketserver's 5 resets bursts of new connections
    fake: FakeProvider
    admin_only: bool
    connections: set[socket.socket]

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeouts, refuse mode) is normal here: stay quiet."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host."""
        socketserver.TCPServer.server_bind(self)
        host, self.server_port = self.server_address[:2]
        self.server_name = str(host)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the fake is on the hot path of benchmarks."""

    def _dispatch(self) -> None:
        self.server.fake._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


def _close(server: _Server) -> None:
    """Stop listening and drop open connections (keep-alive ones too: refuse means refuse)."""
    server.shutdown()
    server.server_close()
    for conn in list(server.connections):
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _reply(h: BaseHTTPRequestHandler, status: int, body: bytes, provider: str,
           ctype: str = "application/json") -> None:
    """Write the whole response in one send (no Nagle/delayed-ACK stalls)."""
    head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"x-fake-provider: {provider}\r\n\r\n")
    h.wfile.write(head.encode() + body)


def _error(status: int, message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()


class FakeProvider:
    """An OpenAI-compatible HTTP provider on 127.0.0.1, served from a thread."""

    def __init__(self, name: str = "fake", keys: Iterable[str] = (), *, port: int = 0,
                 host: str = "127.0.0.1", control_port: int | None = None,
                 keys_file: str | os.PathLike[str] | None = None,
                 log_size: int = 100_000) -> None:
        self.name = name
        self.host = host
        self.port = port
        self._keys: dict[str, str] = {k: fingerprint(k) for k in keys}
        self._keys_file = Path(keys_file) if keys_file else None
        self._keys_sig: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self._mode, self._mode_seconds = "ok", 0.0
        self._mode_left: int | None = None
        self._calls: dict[str, int] = {}
        self._first_used: dict[str, float] = {}
        self._last_used: dict[str, float] = {}
        self._log: deque[LogEntry] = deque(maxlen=log_size)
        self.total_calls = 0
        self.last_request: dict[str, Any] | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._control: _Server | None = None
        self._control_port = control_port
        self._stop = threading.Event()
        if self._keys_file is not None:
            self._load_keys_file()

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> FakeProvider:
        """Start listening (and the control server, when a control port was given)."""
        self._listen()
        if self._control_port is not None and self._control is None:
            self._control, _ = self._serve(self._control_port, admin_only=True)
            self._control_port = self._control.server_address[1]
        if self._keys_file is not None:
            threading.Thread(target=self._watch_keys_file, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self._stop.set()
        self._unlisten()
        if self._control is not None:
            _close(self._control)
            self._control = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The provider's root URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (``.../v1``) to put in a route."""
        return self.url + "/v1"

    @property
    def control_url(self) -> str | None:
        """The control server's URL, or None when it was not asked for."""
        return None if self._control is None else f"http://{self.host}:{self._control_port}"

    def _serve(self, port: int, admin_only: bool) -> tuple[_Server, threading.Thread]:
        server = _Server((self.host, port), _Handler)
        server.fake, server.admin_only, server.connections = self, admin_only, set()
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  name=f"fake-{self.name}", daemon=True)
        thread.start()
        return server, thread

    def _listen(self) -> None:
        if self._server is None:
            self._server, self._thread = self._serve(self.port, admin_only=False)
            self.port = self._server.server_address[1]

    def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            _close(server)

    # -- control -----------------------------------------------------------
    def add_key(self, key: str) -> str:
        """Accept `key` from now on; returns its fingerprint."""
        with self._lock:
            self._keys[key] = fingerprint(key)
            self._save_keys_file()
        return self._keys[key]

    def mint_key(self) -> str:
        """Create, accept and return a new random key (what a provider's admin API does)."""
        key = "sk-fake-" + secrets.token_urlsafe(24)
        self.add_key(key)
        return key

    def revoke_key(self, key: str | None = None, *, key_fingerprint: str | None = None) -> bool:
        """Stop accepting a key (by value or fingerprint); True if it was valid."""
        with self._lock:
            gone = [k for k, fp in self._keys.items() if k == key or fp == key_fingerprint]
            for k in gone:
                del self._keys[k]
            self._save_keys_file()
        return bool(gone)

    def set_keys(self, keys: Iterable[str]) -> None:
        """Replace the whole set of valid keys."""
        with self._lock:
            self._keys = {k: fingerprint(k) for k in keys}
            self._save_keys_file()

    def key_fingerprints(self) -> list[str]:
        """Fingerprints of the currently valid keys."""
        return sorted(self._keys.values())

    def set_mode(self, mode: str, seconds: float = 0.0, count: int | None = None) -> None:
        """Inject a fault: one of MODES.

        `seconds` is the delay of ``slow``; `count` makes a per-request mode go
        back to ``ok`` after that many requests.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        with self._lock:
            self._mode, self._mode_seconds, self._mode_left = mode, seconds, count
        if mode == "refuse":
            self._unlisten()
        else:
            self._listen()

    @property
    def mode(self) -> str:
        """The current fault mode."""
        return self._mode

    def calls_for(self, key: str) -> int:
        """How many calls presented `key`."""
        return self._calls.get(fingerprint(key), 0)

    def call_counts(self) -> dict[str, int]:
        """Calls per key fingerprint."""
        return dict(self._calls)

    def first_used(self, key: str) -> float | None:
        """Wall-clock time of the first call that presented `key`."""
        return self._first_used.get(fingerprint(key))

    def last_used(self, key: str) -> float | None:
        """Wall-clock time of the last call that presented `key`."""
        return self._last_used.get(fingerprint(key))

    def log(self) -> list[LogEntry]:
        """Every call so far (bounded): (time, key fingerprint, status)."""
        return list(self._log)

    def reset_stats(self) -> None:
        """Forget counts, timestamps and the log (keys and mode stay)."""
        with self._lock:
            self._calls.clear()
            self._first_used.clear()
            self._last_used.clear()
            self._log.clear()
            self.total_calls = 0
            self.last_request = None

    def state(self) -> dict[str, Any]:
        """A JSON-able snapshot (fingerprints only, never key values)."""
        with self._lock:
            return {"name": self.name, "mode": self._mode, "mode_seconds": self._mode_seconds,
                    "keys": sorted(self._keys.values()), "total_calls": self.total_calls,
                    "calls": dict(self._calls), "first_used": dict(self._first_used),
                    "last_used": dict(self._last_used), "log": [list(e) for e in self._log],
                    "last_request": self.last_request}

    # -- keys file ---------------------------------------------------------
    def _load_keys_file(self) -> None:
        assert self._keys_file is not None
        try:
            st = self._keys_file.stat()
            text = self._keys_file.read_text()
        except FileNotFoundError:
            return
        keys = [line.strip() for line in text.splitlines() if line.strip()]
        with self._lock:
            self._keys = {k: fingerprint(k) for k in keys}
            self._keys_sig = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _save_keys_file(self) -> None:
        """Persist the keys (caller holds the lock) so a restart keeps them."""
        if self._keys_file is None:
            return
        tmp = self._keys_file.with_name(self._keys_file.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(k + "\n" for k in self._keys))
        tmp.replace(self._keys_file)
        st = self._keys_file.stat()
        self._keys_sig = (st.st_ino, st.st_mtime_ns, st.st_size)

    def _watch_keys_file(self) -> None:
        assert self._keys_file is not None
        while not self._stop.wait(0.2):
            try:
                st = self._keys_file.stat()
            except OSError:
                continue
            if (st.st_ino, st.st_mtime_ns, st.st_size) != self._keys_sig:
                self._load_keys_file()

    # -- request handling --------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        path = h.path.split("?", 1)[0]
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        if path.startswith("/_fake/"):
            _control_request(self, h, path, raw)
        elif h.server.admin_only:
            _reply(h, 404, _error(404, "control port: only /_fake/ here", "not_found"), self.name)
        elif path in ("/v1/chat/completions", "/chat/completions", "/v1/responses",
                      "/responses", "/v1/embeddings", "/embeddings") and h.command == "POST":
            self._provider_call(h, raw, chat=True, path=path)
        elif path in ("/v1/models", "/models") and h.command == "GET":
            self._provider_call(h, raw, chat=False)
        else:
            _reply(h, 404, _error(404, f"no route {h.command} {path}", "not_found"), self.name)

    def admit(self, key: str, raw: bytes, parse: bool) -> tuple[int, str, dict[str, Any]]:
        """Apply the fault mode and the key check to one call; count and log it.

        Returns (status, mode, JSON body): status is the injected one, 401 for a key
        that is not valid, 400 for a body that is not JSON, else 200.
        """
        now = time.time()
        with self._lock:
            mode, seconds = self._mode, self._mode_seconds
            if mode != "ok" and self._mode_left is not None:
                self._mode_left -= 1
                if self._mode_left <= 0:
                    self._mode, self._mode_left = "ok", None
            fp = self._keys.get(key) or (fingerprint(key) if key else "")
            valid = key in self._keys
        if mode == "slow":
            time.sleep(seconds)
        status = 200
        if mode in ("400", "429", "500", "503"):
            status = int(mode)
        elif not valid:
            status = 401
        body: dict[str, Any] = {}
        if parse and status == 200:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                status = 400
        with self._lock:
            self.total_calls += 1
            if fp:
                self._calls[fp] = self._calls.get(fp, 0) + 1
                self._first_used.setdefault(fp, now)
                self._last_used[fp] = now
            self._log.append(LogEntry(now, fp, status))
            if parse and status == 200:
                self.last_request = body
        return status, mode, body

    def _provider_call(self, h: _Handler, raw: bytes, chat: bool,
                       path: str = "/chat/completions") -> None:
        auth = h.headers.get("Authorization") or ""
        key = auth[7:] if auth[:7].lower() == "bearer " else ""
        status, mode, body = self.admit(key, raw, parse=chat)
        if status == 401:
            _reply(h, 401, _error(401, "Incorrect API key provided.", "invalid_request_error"),
                   self.name)
        elif status != 200:
            _reply(h, status, _error(status, f"injected {status}", "server_error"), self.name)
        elif not chat:
            models = {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "owned_by": self.name}]}
            _reply(h, 200, json.dumps(models).encode(), self.name)
        elif path.endswith("/responses"):
            if body.get("stream"):
                self._sse(h, _response_events(self.name, body), cut=mode == "cut", done=False)
            else:
                _reply(h, 200, json.dumps(_response(self.name, body)).encode(), self.name)
        elif path.endswith("/embeddings"):
            _reply(h, 200, json.dumps(_embeddings(body)).encode(), self.name)
        elif body.get("stream"):
            self._stream(h, body, cut=mode == "cut")
        else:
            _reply(h, 200, json.dumps(_completion(self.name, body)).encode(), self.name)

    def _sse(self, h: _Handler, events: Iterable[tuple[str | None, dict[str, Any]]],
             cut: bool, done: bool) -> None:
        """Write server-sent events (``event:`` name optional), chunked; `cut` after one."""
        head = ("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                f"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n"
                f"x-fake-provider: {self.name}\r\n\r\n")
        h.wfile.write(head.encode())
        for i, (name, event) in enumerate(events):
            data = (f"event: {name}\n".encode() if name else b"") + b"data: " + \
                json.dumps(event).encode() + b"\n\n"
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if cut and i == 0:
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
        end = b"data: [DONE]\n\n" if done else b""
        if end:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(end), end))
        h.wfile.write(b"0\r\n\r\n")

    def _stream(self, h: _Handler, body: dict[str, Any], cut: bool) -> None:
        self._sse(h, ((None, c) for c in _stream_chunks(self.name, body)), cut, done=True)


def _reply_text(body: dict[str, Any]) -> str:
    messages = body.get("messages") or [{}]
    last = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    return f"echo: {str(last)[:200]}"


def sample(schema: Any, text: str = "echo") -> Any:
    """A value that satisfies a (simple) JSON schema: what a model asked for it answers."""
    if not isinstance(schema, dict):
        return text
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {k: sample(v, text) for k, v in props.items()}
    if kind == "array":
        return [sample(schema.get("items"), text)]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(str(kind), text)


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    """The function a chat request forces (tool_choice names one), else None."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        for tool in body.get("tools") or []:
            fn = tool.get("function") or {}
            if fn.get("name") == name:
                return dict(fn)
    return None


def _completion(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    text = _reply_text(body)
    fmt = body.get("response_format") or {}
    tool = _forced_tool(body)
    message: dict[str, Any] = {"role": "assistant", "content": f"[{provider}] {text}"}
    finish = "stop"
    if fmt.get("type") == "json_schema":
        message["content"] = json.dumps(sample((fmt.get("json_schema") or {}).get("schema"),
                                               f"[{provider}] {text}"))
    if tool is not None:
        message = {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_" + secrets.token_hex(6), "type": "function",
            "function": {"name": tool["name"],
                         "arguments": json.dumps(sample(tool.get("parameters")))}}]}
        finish = "tool_calls"
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages") or []
                 if isinstance(m, dict))
    done = len(text.split())
    return {"id": "chatcmpl-" + secrets.token_hex(6), "object": "chat.completion",
            "created": int(time.time()), "model": body.get("model", ""), "provider": provider,
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": done,
                      "total_tokens": prompt + done}}


def _input_text(body: dict[str, Any]) -> str:
    items = body.get("input")
    if isinstance(items, list) and items:
        last = items[-1]
        content = last.get("content", "") if isinstance(last, dict) else last
        if isinstance(content, list):
            content = " ".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
        return str(content)
    return str(items or "")


def _response(provider: str, body: dict[str, Any], status: str = "completed"
              ) -> dict[str, Any]:
    """A Responses API object (POST /v1/responses) echoing the last input."""
    text = f"[{provider}] echo: {_input_text(body)[:200]}"
    fmt = (body.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        text = json.dumps(sample(fmt.get("schema"), text))
    return {"id": "resp_" + secrets.token_hex(6), "object": "response",
            "created_at": int(time.time()), "status": status, "model": body.get("model", ""),
            "provider": provider, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": body.get("tools") or [], "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "metadata": {}, "temperature": 1.0,
            "top_p": 1.0,
            "output": [{"type": "message", "id": "msg_" + secrets.token_hex(6),
                        "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": text,
                                     "annotations": []}]}],
            "usage": {"input_tokens": 1, "output_tokens": len(text.split()),
                      "total_tokens": 1 + len(text.split()),
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


def _response_events(provider: str, body: dict[str, Any]
                     ) -> Iterable[tuple[str, dict[str, Any]]]:
    done = _response(provider, body)
    item = done["output"][0]
    started = {**done, "status": "in_progress", "output": [], "usage": None}
    yield "response.created", {"type": "response.created", "sequence_number": 0,
                               "response": started}
    for i, word in enumerate(item["content"][0]["text"].split(" ")):
        yield "response.output_text.delta", {
            "type": "response.output_text.delta", "sequence_number": i + 1,
            "item_id": item["id"], "output_index": 0, "content_index": 0,
            "delta": word if i == 0 else " " + word, "logprobs": []}
    yield "response.completed", {"type": "response.completed", "sequence_number": 10_000,
                                 "response": done}


def _embeddings(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body.get("input")
    items = inputs if isinstance(inputs, list) else [inputs]
    return {"object": "list", "model": body.get("model", ""),
            "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                     for i, _ in enumerate(items)],
            "usage": {"prompt_tokens": 1, "total_tokens": 1}}


def _stream_chunks(provider: str, body: dict[str, Any]) -> Iterable[dict[str, Any]]:
    base = {"id": "chatcmpl-" + secrets.token_hex(6), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": body.get("model", ""), "provider": provider}
    # With stream_options.include_usage, every chunk carries "usage": null and a last
    # chunk with no choices carries the counts (as OpenAI streams them).
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    if with_usage:
        base["usage"] = None
    yield {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                "finish_reason": None}]}
    for word in f"[{provider}] {_reply_text(body)}".split(" "):
        yield {**base, "choices": [{"index": 0, "delta": {"content": word + " "},
                                    "finish_reason": None}]}
    yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if with_usage:
        usage = _completion(provider, body)["usage"]
        yield {**base, "choices": [], "usage": usage}


def _control_request(fake: FakeProvider, h: _Handler, path: str, raw: bytes) -> None:
    """Serve ``/_fake/...``: the same control methods over HTTP, as JSON."""
    try:
        arg: dict[str, Any] = json.loads(raw) if raw else {}
        out: Any
        if path == "/_fake/health":
            out = {"ok": True, "mode": fake.mode}
        elif path == "/_fake/state":
            out = fake.state()
        elif path == "/_fake/keys" and h.command == "POST" and arg.get("key"):
            out = {"fingerprint": fake.add_key(arg["key"])}
        elif path == "/_fake/keys" and h.command == "POST":
            key = fake.mint_key()
            out = {"key": key, "fingerprint": fingerprint(key)}
        elif path == "/_fake/keys" and h.command == "PUT":
            fake.set_keys(arg["keys"])
            out = {"keys": fake.key_fingerprints()}
        elif path == "/_fake/keys/revoke" and h.command == "POST":
            out = {"revoked": fake.revoke_key(arg.get("key"),
                                              key_fingerprint=arg.get("fingerprint"))}
        elif path == "/_fake/mode" and h.command == "POST":
            fake.set_mode(arg["mode"], float(arg.get("seconds", 0.0)), arg.get("count"))
            out = {"mode": fake.mode}
        elif path == "/_fake/reset" and h.command == "POST":
            fake.reset_stats()
            out = {"ok": True}
        else:
            _reply(h, 404, _error(404, f"no control route {h.command} {path}", "not_found"),
                   fake.name)
            return
    except (KeyError, TypeError, ValueError) as exc:
        _reply(h, 400, _error(400, f"bad control request: {type(exc).__name__}: {exc}",
                              "invalid_request_error"), fake.name)
        return
    _reply(h, 200, json.dumps(out).encode(), fake.name)


class FakeProviderControl:
    """Drives a fake provider in another process through its ``/_fake/`` endpoints."""

    def __init__(self, control_url: str, http: httpx.Client | None = None) -> None:
        self.control_url = control_url.rstrip("/")
        self._http = http or httpx.Client(timeout=10.0)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = self._http.request(method, self.control_url + path, json=body)
        resp.raise_for_status()
        return resp.json()

    def add_key(self, key: str) -> str:
        """Accept `key`; returns its fingerprint."""
        return str(self._call("POST", "/_fake/keys", {"key": key})["fingerprint"])

    def mint_key(self) -> str:
        """Create, accept and return a new key."""
        return str(self._call("POST", "/_fake/keys", {})["key"])

    def revoke_key(self, key: str | None = None, *, key_fingerprint: str | None = None) -> bool:
        """Stop accepting a key (by value or fingerprint)."""
        body = {"key": key, "fingerprint": key_fingerprint}
        return bool(self._call("POST", "/_fake/keys/revoke", body)["revoked"])

    def set_keys(self, keys: Iterable[str]) -> None:
        """Replace the set of valid keys."""
        self._call("PUT", "/_fake/keys", {"keys": list(keys)})

    def set_mode(self, mode: str, seconds: float = 0.0, count: int | None = None) -> None:
        """Inject a fault (see `FakeProvider.set_mode`)."""
        self._call("POST", "/_fake/mode", {"mode": mode, "seconds": seconds, "count": count})

    def state(self) -> dict[str, Any]:
        """The provider's counts, timestamps, log and mode (fingerprints only)."""
        return dict(self._call("GET", "/_fake/state"))

    def calls_for(self, key: str) -> int:
        """How many calls presented `key`."""
        return int(self.state()["calls"].get(fingerprint(key), 0))

    def reset_stats(self) -> None:
        """Forget counts, timestamps and the log."""
        self._call("POST", "/_fake/reset", {})

    def close(self) -> None:
        """Close the HTTP client."""
        self._http.close()


def main(argv: list[str] | None = None, cls: type[FakeProvider] | None = None,
         prog: str = "python -m testing.fake_provider") -> int:
    """Run a fake provider (or a subclass) until SIGTERM/SIGINT; print its URLs as JSON."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--name", default="fake", help="provider name echoed in responses")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--control-port", type=int, default=None,
                   help="separate port for /_fake/ (stays up in 'refuse' mode); 0 = free")
    p.add_argument("--keys-file", help="valid keys, one a line; re-read when it changes")
    p.add_argument("--key", action="append", default=[], help="a valid key (repeatable)")
    args = p.parse_args(argv)
    fake = (cls or FakeProvider)(args.name, args.key, port=args.port, host=args.host,
                                 control_port=args.control_port, keys_file=args.keys_file)
    if args.keys_file and args.key:
        for k in args.key:
            fake.add_key(k)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    fake.start()
    print(json.dumps({"name": fake.name, "url": fake.url, "base_url": fake.base_url,
                      "control_url": fake.control_url}), flush=True)
    stop.wait()
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
