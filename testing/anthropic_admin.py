"""A local HTTP server standing in for Anthropic's Admin API and key checks (not the real API).

Written from Anthropic's public API reference, for one organization. Two parts:
the API keys that the `anthropic-admin` rotation driver manages (Admin API > API
Keys, Models > List Models), and the usage and cost reports `aigw usage` reads
(platform.claude.com, "Usage and Cost API").

API keys:

    GET  /v1/organizations/api_keys           list: limit (1-1000, default 20), after_id,
                                              before_id, status, workspace_id,
                                              created_by_user_id -> {data, has_more,
                                              first_id, last_id}
    GET  /v1/organizations/api_keys/{id}      one APIKey
    POST /v1/organizations/api_keys/{id}      update {name?, status?: active|inactive|archived}

An APIKey is `{id, type: "api_key", name, workspace_id, created_at (RFC 3339),
created_by: {id, type}, partial_key_hint, status}`; the hint is the value's first
16 characters, `...`, and its last 4 (`sk-ant-api03-R2D...igAA`). The key value is
never returned by the Admin API: keys are created in the Console, here with
`create_key` (what an operator does by hand). Admin routes need `x-api-key` = the
admin key and `anthropic-version`.

The inference side, where an API key must be `active`:

    GET  /v1/models        (the driver's verification call)
    POST /v1/messages      (what a consumer calls; a minimal Message)

Errors are `{"type": "error", "error": {"type", "message"}}` with Anthropic's
error types. Where the reference is silent the stand-in is strict, on purpose:
an archived key cannot be changed any more (400), and an unknown id is 404.
Key values never appear in its logs or state dumps.

Rate limits (Admin API > Rate Limits, Workspaces > Rate Limits):

    GET  /v1/organizations/rate_limits        model, group_type, limit, page -> the
         organization's entries {id, type: "rate_limit", group: {id, display_name, type},
         group_type, models, limits: [{type, value}]}; with `model`, the one entry
         holding that model (404 when none)
    GET  /v1/organizations/workspaces/{w}/rate_limits     include_inherited, limit, page ->
         {type: "workspace_rate_limit", workspace_id, rate_limit_id, group, group_type,
         models, limits: [{type, value, org_limit, source: {type: workspace|organization}}]}
    POST /v1/organizations/workspaces/{w}/rate_limits/{rate_limit_id}
         {limits: [{type, value: int | null}]} (1-16 items): an integer sets that limiter's
         override, null clears it, types not named keep theirs

The real API applies a change "within about an hour"; the stand-in at once.
Workspaces are `wrkspc_...` ids (others are 404).

Usage and cost reports (what is reported is set by the test: `record_usage`,
`record_cost`; one bucket per UTC day, `report_page` buckets per page):

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
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testing.stub_server import StubServer

STATUSES = ("active", "inactive", "archived")
LIMITER_TYPES = ("requests_per_minute", "input_tokens_per_minute",
                 "input_tokens_per_minute_cache_aware", "output_tokens_per_minute",
                 "enqueued_batch_requests", "tool_uses_per_second", "fast_itpmca", "fast_otpm")
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error"}


@dataclass
class StandInKey:
    """One API key of the organization (its value only for the test's own checks)."""

    key_id: str
    value: str = field(repr=False)
    name: str
    workspace_id: str | None
    created_at: str
    status: str = "active"

    @property
    def hint(self) -> str:
        """The redacted hint the Admin API shows instead of the value."""
        return f"{self.value[:16]}...{self.value[-4:]}"

    def as_json(self) -> dict[str, Any]:
        """The APIKey object."""
        return {"id": self.key_id, "type": "api_key", "name": self.name,
                "workspace_id": self.workspace_id, "created_at": self.created_at,
                "created_by": {"id": "user_01StandIn", "type": "user"},
                "partial_key_hint": self.hint, "status": self.status}


class AnthropicAdminServer(StubServer):
    """Serve the stand-in from a thread on 127.0.0.1; use as a context manager."""

    def __init__(self, admin_key: str = "sk-ant-admin-test") -> None:
        super().__init__()
        self.admin_key = admin_key
        self.keys: dict[str, StandInKey] = {}   # insertion order = creation order
        self.calls: list[tuple[str, str, int]] = []
        self.requests: list[str] = []  # paths asked for, with their query
        self.usage_rows: list[dict[str, Any]] = []
        self.cost_rows: list[dict[str, Any]] = []
        self.report_page = 3
        self.reject_models = False  # make /v1/models answer 401 (a key that fails to verify)
        # The organization's rate-limit entries (model groups) and workspace overrides.
        self.org_rate_limits: list[dict[str, Any]] = []
        self.overrides: dict[tuple[str, str], dict[str, int]] = {}  # (workspace, entry id)
        self.add_model_group("Claude Sonnet 4.x", ["claude-sonnet-4-5", "claude-sonnet-4-5-20250929"],
                             rpm=4000, itpm=2000000, otpm=400000)
        self.add_model_group("Claude Haiku 4.x", ["claude-haiku-4-5"],
                             rpm=4000, itpm=4000000, otpm=800000)

    @property
    def url(self) -> str:
        """The root URL (as `https://api.anthropic.com`): base_url and admin_base_url."""
        return self.root

    # -- test helpers (what an operator does in the Console) -----------------
    def create_key(self, name: str = "key", workspace_id: str | None = None,
                   value: str | None = None) -> tuple[str, str]:
        """Create an active key: (id, value)."""
        value = value or "sk-ant-api03-" + secrets.token_urlsafe(70)
        stamp = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        key = StandInKey("apikey_01" + secrets.token_hex(11), value, name, workspace_id, stamp)
        with self.lock:
            self.keys[key.key_id] = key
        return key.key_id, value

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

    def add_model_group(self, name: str, models: list[str], *, rpm: int, itpm: int,
                        otpm: int) -> str:
        """An organization rate-limit entry for a family of models: its id."""
        entry_id = "rl_01" + secrets.token_hex(11)
        self.org_rate_limits.append({
            "id": entry_id, "type": "rate_limit", "group_type": "model_group",
            "group": {"id": "rlg_01" + secrets.token_hex(11), "display_name": name,
                      "type": "model_group"},
            "models": list(models),
            "limits": [{"type": "requests_per_minute", "value": rpm},
                       {"type": "input_tokens_per_minute_cache_aware", "value": itpm},
                       {"type": "output_tokens_per_minute", "value": otpm}]})
        return entry_id

    def entry_for(self, model: str) -> dict[str, Any] | None:
        """The organization entry holding MODEL."""
        return next((e for e in self.org_rate_limits if model in e["models"]), None)

    def workspace_limits(self, workspace: str, model: str) -> dict[str, int]:
        """The workspace's overrides for MODEL's group (limiter type -> value)."""
        entry = self.entry_for(model)
        with self.lock:
            return dict(self.overrides.get((workspace, entry["id"]), {})) if entry else {}

    def set_workspace_limit(self, workspace: str, model: str, **values: int) -> None:
        """Change an override by hand (as in the Console): drift for `plan --refresh`."""
        entry = self.entry_for(model)
        assert entry is not None
        with self.lock:
            self.overrides.setdefault((workspace, entry["id"]), {}).update(values)

    def status(self, key_id: str) -> str:
        """The key's status."""
        with self.lock:
            return self.keys[key_id].status

    def valid(self, value: str) -> bool:
        """True when VALUE is an active key (the API accepts it)."""
        with self.lock:
            return any(k.value == value and k.status == "active" for k in self.keys.values())

    def use(self, value: str) -> int:
        """Call POST /v1/messages with VALUE as a consumer would; returns the status."""
        import httpx

        return httpx.post(self.url + "/v1/messages", timeout=5, headers={
            "x-api-key": value, "anthropic-version": "2023-06-01"},
            json={"model": "claude-test", "max_tokens": 8,
                  "messages": [{"role": "user", "content": "hi"}]}).status_code

    # -- HTTP ----------------------------------------------------------------
    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        self.send_json(h, status, body)
        self.calls.append((h.command, urlsplit(h.path).path, status))

    def _error(self, h: BaseHTTPRequestHandler, status: int, message: str) -> None:
        self._reply(h, status, {"type": "error", "error": {
            "type": ERROR_TYPES.get(status, "api_error"), "message": message}})

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        self.requests.append(h.path)
        parts = url.path.strip("/").split("/")
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        given = h.headers.get("x-api-key") or ""
        admin = parts[:2] == ["v1", "organizations"]
        if admin and given != self.admin_key:
            return self._error(h, 401, "invalid x-api-key")
        if not h.headers.get("anthropic-version"):
            return self._error(h, 400, "anthropic-version: header is required")
        if admin and h.command == "GET" and parts[2:] in (["usage_report", "messages"],
                                                          ["cost_report"]):
            return self._reply(h, 200, self._report(parts[2], parse_qs(url.query)))
        if admin and (parts[2:] == ["rate_limits"] or parts[2:3] == ["workspaces"]):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._error(h, 400, "the body is not JSON")
            return self._rate_limits(h, parts[2:], body, parse_qs(url.query))
        if parts[:3] == ["v1", "organizations", "api_keys"]:
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._error(h, 400, "the body is not JSON")
            return self._admin(h, parts[3:], body, parse_qs(url.query))
        if (h.command, parts) in (("GET", ["v1", "models"]), ("POST", ["v1", "messages"])):
            return self._infer(h, given, parts[1])
        self._error(h, 404, f"no route {h.command} {url.path}")

    def _rate_limits(self, h: BaseHTTPRequestHandler, rest: list[str], body: dict[str, Any],
                     q: dict[str, list[str]]) -> None:
        def one(name: str) -> str | None:
            return (q.get(name) or [None])[0]

        if rest == ["rate_limits"] and h.command == "GET":
            items = [e for e in self.org_rate_limits
                     if one("group_type") in (None, e["group_type"])]
            if one("model") is not None:
                items = [e for e in items if one("model") in e["models"]]
                if not items:
                    return self._error(h, 404, f"model {one('model')} has no rate limits")
            return self._reply(h, 200, {"data": items, "has_more": False, "next_page": None})
        if len(rest) < 3 or rest[2] != "rate_limits" or not rest[1].startswith("wrkspc_"):
            return self._error(h, 404, f"no route {h.command} {'/'.join(rest)}")
        workspace = rest[1]
        if len(rest) == 3 and h.command == "GET":
            inherited = one("include_inherited") == "true"
            with self.lock:
                data = [d for e in self.org_rate_limits
                        if (d := self._workspace_entry(workspace, e, inherited))["limits"]]
            return self._reply(h, 200, {"data": data, "has_more": False, "next_page": None})
        if len(rest) != 4 or h.command != "POST":
            return self._error(h, 404, f"no route {h.command} {'/'.join(rest)}")
        entry = next((e for e in self.org_rate_limits if e["id"] == rest[3]), None)
        if entry is None:
            return self._error(h, 404, "rate limit not found")
        limits = body.get("limits")
        if not isinstance(limits, list) or not 1 <= len(limits) <= 16:
            return self._error(h, 400, "limits: between 1 and 16 items are required")
        for item in limits:
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(item, dict) or item.get("type") not in LIMITER_TYPES or not (
                    value is None or (isinstance(value, int) and not isinstance(value, bool)
                                      and value >= 0)):
                return self._error(h, 400, f"limits: invalid item {item!r}")
        with self.lock:
            stored = self.overrides.setdefault((workspace, entry["id"]), {})
            for item in limits:
                if item["value"] is None:
                    stored.pop(item["type"], None)
                else:
                    stored[item["type"]] = item["value"]
            doc = self._workspace_entry(workspace, entry, False)
        self._reply(h, 200, doc)

    def _workspace_entry(self, workspace: str, entry: dict[str, Any],
                         inherited: bool) -> dict[str, Any]:
        org = {lim["type"]: lim["value"] for lim in entry["limits"]}
        own = self.overrides.get((workspace, entry["id"]), {})
        limits = [{"type": t, "value": v, "org_limit": org.get(t),
                   "source": {"type": "workspace"}} for t, v in sorted(own.items())]
        if inherited:
            limits += [{"type": t, "value": v, "org_limit": v,
                        "source": {"type": "organization"}}
                       for t, v in sorted(org.items()) if t not in own]
        return {"type": "workspace_rate_limit", "workspace_id": workspace,
                "rate_limit_id": entry["id"], "group": entry["group"],
                "group_type": entry["group_type"], "models": entry["models"], "limits": limits}

    def _infer(self, h: BaseHTTPRequestHandler, given: str, what: str) -> None:
        if not self.valid(given) or (self.reject_models and what == "models"):
            return self._error(h, 401, "invalid x-api-key")
        if what == "models":
            model = {"type": "model", "id": "claude-test", "display_name": "Claude Test",
                     "created_at": "2025-01-01T00:00:00Z"}
            return self._reply(h, 200, {"data": [model], "has_more": False,
                                        "first_id": "claude-test", "last_id": "claude-test"})
        self._reply(h, 200, {"id": "msg_" + secrets.token_hex(8), "type": "message",
                             "role": "assistant", "model": "claude-test",
                             "content": [{"type": "text", "text": "ok"}],
                             "stop_reason": "end_turn", "stop_sequence": None,
                             "usage": {"input_tokens": 1, "output_tokens": 1}})

    def _admin(self, h: BaseHTTPRequestHandler, rest: list[str], body: dict[str, Any],
               q: dict[str, list[str]]) -> None:
        if not rest and h.command == "GET":
            return self._list(h, q)
        if len(rest) != 1:
            return self._error(h, 404, f"no route {h.command} {'/'.join(rest)}")
        with self.lock:
            key = self.keys.get(rest[0])
            if key is None:
                return self._error(h, 404, "API key not found")
            if h.command == "POST":
                status = body.get("status")
                if status is not None and status not in STATUSES:
                    return self._error(h, 400, f"status: must be one of {', '.join(STATUSES)}")
                if key.status == "archived" and (status or body.get("name")):
                    return self._error(h, 400, "archived API keys cannot be modified")
                key.status = status or key.status
                key.name = str(body.get("name") or key.name)
            doc = key.as_json()
        self._reply(h, 200, doc)

    def _list(self, h: BaseHTTPRequestHandler, q: dict[str, list[str]]) -> None:
        def one(name: str) -> str | None:
            return (q.get(name) or [None])[0]

        limit = int(one("limit") or 20)
        if not 1 <= limit <= 1000:
            return self._error(h, 400, "limit: must be between 1 and 1000")
        with self.lock:  # newest first, as the Console lists them
            items = [k.as_json() for k in reversed(self.keys.values())
                     if one("status") in (None, k.status)
                     and one("workspace_id") in (None, k.workspace_id)]
        ids = [i["id"] for i in items]
        after, before = one("after_id"), one("before_id")
        if after is not None:
            items = items[ids.index(after) + 1:] if after in ids else []
        elif before is not None:
            items = items[:ids.index(before)][-limit:] if before in ids else []
        page = items[:limit]
        self._reply(h, 200, {"data": page, "has_more": len(items) > limit,
                             "first_id": page[0]["id"] if page else None,
                             "last_id": page[-1]["id"] if page else None})

    def _report(self, kind: str, q: dict[str, list[str]]) -> dict[str, Any]:
        """One page of the usage or cost report: daily buckets of the recorded rows."""
        if kind == "usage_report":
            rows, keep = self.usage_rows, ("api_key_id", "workspace_id", "model")
        else:
            rows, keep = self.cost_rows, ("workspace_id", "description")
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
        return {"data": buckets[at:at + self.report_page], "has_more": more,
                "next_page": f"page_{at + self.report_page}" if more else None}
