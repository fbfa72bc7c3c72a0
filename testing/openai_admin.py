"""A local HTTP server that stands in for OpenAI in rotation tests (not the real API).

It implements the parts of the OpenAI admin API the `openai-admin` driver uses,
for one organization with any number of projects:

    POST   /v1/organization/projects/{p}/service_accounts        {name} -> account + api_key.value
    GET    /v1/organization/projects/{p}/service_accounts        list (limit/after paging)
    DELETE /v1/organization/projects/{p}/service_accounts/{id}
    GET    /v1/organization/projects/{p}/api_keys                list: redacted_value, owner,
                                                                 last_used_at
    DELETE /v1/organization/projects/{p}/api_keys/{key_id}       (user keys only)

projects and their rate limits (aigw's limits and `projects: per-service`):

    POST   /v1/organization/projects                             {name} -> organization.project
    GET    /v1/organization/projects                             list (limit/after paging)
    GET    /v1/organization/projects/{p}/rate_limits             list of project.rate_limit
                                                                 (id `rl-<model>`, limit/after)
    POST   /v1/organization/projects/{p}/rate_limits/{rl}        max_requests_per_1_minute,
                                                                 max_tokens_per_1_minute,
                                                                 max_requests_per_1_day...

A project's rate limits start at the organization's (`org_limits`, per model;
`max_requests_per_1_day` only for models that have it) and can only be listed
and updated, never created or deleted, as in the real API. A value above the
organization's limit is refused (400: "may be configured to be equal to or lower
than the organization's rate limits"); so is a field the model does not have.

the organization usage and costs reports (`aigw usage`), one bucket per UTC day,
`report_page` buckets per page (paged with `page` = the previous `next_page`):

    GET    /v1/organization/usage/completions    start_time, end_time, bucket_width=1d,
                                                 group_by=api_key_id|project_id|model
    GET    /v1/organization/costs                start_time, end_time, group_by=project_id

(what they report is set by the test: `record_usage`, `record_cost`), and the
inference side consumers call with a project key, which records last use:

    GET  /v1/models             POST /v1/chat/completions

Admin routes need `Authorization: Bearer <admin_key>`. Differences from the
real API, on purpose: `last_used_at` is a float (sub-second, so tests run
fast) and updates at once. Key values never appear in logs or state dumps.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testing.stub_server import StubServer


@dataclass
class _Key:
    key_id: str
    value: str = field(repr=False)
    project: str
    name: str
    owner_type: str              # "service_account" or "user"
    account_id: str | None
    created_at: int
    last_used_at: float | None = None


class OpenAIAdminServer(StubServer):
    """Serve the stand-in from a thread on 127.0.0.1; use as a context manager."""

    methods = ("GET", "POST", "DELETE")

    def __init__(self, admin_key: str = "admin-test-key") -> None:
        super().__init__()
        self.admin_key = admin_key
        self.accounts: dict[str, dict[str, Any]] = {}   # id -> {id, name, project, created_at}
        self.keys: dict[str, _Key] = {}                  # key id -> key
        self.calls: list[tuple[str, str, int]] = []
        self.reject_models = False  # make /v1/models answer 401 (a key that fails to verify)
        self.usage_rows: list[dict[str, Any]] = []  # record_usage
        self.cost_rows: list[dict[str, Any]] = []   # record_cost
        self.report_page = 2        # buckets per page of the usage and costs reports
        self.report_status = 200    # another status: the reports answer it (an outage)
        self.projects: dict[str, dict[str, Any]] = {}  # id -> organization.project
        # The organization's limits per model: what every project's limits start at.
        self.org_limits: dict[str, dict[str, int]] = {
            "gpt-4o": {"max_requests_per_1_minute": 10000, "max_tokens_per_1_minute": 2000000},
            "gpt-4o-mini": {"max_requests_per_1_minute": 30000,
                            "max_tokens_per_1_minute": 150000000,
                            "max_requests_per_1_day": 1000000},
        }
        self.rate_limits: dict[str, dict[str, dict[str, int]]] = {}  # project -> model -> limits

    @property
    def url(self) -> str:
        """The base URL (`.../v1`), for both admin_base_url and the provider base_url."""
        return self.root + "/v1"

    # -- test helpers --------------------------------------------------------
    def add_user_key(self, project: str, value: str | None = None) -> tuple[str, str]:
        """A key owned by a user (e.g. what a team used before aigw): (key_id, value)."""
        value = value or "sk-proj-" + secrets.token_urlsafe(24)
        key = _Key("key_" + secrets.token_hex(8), value, project, "user key", "user", None,
                   int(time.time()))
        with self.lock:
            self.keys[key.key_id] = key
        return key.key_id, value

    def create_account(self, project: str, name: str) -> tuple[str, str]:
        """A service account with its key, as the admin API makes it: (account id, value)."""
        acct_id, created = "svc_acct_" + secrets.token_hex(8), int(time.time())
        acct: dict[str, Any] = {"id": acct_id, "name": name, "project": project,
                                "created_at": created}
        key = _Key("key_" + secrets.token_hex(8), "sk-svcacct-" + secrets.token_urlsafe(32),
                   project, "Secret Key", "service_account", acct_id, created)
        with self.lock:
            self.accounts[acct_id] = acct
            self.keys[key.key_id] = key
        return acct_id, key.value

    def limits_of(self, project: str) -> dict[str, dict[str, int]]:
        """PROJECT's rate limits per model (starting at the organization's)."""
        with self.lock:
            return self._limits(project)

    def _limits(self, project: str) -> dict[str, dict[str, int]]:
        return self.rate_limits.setdefault(
            project, {m: dict(v) for m, v in self.org_limits.items()})

    def set_limit(self, project: str, model: str, **values: int) -> None:
        """Change a project limit by hand (as in the dashboard): drift for `plan --refresh`."""
        with self.lock:
            self._limits(project)[model].update(values)

    def project_named(self, name: str) -> str | None:
        """The id of the (unarchived) project named NAME."""
        with self.lock:
            return next((p["id"] for p in self.projects.values() if p["name"] == name), None)

    def valid(self, value: str) -> bool:
        """True when VALUE is a live key."""
        with self.lock:
            return any(k.value == value for k in self.keys.values())

    def live_keys(self, project: str) -> list[_Key]:
        """The project's live keys."""
        with self.lock:
            return [k for k in self.keys.values() if k.project == project]

    def use(self, value: str) -> int:
        """Call chat/completions with VALUE as a consumer would; returns the status."""
        import httpx

        return httpx.post(self.url + "/chat/completions", json={"model": "m", "messages": []},
                          headers={"Authorization": f"Bearer {value}"}, timeout=5).status_code

    # -- usage and costs (what the organization reports say) ----------------
    def record_usage(self, day: str, key_id: str, project: str, model: str, *,
                     input_tokens: int, output_tokens: int, cached: int = 0,
                     requests: int = 1) -> None:
        """Report usage of KEY_ID on DAY (YYYY-MM-DD); input_tokens includes cached ones."""
        self.usage_rows.append({"day": day, "api_key_id": key_id, "project_id": project,
                                "model": model, "input_tokens": input_tokens,
                                "input_cached_tokens": cached, "output_tokens": output_tokens,
                                "num_model_requests": requests})

    def record_cost(self, day: str, project: str, value: float) -> None:
        """Report VALUE dollars charged to PROJECT on DAY."""
        self.cost_rows.append({"day": day, "project_id": project, "value": value})

    def _report(self, h: BaseHTTPRequestHandler, kind: str, q: dict[str, list[str]]) -> None:
        if self.report_status != 200:
            return self._reply(h, self.report_status, {"error": {"message": "try later"}})
        start = int(q["start_time"][0])
        end = int((q.get("end_time") or [str(start + 7 * 86400)])[0])
        groups = set(q.get("group_by") or [])
        buckets = []
        for t in range(start - start % 86400, end, 86400):
            day = time.strftime("%Y-%m-%d", time.gmtime(t))
            if kind == "usage":
                results = [{"object": "organization.usage.completions.result",
                            **{k: v for k, v in r.items() if k != "day"
                               and (k not in ("api_key_id", "project_id", "model")
                                    or k in groups)}}
                           for r in self.usage_rows if r["day"] == day]
            else:
                results = [{"object": "organization.costs.result",
                            "amount": {"value": r["value"], "currency": "usd"},
                            "line_item": None,
                            "project_id": r["project_id"] if "project_id" in groups else None}
                           for r in self.cost_rows if r["day"] == day]
            buckets.append({"object": "bucket", "start_time": t, "end_time": t + 86400,
                            "results": results})
        at = int((q.get("page") or ["0"])[0].removeprefix("page_") or 0)
        page = buckets[at:at + self.report_page]
        more = at + self.report_page < len(buckets)
        self._reply(h, 200, {"object": "page", "data": page, "has_more": more,
                             "next_page": f"page_{at + self.report_page}" if more else None})

    # -- HTTP ----------------------------------------------------------------
    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        self.send_json(h, status, body)
        self.calls.append((h.command, urlsplit(h.path).path, status))

    def _bearer(self, h: BaseHTTPRequestHandler) -> str:
        auth = h.headers.get("Authorization") or ""
        return auth[7:] if auth.startswith("Bearer ") else ""

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        parts = url.path.strip("/").split("/")
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"{}") if length else {}
        if parts[:2] == ["v1", "organization"]:
            if self._bearer(h) != self.admin_key:
                return self._reply(h, 401, {"error": {"message": "invalid admin key"}})
            if parts[2:] == ["projects"]:
                return self._projects(h, body, parse_qs(url.query))
            if len(parts) >= 5 and parts[2] == "projects" and parts[4] == "rate_limits":
                return self._rate_limits(h, parts[3], parts[5:], body, parse_qs(url.query))
            if len(parts) >= 5 and parts[2] == "projects":
                return self._admin(h, parts[3], parts[4:], body, parse_qs(url.query))
            if parts[2:] == ["usage", "completions"] or parts[2:] == ["costs"]:
                return self._report(h, "usage" if parts[2] == "usage" else "costs",
                                    parse_qs(url.query))
        if parts in (["v1", "models"], ["v1", "chat", "completions"]):
            return self._infer(h, body)
        self._reply(h, 404, {"error": {"message": f"no route {h.command} {url.path}"}})

    def _projects(self, h: BaseHTTPRequestHandler, body: dict[str, Any],
                  q: dict[str, list[str]]) -> None:
        if h.command == "POST":
            name = body.get("name")
            if not isinstance(name, str) or not name:
                return self._reply(h, 400, {"error": {"message": "name: required"}})
            project = {"id": "proj_" + secrets.token_hex(12), "object": "organization.project",
                       "name": name, "created_at": int(time.time()), "archived_at": None,
                       "status": "active"}
            with self.lock:
                self.projects[project["id"]] = project
            return self._reply(h, 200, project)
        with self.lock:
            items = list(self.projects.values())
        self._reply(h, 200, self._page(items, q))

    def _rate_limits(self, h: BaseHTTPRequestHandler, project: str, rest: list[str],
                     body: dict[str, Any], q: dict[str, list[str]]) -> None:
        def doc(model: str, values: dict[str, int]) -> dict[str, Any]:
            return {"object": "project.rate_limit", "id": f"rl-{model}", "model": model,
                    **values}

        with self.lock:
            limits = self._limits(project)
            if not rest and h.command == "GET":
                items = [doc(m, dict(v)) for m, v in sorted(limits.items())]
                q = {"limit": ["100"], **q}
                return self._reply(h, 200, self._page(items, q))
            model = rest[0].removeprefix("rl-") if len(rest) == 1 else ""
            if h.command != "POST" or model not in limits:
                return self._reply(h, 404, {"error": {"message": "No such rate limit"}})
            org = self.org_limits[model]
            for field_name, value in body.items():
                if field_name not in org:
                    return self._reply(h, 400, {"error": {
                        "message": f"{field_name} is not a rate limit of model {model}"}})
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    return self._reply(h, 400, {"error": {
                        "message": f"{field_name}: expected a whole number >= 0"}})
                if value > org[field_name]:
                    return self._reply(h, 400, {"error": {
                        "message": f"{field_name} may be configured to be equal to or lower "
                                   f"than the organization's rate limit ({org[field_name]})"}})
            limits[model].update(body)
            answer = doc(model, dict(limits[model]))
        self._reply(h, 200, answer)

    def _infer(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        value = self._bearer(h)
        with self.lock:
            key = next((k for k in self.keys.values() if k.value == value), None)
            if key is not None:
                key.last_used_at = time.time()
        if key is None or (self.reject_models and h.path.startswith("/v1/models")):
            return self._reply(h, 401, {"error": {"message": "Incorrect API key provided"}})
        # `model` echoes what was asked for, so a test sees which model a route sent.
        self._reply(h, 200, {"object": "list", "data": [{"id": "gpt-test"}],
                             "model": body.get("model")})

    def _page(self, items: list[dict[str, Any]], q: dict[str, list[str]]) -> dict[str, Any]:
        limit = int((q.get("limit") or ["20"])[0])
        after: str | None = (q.get("after") or [None])[0]  # type: ignore[list-item]
        if after is not None:
            ids = [i["id"] for i in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        page = items[:limit]
        return {"object": "list", "data": page, "has_more": len(items) > limit,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None}

    def _admin(self, h: BaseHTTPRequestHandler, project: str, rest: list[str],
               body: dict[str, Any], q: dict[str, list[str]]) -> None:
        kind = rest[0]
        if kind == "service_accounts" and len(rest) == 1 and h.command == "POST":
            acct_id, value = self.create_account(project, str(body.get("name", "")))
            key = next(k for k in self.live_keys(project) if k.account_id == acct_id)
            acct = self.accounts[acct_id]
            return self._reply(h, 201, {
                "object": "organization.project.service_account", "id": acct_id,
                "name": acct["name"], "role": "member", "created_at": acct["created_at"],
                "api_key": {"object": "organization.project.service_account.api_key",
                            "value": value, "name": key.name, "created_at": key.created_at,
                            "id": key.key_id}})
        if kind == "service_accounts" and len(rest) == 1 and h.command == "GET":
            with self.lock:
                items = [{"object": "organization.project.service_account", "id": a["id"],
                          "name": a["name"], "role": "member", "created_at": a["created_at"]}
                         for a in self.accounts.values() if a["project"] == project]
            return self._reply(h, 200, self._page(items, q))
        if kind == "service_accounts" and len(rest) == 2 and h.command == "DELETE":
            with self.lock:
                acct = self.accounts.pop(rest[1], None)  # type: ignore[arg-type]
                if acct is not None:
                    for k in [k for k in self.keys.values() if k.account_id == rest[1]]:
                        del self.keys[k.key_id]
            if acct is None:
                return self._reply(h, 404, {"error": {"message": "No such service account"}})
            return self._reply(h, 200, {"object": "organization.project.service_account.deleted",
                                        "id": rest[1], "deleted": True})
        if kind == "api_keys" and len(rest) == 1 and h.command == "GET":
            with self.lock:
                items = [self._key_json(k) for k in self.keys.values() if k.project == project]
            return self._reply(h, 200, self._page(items, q))
        if kind == "api_keys" and len(rest) == 2 and h.command == "DELETE":
            with self.lock:
                user_key = self.keys.get(rest[1])
                if user_key is not None and user_key.owner_type == "user":
                    del self.keys[rest[1]]
            if user_key is None:
                return self._reply(h, 404, {"error": {"message": "No such API key"}})
            if user_key.owner_type != "user":
                return self._reply(h, 400, {"error": {"message": "Service account keys cannot "
                                                      "be deleted; delete the account"}})
            return self._reply(h, 200, {"object": "organization.project.api_key.deleted",
                                        "id": rest[1], "deleted": True})
        self._reply(h, 404, {"error": {"message": f"no admin route {h.command} {rest}"}})

    def _key_json(self, k: _Key) -> dict[str, Any]:
        owner: dict[str, Any] = {"type": k.owner_type}
        if k.account_id:
            owner["service_account"] = {"id": k.account_id, "name": self.accounts.get(
                k.account_id, {}).get("name"), "role": "member"}
        else:
            owner["user"] = {"id": "user_test", "name": "Test User"}
        return {"object": "organization.project.api_key", "id": k.key_id, "name": k.name,
                "redacted_value": f"{k.value[:8]}...{k.value[-4:]}", "created_at": k.created_at,
                "last_used_at": k.last_used_at, "owner": owner}
