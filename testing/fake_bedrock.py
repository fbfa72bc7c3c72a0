"""A local stand-in for Amazon Bedrock's runtime API serving Claude, for tests and benchmarks.

Faithful where aigw and AWS meet:
- ``POST /model/{modelId}/invoke`` takes the Anthropic Messages body with
  ``anthropic_version: bedrock-2023-05-31`` and no ``model``, and answers the
  Message JSON; ``/invoke-with-response-stream`` answers
  ``application/vnd.amazon.eventstream`` frames (prelude, headers, payload,
  CRC32s) whose ``chunk`` payloads are ``{"bytes": base64(<Messages event>)}``;
- every request must carry a SigV4 signature (service ``bedrock``, this
  stand-in's region) that it verifies by recomputing it with botocore from
  the secret of the access key id named in the Authorization header; or, for
  ``bedrock-api-key`` routes, ``Authorization: Bearer <Bedrock API key>``;
- errors are ``{"message": ...}`` with ``x-amzn-ErrorType`` (AccessDenied,
  InvalidSignature, Throttling, ServiceUnavailable...) and their status codes.

Valid credentials are (access key id, secret) pairs; the key set of the
`FakeProvider` base holds the secrets (and API keys), so calls are counted per
fingerprint of the secret, as aigw names an AWS slot.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import struct
import zlib
from typing import Any
from urllib.parse import unquote

from testing.fake_anthropic import message, stream_events
from testing.fake_provider import FakeProvider, _Handler

_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                   r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)")
_PATH = re.compile(r"^/model/([^/]+)/(invoke|invoke-with-response-stream)$")
_ERRORS = {400: "ValidationException", 403: "AccessDeniedException",
           404: "ResourceNotFoundException", 429: "ThrottlingException",
           500: "InternalServerException", 503: "ServiceUnavailableException"}


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream frame with string headers (an encoder of its own, not aigw's)."""
    hb = b"".join(bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) +
                  v.encode() for k, v in headers.items())
    prelude = struct.pack(">II", 12 + len(hb) + len(payload) + 4, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def chunk_frame(event: dict[str, Any]) -> bytes:
    """The frame Bedrock sends for one Messages stream event."""
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(event).encode()).decode(),
                          "p": "abcdefgh"}).encode()
    return frame({":event-type": "chunk", ":content-type": "application/json",
                  ":message-type": "event"}, payload)


def exception_frame(kind: str, text: str) -> bytes:
    """The frame Bedrock sends when a stream fails."""
    return frame({":exception-type": kind, ":content-type": "application/json",
                  ":message-type": "exception"}, json.dumps({"message": text}).encode())


class FakeBedrock(FakeProvider):
    """Bedrock runtime for one AWS region on 127.0.0.1."""

    def __init__(self, name: str = "bedrock", credentials: list[tuple[str, str]] | None = None,
                 api_keys: list[str] | None = None, region: str = "eu-central-1",
                 **kwargs: Any) -> None:
        self.region = region
        self._secrets: dict[str, str] = dict(credentials or [])
        super().__init__(name, [*self._secrets.values(), *(api_keys or [])], **kwargs)
        self.signatures_checked = 0
        self.last_path: str | None = None

    @property
    def base_url(self) -> str:
        """What a route's base_url is for this stand-in (the runtime endpoint's root)."""
        return self.url

    def set_credentials(self, credentials: list[tuple[str, str]]) -> None:
        """Replace the valid access keys (what an IAM key rotation does)."""
        self._secrets = dict(credentials)
        self.set_keys(self._secrets.values())

    def _verify(self, h: _Handler, raw: bytes) -> tuple[str, str | None]:
        """(the secret or API key the request proved it holds or "", an error type)."""
        auth = h.headers.get("Authorization") or ""
        if auth[:7].lower() == "bearer ":
            return auth[7:], None
        m = _AUTH.match(auth)
        if not m:
            return "", "MissingAuthenticationTokenException"
        key_id, day, region, service, signed, signature = m.groups()
        secret = self._secrets.get(key_id)
        if secret is None:
            return "", "UnrecognizedClientException"
        stamp = h.headers.get("X-Amz-Date") or ""
        if region != self.region or service != "bedrock" or stamp[:8] != day:
            return "", "InvalidSignatureException"
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        names = signed.split(";")
        headers = {n: h.headers.get(n, "") for n in names}
        req = AWSRequest(method=h.command, url=f"http://{h.headers.get('Host')}{h.path}",
                         data=raw, headers=headers)
        req.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(key_id, secret), "bedrock", region)
        expected = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)),
                                    req)
        self.signatures_checked += 1
        if "host" not in names or not hmac.compare_digest(expected, signature):
            return "", "InvalidSignatureException"
        return secret, None

    def _aws_error(self, h: _Handler, status: int, kind: str, text: str) -> None:
        body = json.dumps({"message": text}).encode()
        head = (f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nx-amzn-ErrorType: {kind}\r\n"
                f"x-amzn-RequestId: fake-{self.name}\r\nx-fake-provider: {self.name}\r\n\r\n")
        h.wfile.write(head.encode() + body)

    def _handle(self, h: _Handler) -> None:
        path = h.path.split("?", 1)[0]
        if path.startswith("/_fake/") or h.server.admin_only:
            return super()._handle(h)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        m = _PATH.match(path)
        if not m or h.command != "POST":
            self._aws_error(h, 404, "UnknownOperationException", f"no {h.command} {path}")
            return
        self.last_path = path
        proven, problem = self._verify(h, raw)
        if problem == "InvalidSignatureException":
            self._aws_error(h, 403, problem, "The request signature we calculated does not "
                            "match the signature you provided.")
            self.admit("", raw, parse=False)
            return
        status, mode, body = self.admit(proven, raw, parse=True)
        if status == 401:
            self._aws_error(h, 403, problem or "AccessDeniedException",
                            "The security token included in the request is invalid.")
        elif status != 200:
            self._aws_error(h, status, _ERRORS.get(status, "InternalServerException"),
                            f"injected {status}")
        elif "model" in body or body.get("anthropic_version") != "bedrock-2023-05-31":
            self._aws_error(h, 400, "ValidationException",
                            "anthropic_version must be bedrock-2023-05-31; model goes in the URL")
        else:
            msg = message(self.name, body, model=unquote(m.group(1)))
            if m.group(2) == "invoke":
                data = json.dumps(msg).encode()
                h.wfile.write((f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {len(data)}\r\nx-fake-provider: {self.name}"
                               "\r\n\r\n").encode() + data)
            else:
                self._eventstream(h, msg, cut=mode == "cut")

    def _eventstream(self, h: _Handler, msg: dict[str, Any], cut: bool) -> None:
        h.wfile.write(("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream"
                       f"\r\nTransfer-Encoding: chunked\r\nx-fake-provider: {self.name}"
                       "\r\n\r\n").encode())
        for i, event in enumerate(stream_events(msg)):
            data = chunk_frame(event)
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            if cut and i == 0:
                import socket

                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
        h.wfile.write(b"0\r\n\r\n")
