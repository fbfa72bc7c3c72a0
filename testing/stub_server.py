"""The HTTP plumbing every admin-API stand-in shares (not a real API).

A stand-in subclasses `StubServer` and answers each request in `_handle(handler)`
(a `BaseHTTPRequestHandler`: method, path, headers, body, and the response to
write). `StubServer` serves it from a thread on 127.0.0.1, keeps connections
alive (HTTP/1.1, no Nagle delay), and on `stop()` drops the open keep-alive
connections, as a provider outage would. Use it as a context manager.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar

S = TypeVar("S", bound="StubServer")


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # come back on the same port right after stop()
    daemon_threads = True
    request_queue_size = 128    # many consumers connect at once under load


class StubServer:
    """Serve `_handle` from a thread on 127.0.0.1 (a free port, or the one given)."""

    methods: ClassVar[tuple[str, ...]] = ("GET", "POST")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.port = 0
        self._server: _Server | None = None
        self._conns: set[socket.socket] = set()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    @staticmethod
    def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        """Answer the request with STATUS and BODY as JSON."""
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def start(self: S, port: int = 0) -> S:
        """Listen on PORT (a free one by default; pass the old port to come back after stop)."""
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are two writes: without TCP_NODELAY, Nagle and the
            # client's delayed ACK hold the body ~40 ms on a kept-alive connection.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def setup(self) -> None:
                super().setup()
                with stub.lock:
                    stub._conns.add(self.connection)

            def finish(self) -> None:
                with stub.lock:
                    stub._conns.discard(self.connection)
                super().finish()

            def _go(self) -> None:
                stub._handle(self)

        for method in self.methods:
            setattr(Handler, f"do_{method}", Handler._go)
        self._server = _Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections (as a provider outage would)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root(self) -> str:
        """`http://127.0.0.1:PORT` while serving."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"
