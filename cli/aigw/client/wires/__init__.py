"""The client's wire APIs: one module per API, registered against its row of `aigw.apis`.

`WIRES` is the one registry of APIs (pre-commit's ``all_languages`` shape): API
name -> a module (or any object) matching `aigw.client.wire.Wire`. A config
route's ``api`` is looked up here; a name not in it is an API this client does
not speak (the route is skipped, spec R1). `FAMILIES` holds each family's hooks
(`aigw.client.wire.Family`: the module of the API the family is named after).
`register` adds an API, and a family, without editing aigw
(tests/client/test_wire_registry.py serves a toy API end to end that way).
"""

from __future__ import annotations

from aigw import apis

from ..errors import ClientError
from ..usage import UsageReader
from ..wire import Family, Wire
from . import anthropic, bedrock, bedrock_api_key, openai

# Typed one by one, so mypy checks each module against its Protocol.
_BUILT_IN: tuple[Wire, ...] = (openai, anthropic, bedrock, bedrock_api_key)
WIRES: dict[str, Wire] = {w.api.name: w for w in _BUILT_IN}
FAMILIES: dict[str, Family] = {apis.OPENAI: openai, apis.ANTHROPIC: anthropic}
# The family of a transport that serves any alias (no SDK): errors in OpenAI's shape.
DEFAULT_FAMILY = apis.OPENAI


def register(wire: Wire, family: Family | None = None) -> None:
    """Add `wire` under its API's name, and its data row to `aigw.apis.APIS`.

    `family`: the hooks of a new family named after this API (often the same
    module or object as `wire`); an API of a known family leaves it out.
    ValueError for a name taken by another row, or a family hook set for an
    API not named like its family.
    """
    if family is not None and wire.api.family != wire.api.name:
        raise ValueError(f"wire API {wire.api.name!r} is of family {wire.api.family!r}: "
                         "only the API a family is named after brings its hooks")
    apis.register(wire.api)
    WIRES[wire.api.name] = wire
    if family is not None:
        FAMILIES[wire.api.name] = family


def families() -> frozenset[str]:
    """The families this client serves."""
    return frozenset(FAMILIES)


def usage_reader(family: str | None) -> UsageReader:
    """How answers of `family` report tokens (its hooks' `usage_tokens`); a family
    this client does not serve, or none, reads as the default family's."""
    return (FAMILIES.get(family or DEFAULT_FAMILY) or FAMILIES[DEFAULT_FAMILY]).usage_tokens


def family_wire(family: str | None) -> Family:
    """The hooks that serve requests of `family` (None: the default family)."""
    hooks = FAMILIES.get(family or DEFAULT_FAMILY)
    if hooks is None:
        raise ClientError(f"{family!r} is not a wire family this client speaks "
                          f"(known: {', '.join(sorted(FAMILIES))})")
    return hooks
