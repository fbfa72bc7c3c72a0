"""AWS event-stream decoding (Bedrock streams), checked against botocore's own decoder.

The frames come from the Bedrock stand-in's encoder (testing.fake_bedrock), which
is independent of aigw's decoder; botocore decodes the same bytes as the referee.
"""

from __future__ import annotations

import base64
import json

import pytest
from botocore.eventstream import EventStreamBuffer
from testing.fake_bedrock import chunk_frame, exception_frame

from aigw.client.eventstream import EventStreamDecoder, EventStreamError
from aigw.client.streaming import BadResponse, EventStreamToSSE

EVENTS = [{"type": "message_start", "message": {"id": "m", "content": []}},
          {"type": "content_block_delta", "index": 0,
           "delta": {"type": "text_delta", "text": "h\u00e9llo\nworld"}},
          {"type": "message_stop"}]


def test_frames_decode_like_botocore():
    data = b"".join(chunk_frame(e) for e in EVENTS)
    ref = EventStreamBuffer()
    ref.add_data(data)
    expected = [json.loads(base64.b64decode(json.loads(m.payload)["bytes"])) for m in ref]
    dec = EventStreamDecoder()
    frames = []
    for i in range(0, len(data), 7):  # byte by byte-ish, as a network delivers it
        frames += dec.feed(data[i:i + 7])
    got = [json.loads(base64.b64decode(json.loads(f.payload)["bytes"])) for f in frames]
    assert got == expected == EVENTS
    assert frames[0].headers[":event-type"] == "chunk"


def test_converted_to_anthropic_sse():
    conv = EventStreamToSSE()
    out = conv.feed(b"".join(chunk_frame(e) for e in EVENTS))
    blocks = out.decode().split("\n\n")[:-1]
    assert [b.splitlines()[0] for b in blocks] == [
        "event: message_start", "event: content_block_delta", "event: message_stop"]
    assert [json.loads(b.splitlines()[1][6:]) for b in blocks] == EVENTS


def test_exception_before_first_event_fails_over_after_it_passes_through():
    with pytest.raises(BadResponse):
        EventStreamToSSE().feed(exception_frame("throttlingException", "slow down"))
    conv = EventStreamToSSE()
    conv.feed(chunk_frame(EVENTS[0]))
    out = conv.feed(exception_frame("throttlingException", "slow down")).decode()
    assert out.startswith("event: error\n")
    assert json.loads(out.splitlines()[1][6:])["error"] == {
        "type": "throttlingException", "message": "slow down"}


def test_corrupt_frames_are_refused():
    good = chunk_frame(EVENTS[0])
    bad = good[:-1] + bytes([good[-1] ^ 1])
    with pytest.raises(EventStreamError, match="message checksum"):
        EventStreamDecoder().feed(bad)
    bad_prelude = good[:8] + b"\0\0\0\0" + good[12:]
    with pytest.raises(EventStreamError, match="prelude"):
        EventStreamDecoder().feed(bad_prelude)
