"""Load and check `aigw-client.json` (see docs/architecture.md)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

SUPPORTED_VERSION = 1


@dataclass(frozen=True, slots=True)
class Route:
    """One provider route of an alias, in fallback order."""

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


@dataclass(frozen=True, slots=True)
class ClientConfig:
    """A service's routes per model alias, with key files resolved to paths."""

    service: str
    environment: str
    key_dir: Path
    aliases: dict[str, tuple[Route, ...]]
    path: Path | None = None


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
    return Route(
        provider=_get(raw, "provider", str, where),
        api=_get(raw, "api", str, where),
        base_url=_get(raw, "base_url", str, where).rstrip("/"),
        model=_get(raw, "model", str, where),
        slot=_get(raw, "slot", str, where),
        key_file=key_file if key_file.is_absolute() else key_dir / key_file,
        timeout=float(_get(raw, "timeout", (int, float), where)),
        retries=_get(raw, "retries", int, where),
        cooldown=float(_get(raw, "cooldown", (int, float), where)),
        extra=dict(_get(raw, "extra", dict, where)),
    )


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
    for alias, spec in _get(raw, "aliases", dict, "").items():
        where = f"aliases.{alias}"
        routes = _get(spec, "routes", list, where)
        if not routes:
            raise ConfigError(f"{where}.routes: needs at least one route")
        aliases[alias] = tuple(_route(r, f"{where}.routes[{i}]", key_dir)
                               for i, r in enumerate(routes))
    return ClientConfig(service=_get(raw, "service", str, ""),
                        environment=_get(raw, "environment", str, ""),
                        key_dir=key_dir, aliases=aliases, path=path)


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
