"""AWS credentials files and SigV4 signing (through botocore, imported on first use).

A Bedrock slot's key file is an AWS shared-credentials file, as the agent
template renders it::

    [default]
    aws_access_key_id = AKIA...
    aws_secret_access_key = ...
    aws_session_token = ...      (optional)

Its fingerprint is that of the secret access key, as `aigw keys` shows it.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .errors import ConfigError


class AwsCredentials(NamedTuple):
    """One AWS access key (never printed: repr shows the key id only)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:
        return f"AwsCredentials({self.access_key_id!r}, ***)"


def parse_aws_credentials(text: str) -> tuple[AwsCredentials, str] | None:
    """The `[default]` (or only) profile of a credentials file, with its fingerprint."""
    from .keys import fingerprint

    values: dict[str, str] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            if section is not None and values:
                break  # the first profile wins
            section = line[1:-1].strip()
            continue
        name, sep, value = line.partition("=")
        if sep:
            values[name.strip().lower()] = value.strip()
    key_id, secret = values.get("aws_access_key_id"), values.get("aws_secret_access_key")
    if not key_id or not secret:
        return None
    creds = AwsCredentials(key_id, secret, values.get("aws_session_token") or None)
    return creds, fingerprint(secret)


def botocore_available() -> bool:
    """True when botocore (``pip install 'aigw[bedrock]'``) can be imported."""
    return importlib.util.find_spec("botocore") is not None


def require_botocore(where: str) -> None:
    """Raise ConfigError naming `where` when SigV4 is needed but botocore is missing."""
    if not botocore_available():
        raise ConfigError(f"{where}: api 'bedrock' signs requests with SigV4, which needs "
                          "botocore (pip install 'aigw[bedrock]')")


_signer_cache: dict[tuple[str, str, str, str | None], Any] = {}


def sign(method: str, url: str, body: bytes, creds: AwsCredentials, region: str,
         service: str, now: datetime | None = None) -> list[tuple[str, str]]:
    """The SigV4 headers (x-amz-date, authorization, x-amz-security-token) for a request.

    Signs host, content-type and accept as sent, plus x-amz-date and the payload hash.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key = (region, service, creds.access_key_id, creds.session_token)
    signer = _signer_cache.get(key)
    if signer is None or signer.credentials.secret_key != creds.secret_access_key:
        signer = SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key,
                                       creds.session_token), service, region)
        if len(_signer_cache) > 64:
            _signer_cache.clear()
        _signer_cache[key] = signer
    req = AWSRequest(method=method, url=url, data=body, headers={})
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    req.context["timestamp"] = stamp
    req.headers["X-Amz-Date"] = stamp
    if creds.session_token:
        req.headers["X-Amz-Security-Token"] = creds.session_token
    # botocore signs every header present: sign the payload hash and date only,
    # plus host (botocore adds it from the URL).
    req.headers["X-Amz-Content-SHA256"] = signer.payload(req)
    canonical = signer.canonical_request(req)
    signature = signer.signature(signer.string_to_sign(req, canonical), req)
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    signed = ";".join(signer.signed_headers(signer.headers_to_sign(req)).split(";"))
    out = [("x-amz-date", stamp), ("x-amz-content-sha256", req.headers["X-Amz-Content-SHA256"]),
           ("authorization", f"AWS4-HMAC-SHA256 Credential={creds.access_key_id}/{scope}, "
                             f"SignedHeaders={signed}, Signature={signature}")]
    if creds.session_token:
        out.append(("x-amz-security-token", creds.session_token))
    return out
