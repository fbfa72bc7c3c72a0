"""What survives of an entry that failed its schema check, so its references are checked too.

`aigw validate` promises every problem at once. An alias whose second route has
a bad `timeout` still has a first route whose `provider: mistrall` is wrong:
`salvage` keeps the parts that validate (fields with a bad value fall back to
their default; a list keeps its good elements *at their positions*, the bad
ones are `None`), and the semantic checks run over that. A salvaged entry only
ever feeds the checks: a catalog with a schema problem is never returned.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

_CONFIG = ConfigDict(str_strip_whitespace=True)  # as the catalog models strip


def salvage(model: type[BaseModel], raw: Any) -> Any:
    """RAW validated as MODEL, or its valid parts, or None when a required part is broken."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        broken = {err["loc"][0] for err in exc.errors(include_url=False) if err["loc"]}
    if not isinstance(raw, dict):
        return None
    data = dict(raw)
    lists: dict[str, list[Any]] = {}
    for name in broken:
        field = model.model_fields.get(str(name))
        if field is None:  # an unknown field: reported, ignored here
            data.pop(name, None)
            continue
        element = _list_element(field.annotation)
        if element is not None and isinstance(raw.get(name), list):
            lists[str(name)] = [_element(element, value) for value in raw[name]]
            data[name] = []
        elif element is not None and field.is_required():
            data[name] = []  # missing or not a list: its own problem says so
        else:
            data.pop(name, None)  # back to the default (a required one cannot be salvaged)
    try:
        kept = model.model_validate(data)
    except ValidationError:
        return None
    return kept.model_copy(update=lists) if lists else kept


def _list_element(annotation: Any) -> Any:
    """The element type of `list[X]` (or `list[X] | None`), else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else None
    if get_origin(annotation) is list:
        return get_args(annotation)[0]
    return None


def _element(element: Any, value: Any) -> Any:
    if isinstance(element, type) and issubclass(element, BaseModel):
        return salvage(element, value)
    try:
        return _adapter(element).validate_python(value)
    except ValidationError:
        return None


@cache
def _adapter(element: Any) -> TypeAdapter[Any]:
    return TypeAdapter(element, config=_CONFIG)
