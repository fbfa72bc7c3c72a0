"""The client's wire APIs: one module per API, registered against its row of `aigw.apis`.

`WIRES` is the one registry (pre-commit's ``all_languages`` shape): API name ->
a module (or any object) matching `aigw.client.wire.Wire`. A config route's
``api`` is looked up here; a name not in it is an API this client does not
speak (the route is skipped, spec R1). `register` adds one without editing
aigw (tests/client/test_wire_registry.py serves a toy API end to end that way).
"""

from __future__ import annotations

from aigw import apis

from ..errors import ClientError
from ..wire import Wire
from . import anthropic, bedrock, bedrock_api_key, openai

# Typed one by one, so mypy checks each module against the Wire Protocol.
_BUILT_IN: tuple[Wire, ...] = (openai, anthropic, bedrock, bedrock_api_key)
WIRES: dict[str, Wire] = {w.api.name: w for w in _BUILT_IN}
# The family of a transport that serves any alias (no SDK): errors in OpenAI's shape.
DEFAULT_FAMILY = apis.OPENAI


def register(wire: Wire) -> None:
    """Add `wire` under its API's name, and its data row to `aigw.apis.APIS`.

    A new family's own API is registered first; its hooks (`alias_of`,
    `error_body`, `sdk`) serve every API of the family. ValueError for a name
    taken by another row.
    """
    apis.register(wire.api)
    WIRES[wire.api.name] = wire


def families() -> frozenset[str]:
    """The families this client serves: those whose own API it speaks."""
    return frozenset(name for name, w in WIRES.items() if w.api.family == name)


def family_wire(family: str | None) -> Wire:
    """The wire whose family hooks serve requests of `family` (None: the default)."""
    wire = WIRES.get(family or DEFAULT_FAMILY)
    if wire is None or wire.api.family != wire.api.name:
        raise ClientError(f"{family!r} is not a wire family this client speaks "
                          f"(known: {', '.join(sorted(families()))})")
    return wire
