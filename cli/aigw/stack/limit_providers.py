"""The dynamic provider of `ProviderLimit`: provider rate limits over the admin APIs.

Inputs are an `aigw.stack.limits.LimitSpec`'s props. The admin key is read in the
provider process from the variable the input `admin_key_env` names (the engine
inherits aigw's environment); it is never an input or an output, so it never
reaches Pulumi state, and it is masked out of every error.

OpenAI (`/v1/organization/projects/{p}/rate_limits`): a project's limits can only
be listed and updated. `create`/`update` record, in the output `original`, each
field's value before aigw first changed it; a field aigw stops managing, and
`delete`, put that value back. For `scope_kind: name` the project (one per
service, `projects: per-service`) is found by name or created.

Anthropic (`/v1/organizations/workspaces/{w}/rate_limits/{rate_limit_id}`): the
workspace override of the rate-limit group holding the model; a limiter aigw
stops managing, and `delete`, clear it (null), so the organization's limit applies.

`read` reports the live values, so `plan --refresh` shows a limit changed by hand.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from aigw.apis import ANTHROPIC_VERSION
from aigw.catalog.limits import find_project
from aigw.stack._conn import ProviderFailure, as_ints, exit_with_engine, same

Props = dict[str, Any]
IDENTITY = ("api", "provider", "scope_kind", "scope", "model")
TIMEOUT = 30.0


class AdminHttp:
    """One admin API as a limit resource calls it; failures are one masked tagged line."""

    def __init__(self, props: Props) -> None:
        var = str(props["admin_key_env"])
        self.key = os.environ.get(var, "")
        if not self.key:
            raise ProviderFailure("UsageError", f"limits at {props['provider']} need ${var} "
                                  "(an admin key) in the environment")
        self.label = f"{props['provider']} admin API"
        headers = ({"Authorization": f"Bearer {self.key}"} if props["api"] == "openai" else
                   {"x-api-key": self.key, "anthropic-version": ANTHROPIC_VERSION})
        self.http = httpx.Client(base_url=str(props["admin_base_url"]), headers=headers,
                                 timeout=TIMEOUT)

    def call(self, method: str, path: str, *, ok404: bool = False, **kw: Any) -> Any:
        """The JSON answer (None for a 404 when OK404)."""
        try:
            resp = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ProviderFailure("ProviderApiError", f"{self.label} {method} {path} failed "
                                  f"({type(exc).__name__})") from None
        if resp.status_code == 404 and ok404:
            return None
        if not resp.is_success:
            try:
                said = str((resp.json().get("error") or {}).get("message", ""))
            except (ValueError, AttributeError):
                said = ""
            said = said.replace(self.key, "***")[:200]
            raise ProviderFailure("ProviderApiError", f"{self.label} {method} {path}: HTTP "
                                  f"{resp.status_code} {said}".rstrip())
        return resp.json()


def _values(props: Props) -> dict[str, int]:
    return {str(k): int(v) for k, v in as_ints(dict(props.get("values") or {})).items()}


def _same_target(olds: Props | None, news: Props) -> bool:
    return olds is not None and all(olds.get(k) == news.get(k) for k in IDENTITY)


class _OpenAI:
    def __init__(self, props: Props) -> None:
        self.api = AdminHttp(props)

    def project(self, props: Props, *, create: bool) -> str | None:
        if props["scope_kind"] != "name":
            return str(props["scope"])
        return find_project(self.api.call, str(props["scope"]), create=create)

    def entry(self, project: str, model: str) -> dict[str, Any] | None:
        after: str | None = None
        while True:
            page = self.api.call("GET", f"/organization/projects/{project}/rate_limits",
                                 ok404=True,
                                 params={"limit": 100, **({"after": after} if after else {})})
            if page is None:
                return None
            data = page.get("data") or []
            hit = next((e for e in data if e.get("model") == model), None)
            if hit is not None or not page.get("has_more") or not data:
                return hit
            after = page.get("last_id") or data[-1].get("id")

    def converge(self, props: Props, olds: Props | None) -> Props:
        project = self.project(props, create=True)
        assert project is not None
        entry = self.entry(project, props["model"])
        if entry is None:
            raise ProviderFailure("ProviderApiError", f"OpenAI project {project} has no rate "
                                  f"limit for model {props['model']} (the organization has "
                                  "no access to it?)")
        values = _values(props)
        original = dict(as_ints((olds or {}).get("original") or {})) \
            if _same_target(olds, props) else {}
        body: dict[str, int] = {}
        for field, value in values.items():
            original.setdefault(field, entry.get(field))
            if entry.get(field) != value:
                body[field] = value
        for field in [f for f in original if f not in values]:
            if original[field] is not None and entry.get(field) != original[field]:
                body[field] = original[field]  # no longer managed: put it back
            del original[field]
        if body:
            self.api.call("POST", f"/organization/projects/{project}/rate_limits/{entry['id']}",
                          json=body)
        return {**props, "project_id": project, "rate_limit_id": entry["id"],
                "original": original}

    def release(self, props: Props) -> None:
        project = props.get("project_id") or self.project(props, create=False)
        original = {k: v for k, v in as_ints(props.get("original") or {}).items()
                    if v is not None}
        entry = self.entry(str(project), props["model"]) if project else None
        if entry is not None and original:
            self.api.call("POST", f"/organization/projects/{project}/rate_limits/{entry['id']}",
                          json=original)

    def live(self, props: Props) -> dict[str, Any] | None:
        project = props.get("project_id") or self.project(props, create=False)
        entry = self.entry(str(project), props["model"]) if project else None
        if entry is None:
            return None
        return {f: entry.get(f) for f in _values(props)}


class _Anthropic:
    def __init__(self, props: Props) -> None:
        self.api = AdminHttp(props)

    def entry_id(self, props: Props) -> str:
        found = self.api.call("GET", "/v1/organizations/rate_limits", ok404=True,
                              params={"model": props["model"]})
        data = (found or {}).get("data") or []
        if not data:
            raise ProviderFailure("ProviderApiError", f"no Anthropic rate-limit group holds "
                                  f"model {props['model']}")
        return str(data[0]["id"])

    def _post(self, props: Props, entry: str, limits: list[dict[str, Any]]) -> None:
        if limits:
            self.api.call("POST", f"/v1/organizations/workspaces/{props['scope']}/rate_limits/"
                          f"{entry}", json={"limits": limits})

    def converge(self, props: Props, olds: Props | None) -> Props:
        entry = self.entry_id(props)
        values = _values(props)
        dropped = [t for t in _values(olds or {}) if t not in values] \
            if _same_target(olds, props) else []
        self._post(props, entry, [{"type": t, "value": v} for t, v in values.items()]
                   + [{"type": t, "value": None} for t in dropped])
        return {**props, "rate_limit_id": entry}

    def release(self, props: Props) -> None:
        entry = props.get("rate_limit_id") or self.entry_id(props)
        self._post(props, str(entry), [{"type": t, "value": None} for t in _values(props)])

    def live(self, props: Props) -> dict[str, Any] | None:
        entry = props.get("rate_limit_id") or self.entry_id(props)
        page = self.api.call("GET", f"/v1/organizations/workspaces/{props['scope']}/rate_limits")
        own: dict[str, Any] = {}
        for item in page.get("data") or []:
            if item.get("rate_limit_id") == entry:
                own = {lim["type"]: lim["value"] for lim in item.get("limits") or []
                       if (lim.get("source") or {}).get("type", "workspace") == "workspace"}
        return {t: own.get(t) for t in _values(props)}


def _client(props: Props) -> _OpenAI | _Anthropic:
    return _OpenAI(props) if props["api"] == "openai" else _Anthropic(props)


class ProviderLimitProvider(ResourceProvider):
    """A model's rate limits in one OpenAI project or Anthropic workspace."""

    serialize_as_secret_always = False  # nothing secret in the provider or its inputs

    def create(self, props: Props) -> CreateResult:
        """Set the limits (recording OpenAI's values before the change)."""
        outs = _client(props).converge(props, None)
        return CreateResult(f"{props['provider']}/{props['scope']}/{props['model']}", outs)

    def update(self, _id: str, olds: Props, news: Props) -> UpdateResult:
        """Converge to the new values; fields no longer named are restored or cleared."""
        return UpdateResult(_client(news).converge(news, olds))

    def delete(self, _id: str, props: Props) -> None:
        """OpenAI: restore the recorded values; Anthropic: clear the overrides."""
        _client(props).release(props)

    def diff(self, _id: str, olds: Props, news: Props) -> DiffResult:
        """Values compared live (after a refresh) or as recorded; a new target replaces."""
        changed = [k for k in (*IDENTITY, "values") if not same(olds.get(k), news.get(k))]
        replaces = [k for k in changed if k in IDENTITY]
        return DiffResult(changes=bool(changed), replaces=replaces,
                          delete_before_replace=bool(replaces))

    def read(self, id_: str, props: Props) -> ReadResult:
        """Refresh: the live values of the managed fields (None where unset)."""
        found = _client(props).live(props)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "values": found})


exit_with_engine()
