"""The providers' own usage and cost reports, read over their admin APIs.

Each source turns a provider's paginated report into `UsageRow`s (tokens by
aigw's billed classes, per day, key id, project/workspace and model) and
`CostRow`s (what the provider says it charged, per day and project/workspace):

- OpenAI: ``GET /v1/organization/usage/completions`` (``group_by=api_key_id,
  project_id, model``, ``bucket_width=1d``) and ``GET /v1/organization/costs``
  (``group_by=project_id``; costs are per project only), paged by ``next_page``;
- Bedrock: AWS Cost Explorer, by the calling principal's tag (usage/bedrock.py);
- Anthropic: ``GET /v1/organizations/usage_report/messages`` (``group_by[]=api_key_id,
  workspace_id, model``) and ``GET /v1/organizations/cost_report`` (``group_by[]=
  workspace_id``; amounts in the currency's lowest unit, cents), paged by ``next_page``.

Admin keys come from the variables the provider's settings name (the rotation
driver's ``admin_key_env``), never from argv; they never appear in errors.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from aigw.apis import APIS
from aigw.envvars import ANTHROPIC_ADMIN_KEY, OPENAI_ADMIN_KEY
from aigw.errors import AigwError, UsageError

MAX_PAGES = 1000  # a report that pages longer than this is cut (and said so)


class ReportError(AigwError):
    """A provider's report could not be read (refused, unreachable, malformed)."""


@dataclass(frozen=True)
class UsageRow:
    """Tokens one key used on one model on one day, as the provider reports them."""

    day: str                  # YYYY-MM-DD (UTC)
    provider: str             # the catalog's provider name
    key_id: str | None
    project: str | None       # OpenAI project id / Anthropic workspace id
    model: str
    tokens: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    billed: Decimal | None = None   # what the provider billed (Bedrock): no price needed
    currency: str | None = None     # of `billed`
    # Reported by the runtime itself (usage/prometheus.py): who used it, no key id to map.
    service: str | None = None
    alias: str | None = None
    slot: str | None = None


@dataclass(frozen=True)
class CostRow:
    """What the provider charged, per day and project/workspace."""

    day: str
    provider: str
    project: str | None
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Source:
    """Where and how to read one provider's reports."""

    kind: str            # "openai", "anthropic" or "bedrock"
    provider: str        # the catalog's provider name
    base_url: str        # ends before /organization(s)
    key_env: str         # the variable holding the admin key
    tag: str = ""        # bedrock: the cost allocation tag naming each principal's slot


def source_for(name: str, prov: Any) -> Source | None:
    """The report source of catalog provider `prov`, or None: "no provider report"."""
    params = prov.rotation.params or {}
    if prov.rotation.driver == "openai-admin":
        base = str(params.get("admin_base_url") or "https://api.openai.com/v1").rstrip("/")
        return Source("openai", name, base, str(params.get("admin_key_env") or OPENAI_ADMIN_KEY))
    if prov.api == "anthropic":
        base = str(params.get("admin_base_url") or prov.base_url or "https://api.anthropic.com")
        return Source("anthropic", name, base.rstrip("/"),
                      str(params.get("admin_key_env") or ANTHROPIC_ADMIN_KEY))
    if APIS[prov.api].litellm_prefix == "bedrock" and params.get("cost_tag"):
        # Cost Explorer by the principals' activated tag (usage/bedrock.py): opt-in, since
        # the tag must be put on each slot's principal and activated first.
        return Source("bedrock", name, "", "", str(params["cost_tag"]))
    return None


def _day(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).date().isoformat()
    return str(value)[:10]


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class ReportClient:
    """One provider's admin API: authenticated, paginated GETs; errors become one line."""

    def __init__(self, source: Source, http: httpx.Client | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self.source = source
        key = (environ if environ is not None else os.environ).get(source.key_env, "")
        if not key:
            raise UsageError(f"{source.provider}: no admin key in ${source.key_env} to read its "
                             f"usage report", hint=f"export {source.key_env}=... (never on argv)")
        self._key = key
        self.http = http or httpx.Client(timeout=30.0)

    def _headers(self) -> dict[str, str]:
        if self.source.kind == "anthropic":
            return {"x-api-key": self._key, "anthropic-version": "2023-06-01"}
        return {"Authorization": f"Bearer {self._key}"}

    def get(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        """One authenticated GET of the admin API, as JSON; errors become one line."""
        url = f"{self.source.base_url}{path}"
        try:
            resp = self.http.get(url, params=tuple(params), headers=self._headers())
        except httpx.HTTPError as exc:
            raise ReportError(f"{self.source.provider}: cannot reach {url} "
                              f"({type(exc).__name__})") from None
        if resp.status_code != 200:
            raise ReportError(
                f"{self.source.provider}: {path} answered HTTP {resp.status_code}: "
                f"{self._safe(resp.text)}",
                hint=f"check ${self.source.key_env} is an admin key" if resp.status_code in
                (401, 403) else None)
        try:
            doc = resp.json()
        except ValueError:
            raise ReportError(f"{self.source.provider}: {path} did not answer JSON") from None
        if not isinstance(doc, dict):
            raise ReportError(f"{self.source.provider}: {path} did not answer a JSON object")
        return doc

    def pages(self, path: str, params: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """Every bucket of a paginated report."""
        page: str | None = None
        for _ in range(MAX_PAGES):
            doc = self.get(path, params + ([("page", page)] if page else []))
            yield from doc.get("data") or []
            page = doc.get("next_page")
            if not doc.get("has_more") or not page:
                return
        raise ReportError(f"{self.source.provider}: {path} has more than {MAX_PAGES} pages",
                          hint="use a shorter --since")

    def _safe(self, text: str) -> str:
        return text.replace(self._key, "***")[:200].replace("\n", " ")


def openai_reports(client: ReportClient, start: dt.datetime, end: dt.datetime
                   ) -> tuple[list[UsageRow], list[CostRow]]:
    """OpenAI's completions usage (per key, project, model) and costs (per project)."""
    name = client.source.provider
    base = [("start_time", str(int(start.timestamp()))), ("end_time", str(int(end.timestamp()))),
            ("bucket_width", "1d")]
    usage = []
    for bucket in client.pages("/organization/usage/completions",
                               base + [("group_by", g) for g in ("api_key_id", "project_id",
                                                                 "model")]):
        for r in bucket.get("results") or []:
            total_in, cached = _n(r.get("input_tokens")), _n(r.get("input_cached_tokens"))
            usage.append(UsageRow(_day(bucket.get("start_time")), name, r.get("api_key_id"),
                                  r.get("project_id"), str(r.get("model") or "?"),
                                  {"input": total_in - min(cached, total_in),
                                   "cache_read": min(cached, total_in),
                                   "output": _n(r.get("output_tokens"))},
                                  _n(r.get("num_model_requests"))))
    costs = []
    for bucket in client.pages("/organization/costs", base + [("group_by", "project_id")]):
        for r in bucket.get("results") or []:
            amount = r.get("amount") or {}
            costs.append(CostRow(_day(bucket.get("start_time")), name, r.get("project_id"),
                                 _decimal(amount.get("value"), name),
                                 str(amount.get("currency") or "usd").upper()))
    return usage, costs


def anthropic_reports(client: ReportClient, start: dt.datetime, end: dt.datetime
                      ) -> tuple[list[UsageRow], list[CostRow]]:
    """Anthropic's Messages usage report (per key, workspace, model) and cost report."""
    name = client.source.provider
    base = [("starting_at", start.strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("ending_at", end.strftime("%Y-%m-%dT%H:%M:%SZ")), ("bucket_width", "1d")]
    usage = []
    for bucket in client.pages("/v1/organizations/usage_report/messages",
                               base + [("group_by[]", g) for g in ("api_key_id", "workspace_id",
                                                                   "model")]):
        for r in bucket.get("results") or []:
            creation = r.get("cache_creation") or {}
            write = (_n(creation.get("ephemeral_5m_input_tokens"))
                     + _n(creation.get("ephemeral_1h_input_tokens")))
            usage.append(UsageRow(_day(bucket.get("starting_at")), name, r.get("api_key_id"),
                                  r.get("workspace_id"), str(r.get("model") or "?"),
                                  {"input": _n(r.get("uncached_input_tokens")),
                                   "cache_read": _n(r.get("cache_read_input_tokens")),
                                   "cache_write": write, "output": _n(r.get("output_tokens"))}))
    costs = []
    for bucket in client.pages("/v1/organizations/cost_report",
                               base[:2] + [("group_by[]", "workspace_id")]):
        for r in bucket.get("results") or []:
            cents = _decimal(r.get("amount"), name)
            costs.append(CostRow(_day(bucket.get("starting_at")), name, r.get("workspace_id"),
                                 cents / 100, str(r.get("currency") or "USD").upper()))
    return usage, costs


def _decimal(value: Any, provider: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ReportError(f"{provider}: the cost report has a non-numeric amount") from None


READERS = {"openai": openai_reports, "anthropic": anthropic_reports}
