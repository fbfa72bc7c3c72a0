"""`aigw keys list` names a slot's key by the fingerprint the runtime reports for it.

Rotation compares the fingerprints consumers acknowledge with the slot's, so the
two must be one function (aigw.client.keys.fingerprint) for both key shapes.
"""

from __future__ import annotations

from aigw.client.keys import parse_token
from aigw.client.sigv4 import parse_aws_credentials
from aigw.slots.targets import secret_fingerprint


def test_an_api_key_slot_and_its_key_file_share_a_fingerprint() -> None:
    key = "sk-test-4f1b2c"
    parsed = parse_token(key + "\n")
    assert parsed is not None
    assert secret_fingerprint({"api_key": key}) == parsed[1]
    assert secret_fingerprint({"api_key": "sk-other"}) != parsed[1]


def test_an_aws_slot_and_its_credentials_file_share_a_fingerprint() -> None:
    data = {"aws_access_key_id": "AKIATEST", "aws_secret_access_key": "s3cr3t/abc"}
    parsed = parse_aws_credentials("[default]\n" + "".join(f"{k} = {v}\n" for k, v in data.items()))
    assert parsed is not None
    assert secret_fingerprint(data) == parsed[1]
