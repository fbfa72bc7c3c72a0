"""Typed models of the catalog (pydantic v2, unknown fields rejected).

Every field is documented in docs/catalog.md. Cross-references (a route's
provider, a service's aliases...) are checked in `checks.py`, where the whole
catalog is in view.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PrivateAttr,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from aigw.apis import API_NAMES
from aigw.catalog.limits import Limit
from aigw.catalog.prices import Budget, ModelPrice
from aigw.drivers import DRIVERS
from aigw.outputs import DEFAULT_OUTPUTS, OUTPUTS

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}

APIS = API_NAMES  # the wire APIs: aigw/apis.py


def _one_of(names: list[str]) -> str:
    """Pydantic's wording of a Literal's choices: `'a', 'b' or 'c'`."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _known_output(name: str) -> str:
    """NAME, if the outputs registry (aigw/outputs.py) holds it when the catalog is read:
    an output registered after import validates. Fails as a Literal would (checks.py)."""
    if name not in OUTPUTS:
        raise PydanticCustomError("literal_error", "Input should be {expected}",
                                  {"expected": _one_of(list(OUTPUTS))})
    return name


class _OutputsEnum:
    """The JSON schema of an output name: an enum of the registry's names at export time."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "enum": list(OUTPUTS)}


# What `outputs:` may name: the registry in aigw/outputs.py, read at validation time.
OutputName = Annotated[str, AfterValidator(_known_output), _OutputsEnum()]


def parse_seconds(value: Any) -> float:
    """The one duration syntax of the catalog: `90d`, `12h`, `30m`, `45s`, `2.5s` or a number
    of seconds (fractions allowed) -> seconds. Every duration field reads it: `max_age`,
    `grace` and the like (whole seconds, `parse_duration`) and a route's `timeout` and
    `cooldown`, so `timeout: 30s` means what `timeout: 30` does (the same rendered file)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30d, 12h, 10m, 45s or 2.5s")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    if isinstance(value, str) and (m := _DURATION_RE.match(value)):
        return float(m.group(1)) * _UNITS[m.group(2)]
    raise ValueError("expected a duration such as 30d, 12h, 10m, 45s or 2.5s")


def parse_duration(value: Any) -> int:
    """`parse_seconds`, in whole seconds (`max_age`, `grace`, `--wait`...)."""
    return int(parse_seconds(value))


def format_duration(seconds: int) -> str:
    """The shortest exact unit form of SECONDS (`2592000` -> `30d`)."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[int, BeforeValidator(parse_duration)]
Seconds = Annotated[float, BeforeValidator(parse_seconds)]  # fractions kept: timeouts
Extra = dict[str, Any]


class _Model(BaseModel):
    # Validators are built once, at the end of this module (`_build_models`).
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              defer_build=True)


def _none_is_empty(value: Any) -> Any:
    """`overrides:` (or `providers:` under it) written with nothing after it: no overrides."""
    return {} if value is None else value


EmptyIfNone = BeforeValidator(_none_is_empty)


class Overrides(_Model):
    """What one environment changes of the catalog's entries (catalog/overrides.py).

    Raw mappings, merged over the entries they name before those are validated, so
    every field an entry model has can be allowed by one list (`OVERRIDABLE`).
    """

    providers: Annotated[dict[str, dict[str, Any]], EmptyIfNone] = Field(default_factory=dict)
    models: Annotated[dict[str, dict[str, Any]], EmptyIfNone] = Field(default_factory=dict)
    services: Annotated[dict[str, dict[str, Any]], EmptyIfNone] = Field(default_factory=dict)

    def entries(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(section, name, raw override) of every overridden entry, in section order."""
        for section in ("providers", "models", "services"):
            for name, raw in getattr(self, section).items():
                yield section, name, raw


class Environment(_Model):
    """Where one environment's keys live in OpenBao/Vault and on disk."""

    mount: str = "aigw"
    path_prefix: str | None = None
    key_dir: str = "/run/secrets/aigw"
    agent_refresh: Duration = 1
    # Where services and agents of this environment reach OpenBao (rendered into aigw.env,
    # acks.address, bao-agent.hcl and the CSI vaultAddress); None: their own BAO_ADDR.
    openbao_address: str | None = None
    # What this environment changes of providers, aliases and services (docs/catalog.md).
    overrides: Annotated[Overrides, EmptyIfNone] = Field(default_factory=Overrides)


class Rotation(_Model):
    """How a provider's keys are rotated."""

    driver: Literal[tuple(DRIVERS)] = "manual"  # type: ignore[valid-type]
    max_age: Duration = 90 * 86400
    grace: Duration = 600
    params: Extra = Field(default_factory=dict)


class Provider(_Model):
    """One LLM provider account: where to call it and which keys it has."""

    api: Literal[APIS]  # type: ignore[valid-type]
    base_url: str | None = None
    region: str
    slots: list[str] = Field(default_factory=lambda: ["default"])
    rotation: Rotation = Field(default_factory=Rotation)
    extra: Extra = Field(default_factory=dict)
    # Prices per million tokens by model (catalog/prices.py, docs/spend.md).
    prices: dict[str, ModelPrice] = Field(default_factory=dict)


class Route(_Model):
    """One step of an alias's fallback chain."""

    provider: str
    model: str
    slot: str | None = None
    timeout: Seconds | None = Field(default=None, gt=0)
    retries: int | None = Field(default=None, ge=0, le=10)
    cooldown: Seconds | None = Field(default=None, ge=0)
    weight: int | None = Field(default=None, ge=0, le=100, strict=True)
    extra: Extra = Field(default_factory=dict)


class EvalBinding(_Model):
    """The eval set an alias is judged by in the PR that changes it (docs/safe-changes.md)."""

    set: str  # evals/<set>.yaml beside the catalog
    judge: str | None = None  # the alias an `llm-rubric` grader calls unless it names one
    floor: float | None = Field(default=None, ge=0, le=1)  # lowest score production accepts
    max_drop: float = Field(default=0.05, ge=0, le=1)  # largest drop from the base's score


class ModelAlias(_Model):
    """A name services ask for, and the ordered routes that serve it."""

    description: str | None = None
    routes: list[Route]
    eval: EvalBinding | None = None


class Defaults(_Model):
    """Per-attempt timeout, same-route retries and cooldown after a failure."""

    timeout: Seconds = Field(default=30.0, gt=0)
    retries: int = Field(default=0, ge=0, le=10)
    cooldown: Seconds = Field(default=30.0, ge=0)


K8S_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class Kubernetes(_Model):
    """Who a service's pods are in Kubernetes (for outputs k8s-injector and k8s-csi)."""

    namespace: str | None = Field(default=None, pattern=K8S_NAME)  # default: the environment
    service_account: str | None = Field(default=None, pattern=K8S_NAME)  # default: the service


class Service(_Model):
    """A service calling providers: where it runs and what it may use."""

    description: str | None = None
    environments: list[str]
    models: list[str]
    regions: list[str] | None = None
    keys: Literal["shared", "per-service"] = "shared"
    outputs: list[OutputName] = Field(default_factory=lambda: list(DEFAULT_OUTPUTS))
    defaults: Defaults = Field(default_factory=Defaults)
    key_dir: str | None = None
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)
    # Monthly spend limit per environment, checked by `aigw usage --check-budgets`.
    budget: Budget | None = None
    # Rate limits enforced by the provider, per alias or `<provider>/<model>` (docs/limits.md).
    limits: dict[str, Limit | None] | None = None
    # The Anthropic workspace the service's key belongs to (where its limits are set).
    workspace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,128}$")


GITHUB_OIDC_ISSUER = "https://token.actions.githubusercontent.com"


class CiSettings(_Model):
    """The CI that applies the catalog: the stack declares its JWT login (docs/ci.md)."""

    provider: Literal["github"] = "github"
    repository: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
    audience: str = Field(default="aigw-ci", min_length=1)
    branch: str = Field(default="main", min_length=1)
    # The GitHub environment of the rotation job (apply jobs use the catalog's environments).
    rotation_environment: str = Field(default="rotation", min_length=1)
    # Where the JWT auth method is enabled.
    auth_path: str = Field(default="jwt", pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    # The token issuer: OpenBao fetches its keys by OIDC discovery...
    issuer: str = GITHUB_OIDC_ISSUER
    # ...unless public keys (PEM) are given here (an issuer without discovery, or tests).
    jwt_validation_pubkeys: list[str] = Field(default_factory=list)
    token_ttl: Duration = 900
    token_max_ttl: Duration = 3600


class Catalog(_Model):
    """The whole catalog after merging every file."""

    version: Literal[1] = 1
    environments: dict[str, Environment] = Field(default_factory=dict)
    providers: dict[str, Provider] = Field(default_factory=dict)
    models: dict[str, ModelAlias] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    ci: CiSettings | None = None
    # Each environment's merged view, shared by a catalog and its views
    # (`aigw.catalog.overrides.environment_view`).
    _views: dict[str, Catalog] = PrivateAttr(default_factory=dict)
    _base: Catalog | None = PrivateAttr(default=None)

    def view_cache(self) -> dict[str, Catalog]:
        """The merged view of each environment resolved so far (shared with the views)."""
        return self._views

    def base_catalog(self) -> Catalog:
        """The catalog as written, when this one is an environment's merged view; else itself."""
        return self._base or self

    def make_view_of(self, base: Catalog) -> None:
        """Mark this catalog as a merged view of BASE (sharing BASE's cache of views)."""
        self._base = base
        self._views = base._views


_PLUGINS_VAR = "PYDANTIC_DISABLE_PLUGINS"


@contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """No pydantic plugin lookup while the catalog's validators are built.

    The first validator pydantic builds asks for plugins, which reads the entry
    points of every installed distribution: tens of milliseconds of `aigw validate`'s
    start-up (benchmarks/startup.py) for plugins aigw never uses. Typer does the
    same for its parameter adapters. The variable is restored afterwards.
    """
    previous = os.environ.get(_PLUGINS_VAR)
    os.environ[_PLUGINS_VAR] = "__all__"
    try:
        yield
    finally:
        if previous is None:
            del os.environ[_PLUGINS_VAR]
        else:
            os.environ[_PLUGINS_VAR] = previous


def _build_models() -> None:
    with _without_pydantic_plugins():
        for model in (Overrides, ModelPrice, Budget, Limit, Environment, Rotation, Provider, Route,
                      EvalBinding, ModelAlias, Defaults, Kubernetes,
                      Service, CiSettings, Catalog):
            model.model_rebuild(force=True)


_build_models()
