"""A local HTTP server standing in for Anthropic's Admin usage and cost reports (not the real API).

Written from the public API reference (platform.claude.com, "Usage and Cost API"):

    GET /v1/organizations/usage_report/messages   starting_at, ending_at (RFC 3339),
        bucket_width=1d, group_by[]=api_key_id|workspace_id|model, page
        -> {"data": [{"starting_at", "ending_at", "results": [{"api_key_id",
            "workspace_id", "model", "service_tier", "context_window",
            "uncached_input_tokens", "cache_read_input_tokens", "cache_creation":
            {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}, "output_tokens",
            "server_tool_use": {"web_search_requests"}}]}], "has_more", "next_page"}
    GET /v1/organizations/cost_report              starting_at, ending_at,
        group_by[]=workspace_id|description, page
        -> results [{"currency": "USD", "amount": "<lowest currency unit (cents), decimal
            string>", "workspace_id", "description", "cost_type", ...}]

Requests need ``x-api-key: <admin key>`` and ``anthropic-version``. One bucket per
UTC day, `report_page` buckets per page. What is reported is set by the test
(`record_usage`, `record_cost`).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class AnthropicAdminServer:
    """Serve the stand-in from a thread on 127.0.0.1; use as a context manager."""

    def __init__(self, admin_key: str = "sk-ant-admin-test") -> None:
        self.admin_key = admin_key
        self.usage_rows: list[dict[str, Any]] = []
        self.cost_rows: list[dict[str, Any]] = []
        self.report_page = 3
        self.requests: list[str] = []  # paths asked for, with their query
        self._server: ThreadingHTTPServer | None = None

    def record_usage(self, day: str, key_id: str, workspace: str, model: str, *,
                     uncached: int, output: int, cache_read: int = 0,
                     cache_5m: int = 0, cache_1h: int = 0) -> None:
        """Report usage of KEY_ID on DAY (YYYY-MM-DD)."""
        self.usage_rows.append({"day": day, "api_key_id": key_id, "workspace_id": workspace,
                                "model": model, "uncached_input_tokens": uncached,
                                "cache_read_input_tokens": cache_read,
                                "cache_creation": {"ephemeral_5m_input_tokens": cache_5m,
                                                   "ephemeral_1h_input_tokens": cache_1h},
                                "output_tokens": output,
                                "server_tool_use": {"web_search_requests": 0}})

    def record_cost(self, day: str, workspace: str, cents: str) -> None:
        """Report CENTS (a decimal string, lowest currency unit) for WORKSPACE on DAY."""
        self.cost_rows.append({"day": day, "workspace_id": workspace, "amount": cents})

    def start(self) -> AnthropicAdminServer:
        """Listen on a free 127.0.0.1 port."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def do_GET(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> AnthropicAdminServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root (as api.anthropic.com)."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        self.requests.append(h.path)
        if h.headers.get("x-api-key") != self.admin_key:
            return self._reply(h, 401, {"type": "error", "error": {
                "type": "authentication_error", "message": "invalid x-api-key"}})
        if not h.headers.get("anthropic-version"):
            return self._reply(h, 400, {"type": "error", "error": {
                "type": "invalid_request_error", "message": "anthropic-version: header is required"}})
        q = parse_qs(url.query)
        if url.path == "/v1/organizations/usage_report/messages":
            rows, keep = self.usage_rows, ("api_key_id", "workspace_id", "model")
        elif url.path == "/v1/organizations/cost_report":
            rows, keep = self.cost_rows, ("workspace_id", "description")
        else:
            return self._reply(h, 404, {"type": "error", "error": {
                "type": "not_found_error", "message": url.path}})
        groups = set(q.get("group_by[]") or [])
        start = dt.datetime.fromisoformat(q["starting_at"][0].replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(
            (q.get("ending_at") or [(start + dt.timedelta(days=7)).isoformat()])[0]
            .replace("Z", "+00:00"))
        buckets = []
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            nxt = day + dt.timedelta(days=1)
            results = []
            for r in rows:
                if r["day"] != day.date().isoformat():
                    continue
                out = {k: (v if k not in keep or k in groups else None)
                       for k, v in r.items() if k != "day"}
                if "amount" in out:
                    out["currency"] = "USD"
                results.append(out)
            buckets.append({"starting_at": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "ending_at": nxt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "results": results})
            day = nxt
        at = int((q.get("page") or ["0"])[0].removeprefix("page_") or 0)
        more = at + self.report_page < len(buckets)
        self._reply(h, 200, {"data": buckets[at:at + self.report_page], "has_more": more,
                             "next_page": f"page_{at + self.report_page}" if more else None})
