"""Load and check `aigw-client.json` (the contract: spec/README.md, rule R1).

The parsed `ClientConfig` is immutable. Each `Route` has a stable `identity`, so
code that swaps in a newer config (client/live.py) can keep the state (cooldown,
affinity) of routes that did not change.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigError
from .wire import Wire
from .wires import WIRES
from .wires import families as served_families

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
    # Share of the alias's first attempts (0-100); None: a fallback only.
    weight: int | None = None

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
    # The file's `revision` (docs/live-config.md#the-revision); "" when it has none.
    revision: str = ""
    # The catalog's git commit, when the file names one ("" otherwise).
    catalog_commit: str = ""
    # SHA-256 (hex) of the file's bytes, when read from a file: a live reload
    # skips a file with the same bytes.
    source_sha256: str = ""


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
    if wire is not None and wire.api.region_extra and not region:
        # Configs rendered before aws_region existed kept LiteLLM's name in extra.
        region = extra.pop(wire.api.region_extra, None)
    if region is not None and not isinstance(region, str):
        raise ConfigError(f"{where}.aws_region: expected str")
    base_url = raw.get("base_url") if isinstance(raw, dict) else None
    if base_url is None and wire is not None and not wire.api.needs_base_url:
        if not region:
            raise ConfigError(f"{where}.aws_region: missing (a Bedrock route with no "
                              "base_url needs its AWS region)")
        base_url = wire.default_base_url(region)
    elif base_url is None and wire is None:
        base_url = ""  # never called: the route is skipped as unsupported
    else:
        base_url = _get(raw, "base_url", str, where)
    weight = raw.get("weight") if isinstance(raw, dict) else None
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int)
                               or not 0 <= weight <= 100):
        raise ConfigError(f"{where}.weight: expected a whole number 0-100 or null")
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
        weight=weight,
    )


def _known_family(spec: Any, where: str) -> bool:
    """False for an alias whose written family this client does not know.

    Such an alias is skipped, routes unread (spec/README.md#r1-the-config-aigw-clientjson-version-1):
    an older client keeps serving the aliases it understands.
    """
    family = spec.get("family") if isinstance(spec, dict) else None
    known = served_families()
    if family is None or family in known:
        return True
    log.warning("%s.family: %r is not a family this client knows (%s); the alias is "
                "skipped (upgrade aigw.client to call it)", where, family,
                ", ".join(sorted(known)))
    return False


def _family(spec: Any, routes: tuple[Route, ...]) -> str:
    """The alias's family: as written, else that of its first known route."""
    family = spec.get("family") if isinstance(spec, dict) else None
    if family is not None:
        return str(family)
    known = [r.wire.api.family for r in routes if r.wire is not None]
    return known[0] if known else "openai"


def resolve_key_dir(key_dir: Path, base_dir: Path) -> Path:
    """Where key files are, for a config whose folder is `base_dir`.

    A relative `key_dir` is relative to the rendered folder (the agent's working
    folder), which holds the rendered `aigw-client.json`. The agent writes the
    live copy *into* `key_dir` (`<key_dir>/aigw-client.json`), so a config whose
    folder already ends with `key_dir` is that live copy: its keys sit beside it,
    not in `<key_dir>/<key_dir>`.
    """
    if key_dir.is_absolute():
        return key_dir
    n = len(key_dir.parts)
    if n and base_dir.parts[-n:] == key_dir.parts:
        return base_dir
    return base_dir / key_dir


def _optional_str(raw: Any, name: str) -> str:
    value = raw.get(name) if isinstance(raw, dict) else None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected str")
    return value


def parse_config(raw: Any, base_dir: Path, path: Path | None = None) -> ClientConfig:
    """Build a `ClientConfig` from decoded JSON; relative paths resolve from `base_dir`."""
    version = _get(raw, "version", int, "")
    if version != SUPPORTED_VERSION:
        raise ConfigError(f"version: {version} is not supported (this client reads "
                          f"version {SUPPORTED_VERSION}); upgrade aigw.client")
    key_dir = resolve_key_dir(Path(_get(raw, "key_dir", str, "")), base_dir)
    aliases: dict[str, tuple[Route, ...]] = {}
    families: dict[str, str] = {}
    for alias, spec in _get(raw, "aliases", dict, "").items():
        where = f"aliases.{alias}"
        if not _known_family(spec, where):
            continue
        routes = _get(spec, "routes", list, where)
        if not routes:
            raise ConfigError(f"{where}.routes: needs at least one route")
        parsed = tuple(_route(r, f"{where}.routes[{i}]", key_dir)
                       for i, r in enumerate(routes))
        families[alias] = family = _family(spec, parsed)
        for i, r in enumerate(parsed):
            if r.wire is not None and r.wire.api.family != family:
                log.warning("%s.routes[%d]: api %r is %s-family in a %s-family alias; "
                            "it is skipped (aigw validate rejects this)", where, i, r.api,
                            r.wire.api.family, families[alias])
        aliases[alias] = parsed
    return ClientConfig(service=_get(raw, "service", str, ""),
                        environment=_get(raw, "environment", str, ""),
                        key_dir=key_dir, aliases=MappingProxyType(aliases), path=path,
                        families=MappingProxyType(families),
                        revision=_optional_str(raw, "revision"),
                        catalog_commit=_optional_str(raw, "catalog_commit"))


def config_from_bytes(data: bytes, path: Path) -> ClientConfig:
    """Parse the bytes read from `path` (errors name the file: ``<path>: <field>: ...``).

    A truncated or half-written file is simply not valid JSON: a `ConfigError`.
    """
    try:
        raw = json.loads(data.decode("utf-8"))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    try:
        config = parse_config(raw, path.parent, path)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return dataclasses.replace(config, source_sha256=hashlib.sha256(data).hexdigest())


def read_config_file(path: Path) -> bytes:
    """The bytes of the config file at `path` (ConfigError when unreadable)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None


def load_config(path: str | os.PathLike[str]) -> ClientConfig:
    """Read `aigw-client.json` at `path`."""
    p = Path(path).absolute()
    return config_from_bytes(read_config_file(p), p)


CONFIG_ENV = "AIGW_CLIENT_CONFIG"


def config_path_from_env_file(path: str | os.PathLike[str]) -> Path:
    """The config an `aigw.env` names (`AIGW_CLIENT_CONFIG`), a relative one resolved
    against that file's folder (so a committed `rendered/` works from any working folder).

    The file is plain `NAME=value` lines (`#` comments, optional `export ` and quotes),
    as `aigw render` writes it; nothing of it is put into the process environment.
    """
    env_file = Path(path).absolute()
    try:
        text = env_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{env_file}: cannot read ({type(exc).__name__})") from None
    value = None
    for raw in text.splitlines():
        name, eq, rest = raw.strip().removeprefix("export ").partition("=")
        if eq and name.strip() == CONFIG_ENV:
            value = rest.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
    if not value:
        raise ConfigError(f"{env_file}: no {CONFIG_ENV}=... line")
    config = Path(value)
    return config if config.is_absolute() else env_file.parent / config
