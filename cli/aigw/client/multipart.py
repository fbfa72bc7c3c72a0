"""The model alias of a ``multipart/form-data`` request (spec/README.md, rule R3).

The OpenAI SDK sends audio transcriptions, translations and image edits as a
multipart form whose ``model`` field names the model: there the alias is read,
and the route's model is written back into that field; every other byte of the
form (the file parts above all) goes upstream as it came. Pure: no I/O.
"""

from __future__ import annotations

import re

# A part's Content-Disposition header: `form-data; name="model"` without a filename.
_DISPOSITION = re.compile(rb"(?im)^content-disposition:[ \t]*form-data[ \t]*;(.*)$")
_PARAM = re.compile(rb'([a-z*]+)[ \t]*=[ \t]*("[^"]*"|[^;\s]*)', re.IGNORECASE)

# (the alias, the start and end offsets of its value in the body)
ModelField = tuple[str, int, int]


def boundary(content_type: bytes) -> bytes | None:
    """The boundary parameter of a multipart content type, None when it has none."""
    for name, value in _PARAM.findall(content_type.partition(b";")[2]):
        if name.lower() == b"boundary":
            return value.strip(b'"') or None
    return None


def _is_model(part_headers: bytes) -> bool:
    found = _DISPOSITION.search(part_headers)
    if found is None:
        return False
    params = {k.lower(): v.strip(b'"') for k, v in _PARAM.findall(found.group(1))}
    return params.get(b"name") == b"model" and b"filename" not in params


def model_field(body: bytes, content_type: bytes) -> ModelField | None:
    """The form's ``model`` field: its value and where it sits, None when absent."""
    sep = boundary(content_type)
    if sep is None:
        return None
    delimiter = b"--" + sep
    pos = body.find(delimiter)
    while pos >= 0:
        start = pos + len(delimiter)
        if body[start:start + 2] == b"--":  # the closing delimiter
            return None
        head_end = body.find(b"\r\n\r\n", start)
        if head_end < 0:
            return None
        value_start = head_end + 4
        end = body.find(b"\r\n" + delimiter, value_start)
        if end < 0:
            return None
        if _is_model(body[start:head_end]):
            try:
                return body[value_start:end].decode("utf-8"), value_start, end
            except UnicodeDecodeError:
                return None
        pos = end + 2
    return None


def with_model(body: bytes, field: ModelField, model: str) -> bytes:
    """`body` with the ``model`` field's value replaced by `model`."""
    return body[:field[1]] + model.encode("utf-8") + body[field[2]:]
