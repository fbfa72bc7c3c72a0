"""AWS event-stream frames (Bedrock invoke-with-response-stream) as Anthropic SSE bytes.

A frame is ``total length (4) | headers length (4) | prelude CRC32 (4) | headers |
payload | message CRC32 (4)``, big-endian. Bedrock sends ``:message-type: event``
frames whose payload is ``{"bytes": base64(<one Messages stream event JSON>)}``,
and ``:message-type: exception`` frames on errors. Each event becomes the SSE
``event: <type>\\ndata: <json>\\n\\n`` that api.anthropic.com would have sent, so
the Anthropic SDK (and aigw's own stream reader) parse Bedrock streams unchanged.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import zlib

# Header value types with a fixed size (type id -> bytes); 6 and 7 carry a length.
_FIXED = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
MAX_FRAME = 16 * 1024 * 1024


class EventStreamError(Exception):
    """The bytes are not a well-formed event stream."""


class Frame:
    """One decoded frame: string headers and the raw payload."""

    __slots__ = ("headers", "payload")

    def __init__(self, headers: dict[str, str], payload: bytes) -> None:
        self.headers = headers
        self.payload = payload


def _headers(data: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    i = 0
    while i < len(data):
        n = data[i]
        name = data[i + 1:i + 1 + n].decode()
        i += 1 + n
        kind = data[i]
        i += 1
        if kind in (6, 7):
            (size,) = struct.unpack_from(">H", data, i)
            value = data[i + 2:i + 2 + size]
            i += 2 + size
            out[name] = value.decode() if kind == 7 else value.hex()
        elif kind in _FIXED:
            i += _FIXED[kind]
        else:
            raise EventStreamError(f"unknown header type {kind}")
    return out


class EventStreamDecoder:
    """Incremental decoder: `feed` bytes, get the frames completed so far."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return every complete frame (CRCs checked)."""
        self._buf += data
        frames = []
        buf = self._buf
        while len(buf) >= 12:
            total, hlen, crc = struct.unpack_from(">III", buf, 0)
            if total < 16 or total > MAX_FRAME or hlen > total - 16:
                raise EventStreamError("bad frame length")
            if zlib.crc32(bytes(buf[:8])) != crc:
                raise EventStreamError("bad prelude checksum")
            if len(buf) < total:
                break
            frame = bytes(buf[:total])
            del buf[:total]
            (msg_crc,) = struct.unpack_from(">I", frame, total - 4)
            if zlib.crc32(frame[:-4]) != msg_crc:
                raise EventStreamError("bad message checksum")
            frames.append(Frame(_headers(frame[12:12 + hlen]), frame[12 + hlen:-4]))
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still buffered."""
        return len(self._buf)


def frame_to_sse(frame: Frame) -> tuple[bytes, bool]:
    """The SSE bytes of one frame, and whether it reports an error."""
    kind = frame.headers.get(":message-type", "event")
    if kind != "event":
        error_type = (frame.headers.get(":exception-type") or frame.headers.get(":error-code")
                      or "api_error")
        try:
            message = str(json.loads(frame.payload).get("message", ""))
        except (ValueError, AttributeError):
            message = frame.payload.decode(errors="replace")[:500]
        data = json.dumps({"type": "error", "error": {"type": error_type, "message": message}})
        return f"event: error\ndata: {data}\n\n".encode(), True
    if frame.headers.get(":event-type", "chunk") != "chunk":
        return b"", False
    try:
        raw = base64.b64decode(json.loads(frame.payload)["bytes"])
        event = json.loads(raw)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise EventStreamError(f"chunk is not a base64 JSON event ({type(exc).__name__})") \
            from None
    name = event.get("type") if isinstance(event, dict) else None
    if not isinstance(name, str):
        return b"", False
    if b"\n" in raw or b"\r" in raw:  # one SSE data line must hold the whole event
        raw = json.dumps(event, separators=(",", ":")).encode()
    return b"event: " + name.encode() + b"\ndata: " + raw + b"\n\n", name == "error"
