"""Load and check `aigw-client.json` (the contract: docs/client.md#the-config-contract).

The parsed `ClientConfig` is immutable. Each `Route` has a stable `identity`, so
code that swaps in a newer config can keep the state (cooldown, affinity) of
routes that did not change.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigError
from .wire import FAMILIES, WIRES, Wire, bedrock_base_url

log = logging.getLogger("aigw.client")

SUPPORTED_VERSION = 1


@dataclass(frozen=True, slots=True)
class Route:
    """One provider route of an alias, in fallback order.

    `wire` is None for an API this client does not speak (the route is skipped).
    """

    provider: str
    api: str
    base_url: str
    model: str
    slot: str
    key_file: Path
    timeout: float
    retries: int
    cooldown: float
    extra: dict[str, Any] = field(default_factory=dict)
    aws_region: str = ""

    @property
    def wire(self) -> Wire | None:
        """The wire API of this route, None when unknown to this client."""
        return WIRES.get(self.api)

    @property
    def identity(self) -> tuple[str, ...]:
        """What makes two routes the same route across config versions."""
        return (self.provider, self.slot, self.api, self.model, self.base_url)


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """A service's routes per model alias, with key files resolved to paths."""

    service: str
    environment: str
    key_dir: Path
    aliases: MappingProxyType[str, tuple[Route, ...]]
    path: Path | None = None
    families: MappingProxyType[str, str] = field(
        default_factory=lambda: MappingProxyType({}))


def _get(obj: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise ConfigError(f"{where}.{name}: missing" if where else f"{name}: missing")
    value = obj[name]
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        label = kind.__name__ if isinstance(kind, type) else "number"
        raise ConfigError(f"{where + '.' if where else ''}{name}: expected {label}")
    return value


def _route(raw: Any, where: str, key_dir: Path) -> Route:
    key_file = Path(_get(raw, "key_file", str, where))
    api = _get(raw, "api", str, where)
    wire = WIRES.get(api)
    region = raw.get("aws_region") if isinstance(raw, dict) else None
    extra = dict(_get(raw, "extra", dict, where))
    if wire is not None and wire.is_bedrock and not region:
        # Configs rendered before aws_region existed kept LiteLLM's name in extra.
        region = extra.pop("aws_region_name", None)
    if region is not None and not isinstance(region, str):
        raise ConfigError(f"{where}.aws_region: expected str")
    base_url = raw.get("base_url") if isinstance(raw, dict) else None
    if base_url is None and wire is not None and wire.is_bedrock:
        if not region:
            raise ConfigError(f"{where}.aws_region: missing (a Bedrock route with no "
                              "base_url needs its AWS region)")
        base_url = bedrock_base_url(region)
    elif base_url is None and wire is None:
        base_url = ""  # never called: the route is skipped as unsupported
    else:
        base_url = _get(raw, "base_url", str, where)
    return Route(
        provider=_get(raw, "provider", str, where),
        api=api,
        base_url=base_url.rstrip("/"),
        model=_get(raw, "model", str, where),
        slot=_get(raw, "slot", str, where),
        key_file=key_file if key_file.is_absolute() else key_dir / key_file,
        timeout=float(_get(raw, "timeout", (int, float), where)),
        retries=_get(raw, "retries", int, where),
        cooldown=float(_get(raw, "cooldown", (int, float), where)),
        extra=extra,
        aws_region=region or "",
    )


def _family(spec: Any, routes: tuple[Route, ...], where: str) -> str:
    """The alias's family: as written, else that of its first known route."""
    family = spec.get("family") if isinstance(spec, dict) else None
    if family is not None:
        if family not in FAMILIES:
            raise ConfigError(f"{where}.family: {family!r} is not one of "
                              f"{', '.join(FAMILIES)}")
        return str(family)
    known = [r.wire.family for r in routes if r.wire is not None]
    return known[0] if known else "openai"


def parse_config(raw: Any, base_dir: Path, path: Path | None = None) -> ClientConfig:
    """Build a `ClientConfig` from decoded JSON; relative paths resolve from `base_dir`."""
    version = _get(raw, "version", int, "")
    if version != SUPPORTED_VERSION:
        raise ConfigError(f"version: {version} is not supported (this client reads "
                          f"version {SUPPORTED_VERSION}); upgrade aigw.client")
    key_dir = Path(_get(raw, "key_dir", str, ""))
    if not key_dir.is_absolute():
        key_dir = base_dir / key_dir
    aliases: dict[str, tuple[Route, ...]] = {}
    families: dict[str, str] = {}
    for alias, spec in _get(raw, "aliases", dict, "").items():
        where = f"aliases.{alias}"
        routes = _get(spec, "routes", list, where)
        if not routes:
            raise ConfigError(f"{where}.routes: needs at least one route")
        parsed = tuple(_route(r, f"{where}.routes[{i}]", key_dir)
                       for i, r in enumerate(routes))
        families[alias] = _family(spec, parsed, where)
        for i, r in enumerate(parsed):
            if r.wire is not None and r.wire.family != families[alias]:
                log.warning("%s.routes[%d]: api %r is %s-family in a %s-family alias; "
                            "it is skipped (aigw validate rejects this)", where, i, r.api,
                            r.wire.family, families[alias])
        aliases[alias] = parsed
    return ClientConfig(service=_get(raw, "service", str, ""),
                        environment=_get(raw, "environment", str, ""),
                        key_dir=key_dir, aliases=MappingProxyType(aliases), path=path,
                        families=MappingProxyType(families))


def load_config(path: str | os.PathLike[str]) -> ClientConfig:
    """Read `aigw-client.json` at `path`."""
    p = Path(path).absolute()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"{p}: not valid JSON ({exc})") from None
    try:
        return parse_config(raw, p.parent, p)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None
