"""The multipart form's `model` field (aigw.client.multipart; spec/README.md, rule R3)."""

from __future__ import annotations

import pytest

from aigw.client.multipart import boundary, model_field, with_model


def form(*parts: tuple[str, str], sep: str = "b0und") -> bytes:
    body = "".join(f"--{sep}\r\n{head}\r\n\r\n{value}\r\n" for head, value in parts)
    return (body + f"--{sep}--\r\n").encode()


MODEL = 'Content-Disposition: form-data; name="model"'
FILE = 'Content-Disposition: form-data; name="file"; filename="model.wav"'


@pytest.mark.parametrize("ctype", [b"multipart/form-data; boundary=b0und",
                                   b'multipart/form-data; boundary="b0und"',
                                   b"multipart/form-data;charset=utf-8;BOUNDARY=b0und"])
def test_boundary(ctype: bytes) -> None:
    assert boundary(ctype) == b"b0und"


def test_the_model_field_is_found_and_replaced() -> None:
    body = form((FILE, "name=\"model\"\r\n\r\nstt"), (MODEL, "stt"), ("Content-Disposition: "
                "form-data; name=\"language\"", "en"))
    field = model_field(body, b"multipart/form-data; boundary=b0und")
    assert field is not None and field[0] == "stt"
    out = with_model(body, field, "whisper-1")
    assert out == body.replace(b"\r\n\r\nstt\r\n--b0und\r\nContent-Disposition: form-data; "
                               b'name="language"', b"\r\n\r\nwhisper-1\r\n--b0und\r\n"
                               b'Content-Disposition: form-data; name="language"')


@pytest.mark.parametrize(("body", "ctype"), [
    (form((FILE, "bytes")), b"multipart/form-data; boundary=b0und"),  # no model field
    (form((MODEL, "stt")), b"multipart/form-data"),  # no boundary
    (b"--b0und\r\n" + MODEL.encode() + b"\r\n\r\nstt", b"multipart/form-data; boundary=b0und"),
    (form((MODEL, "stt")).replace(b"stt", b"\xff"), b"multipart/form-data; boundary=b0und"),
])
def test_no_model_field(body: bytes, ctype: bytes) -> None:
    assert model_field(body, ctype) is None
