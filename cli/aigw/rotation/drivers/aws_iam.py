"""`aws-iam`: IAM user access keys (e.g. the credentials a Bedrock consumer signs with).

The slot's value is `{aws_access_key_id, aws_secret_access_key}` of one IAM user
that is dedicated to the slot (`params.user_name`). A rotation creates a second
access key, verifies it with STS `GetCallerIdentity` (it must resolve to that
user), and after propagation sets the old key Inactive, then deletes it.

IAM allows two access keys per user. Before minting, when the user already has
two, an Inactive key that is not the current one is deleted (a leftover from an
interrupted rotation or a manual disable); if both are Active, the rotation is
refused with a message saying which keys exist. The key ids present before
minting are recorded in the journal, so a key created by a crashed run and
never recorded is found (not in that list) and deleted on resume.

`GetAccessKeyLastUsed` is the evidence that consumers moved. AWS updates it
with a delay (minutes to hours), so in practice the grace period and
`--finish` decide more often than it does; moto updates it at once.

Params: `user_name` (required), `aws_region` (default us-east-1),
`endpoint_url` (else $AIGW_AWS_ENDPOINT_URL, else boto3's own resolution,
which honours $AWS_ENDPOINT_URL), `verify_attempts`, `verify_delay`. The admin
credentials come from boto3's usual chain (env, profile, instance role).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from aigw import envvars
from aigw.errors import RotationError
from aigw.rotation.drivers.base import (
    DriverSpec,
    KeyInfo,
    Minted,
    SecretInput,
    param,
    verify_with_retries,
)

MAX_KEYS_PER_USER = 2


class AwsIamDriver:
    """Create, verify, disable and delete the access keys of one IAM user."""

    name: ClassVar[str] = "aws-iam"
    can_mint: ClassVar[bool] = True
    can_disable: ClassVar[bool] = True
    can_revoke: ClassVar[bool] = True
    reports_last_used: ClassVar[bool] = True

    def __init__(self, spec: DriverSpec, iam: Any, sts_factory: Any) -> None:
        """IAM is a boto3 IAM client; STS_FACTORY(key_id, secret) builds an STS client."""
        self.spec = spec
        self.user = str(param(spec, "user_name", required=True))
        self.iam = iam
        self.sts_factory = sts_factory

    @classmethod
    def from_spec(cls, spec: DriverSpec, secret_input: SecretInput) -> AwsIamDriver:
        """Build boto3 clients from the params and the environment."""
        import boto3  # imported here: validating a catalog never needs boto3

        region = str(param(spec, "aws_region", "us-east-1"))
        endpoint = param(spec, "endpoint_url") or os.environ.get(envvars.AWS_ENDPOINT_URL)
        iam = boto3.client("iam", region_name=region, endpoint_url=endpoint)

        def sts_factory(key_id: str, secret: str) -> Any:
            return boto3.client("sts", region_name=region, endpoint_url=endpoint,
                                aws_access_key_id=key_id, aws_secret_access_key=secret)

        return cls(spec, iam, sts_factory)

    def _call(self, op: str, **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.iam, op)(**kw)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code == "NoSuchEntity" and op in ("delete_access_key", "update_access_key",
                                                 "get_access_key_last_used"):
                return None
            raise RotationError(f"{self.spec.slot_id}: AWS IAM {op} for user {self.user} "
                                f"failed: {code}") from None
        except BotoCoreError as exc:
            raise RotationError(f"{self.spec.slot_id}: AWS IAM {op} failed "
                                f"({type(exc).__name__})") from None

    def list_keys(self) -> list[KeyInfo]:
        """The user's access keys (ids, status, creation time)."""
        keys = self._call("list_access_keys", UserName=self.user)["AccessKeyMetadata"]
        return [KeyInfo(k["AccessKeyId"], "", k["CreateDate"].timestamp(),
                        k.get("Status") == "Active") for k in keys]

    def inventory(self) -> list[str]:
        """Ids of the user's keys before minting."""
        return [k.key_id for k in self.list_keys()]

    def mint(self, label: str, keep: Sequence[str]) -> Minted:
        """Create an access key, first freeing a slot from an Inactive spare key if needed."""
        keys = self.list_keys()
        if len(keys) >= MAX_KEYS_PER_USER:
            spare = [k for k in keys if not k.active and k.key_id not in keep]
            if not spare:
                ids = ", ".join(f"{k.key_id} ({'Active' if k.active else 'Inactive'})"
                                for k in keys)
                raise RotationError(
                    f"{self.spec.slot_id}: IAM user {self.user} already has "
                    f"{MAX_KEYS_PER_USER} access keys ({ids}); AWS allows no third",
                    hint="deactivate and delete the key that is not in the slot, then rerun")
            self._call("delete_access_key", UserName=self.user, AccessKeyId=spare[0].key_id)
        made = self._call("create_access_key", UserName=self.user)["AccessKey"]
        return Minted(made["AccessKeyId"], {"aws_access_key_id": made["AccessKeyId"],
                                            "aws_secret_access_key": made["SecretAccessKey"]})

    def find_minted(self, label_prefix: str, preexisting: Sequence[str]) -> list[str]:
        """Keys of the (dedicated) user that did not exist when the rotation started."""
        return [k.key_id for k in self.list_keys() if k.key_id not in set(preexisting)]

    def identify(self, secret: Mapping[str, str]) -> str | None:
        """The access key id is part of the value; check it belongs to the user."""
        key_id = secret.get("aws_access_key_id")
        return key_id if key_id and key_id in self.inventory() else None

    def verify(self, secret: Mapping[str, str]) -> str:
        """STS GetCallerIdentity with the new key must name the user."""
        from botocore.exceptions import BotoCoreError, ClientError

        want = self._call("get_user", UserName=self.user)["User"]["Arn"]
        sts = self.sts_factory(secret.get("aws_access_key_id", ""),
                               secret.get("aws_secret_access_key", ""))

        def check() -> str | None:
            try:
                arn = sts.get_caller_identity()["Arn"]
            except (ClientError, BotoCoreError) as exc:
                return f"STS GetCallerIdentity failed ({type(exc).__name__})"
            return None if arn == want else "STS GetCallerIdentity names another identity"

        verify_with_retries(self.spec, check)
        return f"STS GetCallerIdentity: {want}"

    def last_used(self, key_id: str) -> float | None:
        """GetAccessKeyLastUsed (None when never used or the key is gone)."""
        resp = self._call("get_access_key_last_used", AccessKeyId=key_id)
        used = ((resp or {}).get("AccessKeyLastUsed") or {}).get("LastUsedDate")
        return used.timestamp() if used is not None else None

    def disable(self, key_id: str) -> None:
        """Set the key Inactive (reversible)."""
        self._call("update_access_key", UserName=self.user, AccessKeyId=key_id, Status="Inactive")

    def revoke(self, key_id: str) -> None:
        """Delete the key (already gone is fine)."""
        self._call("delete_access_key", UserName=self.user, AccessKeyId=key_id)
