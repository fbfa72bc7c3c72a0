"""Multipart calls through the official openai SDK (issue 26; spec/README.md, rule R3).

The SDK sends audio transcriptions as a multipart form whose ``model`` field names
the model: aigw reads the alias there and writes each route's model back. An
``httpx2.MockTransport`` stands in for the OpenAI-compatible providers and records
exactly what reached them.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx2

from aigw.client import AsyncClient, Client, attempts_of


def _recorder(statuses: list[int]) -> tuple[list[Any], Any]:
    seen: list[Any] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        status = statuses.pop(0) if statuses else 200
        return httpx2.Response(status, json={"text": "hello"} if status == 200 else {})

    return seen, upstream


def _form_model(request: Any) -> str:
    body = request.content
    head = b'name="model"\r\n\r\n'
    start = body.index(head) + len(head)
    return str(body[start:body.index(b"\r\n", start)].decode())


def test_transcription_names_the_alias_in_the_form(providers, make_route, write_config):
    p1, p2 = providers("p1"), providers("p2")
    cfg = write_config({"stt": [make_route(p1, model="whisper-1"),
                                make_route(p2, model="sensevoice-small")]})
    seen, upstream = _recorder([503])
    audio = b"RIFF\x00\x01fake-wave-bytes"
    with Client.from_file(cfg) as client:
        oai = client.openai(transport=httpx2.MockTransport(upstream))
        raw = oai.audio.transcriptions.with_raw_response.create(
            model="stt", file=("a.wav", io.BytesIO(audio), "audio/wav"))
        reply = raw.parse()
    assert reply.text == "hello"
    assert [(a.provider, a.outcome) for a in attempts_of(raw.http_response)] == \
        [("p1", "http_503"), ("p2", "ok")]
    assert [str(r.url) for r in seen] == [p1.base_url + "/audio/transcriptions",
                                          p2.base_url + "/audio/transcriptions"]
    assert [_form_model(r) for r in seen] == ["whisper-1", "sensevoice-small"]
    for r in seen:  # the file part went byte for byte; the length is the new body's
        assert audio in r.content and r.headers["content-type"].startswith("multipart/form-data")
        assert int(r.headers["content-length"]) == len(r.content)


def test_async_transcription(providers, make_route, write_config):
    p1 = providers("p1")
    cfg = write_config({"stt": [make_route(p1, model="whisper-1")]})
    seen, upstream = _recorder([])

    async def main() -> str:
        async with AsyncClient.from_file(cfg) as client:
            oai = client.openai(transport=httpx2.MockTransport(upstream))
            reply = await oai.audio.transcriptions.create(
                model="stt", file=("a.wav", io.BytesIO(b"RIFF"), "audio/wav"))
            return str(reply.text)

    assert asyncio.run(main()) == "hello"
    assert [_form_model(r) for r in seen] == ["whisper-1"]
