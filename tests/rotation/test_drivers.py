"""What each driver does beyond the shared contract (limits, identification, errors)."""

from __future__ import annotations

from pathlib import Path

import boto3
import httpx
import pytest
from testing.bao import BaoDevServer
from testing.openai_admin import OpenAIAdminServer

from aigw.errors import RotationError
from aigw.rotation.drivers.base import DriverSpec, VerifySkipped, build_driver
from aigw.rotation.drivers.manual import ManualDriver, auth_headers
from aigw.rotation.progress import Timing
from aigw.rotation.runner import RotateOptions, rotate_keys, timing_from_env
from tests.rotation.conftest import (
    ADMIN_KEY,
    PROJECT,
    Consumer,
    boto3_client,
    load,
    read_slot,
    seed,
    write_catalog,
)

AWS_FIELDS = ("aws_access_key_id", "aws_secret_access_key")


def _aws_spec(url: str) -> DriverSpec:
    return DriverSpec("prod", "bedrock", "default", "bedrock", None,
                      {"user_name": "u1", "endpoint_url": url, "verify_delay": 0.05},
                      AWS_FIELDS)


@pytest.mark.integration
def test_aws_two_keys_per_user(moto_url: str) -> None:
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
    iam.create_user(UserName="u1")
    current = iam.create_access_key(UserName="u1")["AccessKey"]["AccessKeyId"]
    other = iam.create_access_key(UserName="u1")["AccessKey"]["AccessKeyId"]
    driver = build_driver("aws-iam", _aws_spec(moto_url), lambda p, f: {})
    with pytest.raises(RotationError) as err:
        driver.mint("label", [current])
    assert "already has 2 access keys" in err.value.message
    assert current in err.value.message and other in err.value.message
    iam.update_access_key(UserName="u1", AccessKeyId=other, Status="Inactive")
    new = driver.mint("label", [current])
    ids = {k["AccessKeyId"] for k in iam.list_access_keys(UserName="u1")["AccessKeyMetadata"]}
    assert ids == {current, new.key_id}  # the inactive spare made room
    iam.update_access_key(UserName="u1", AccessKeyId=str(new.key_id), Status="Inactive")
    with pytest.raises(RotationError):  # never deletes the key it was told to keep
        driver.mint("label", [current, str(new.key_id)])


@pytest.mark.integration
def test_aws_verify_checks_the_secret_not_only_the_key_id(moto_url: str) -> None:
    """STS GetCallerIdentity signed with the new key: moto recomputes the SigV4 signature."""
    iam = boto3_client("iam", moto_url)
    iam.create_user(UserName="u1")
    made = iam.create_access_key(UserName="u1")["AccessKey"]
    driver = build_driver("aws-iam", _aws_spec(moto_url), lambda p, f: {})
    good = {"aws_access_key_id": made["AccessKeyId"],
            "aws_secret_access_key": made["SecretAccessKey"]}
    assert driver.verify(good) == "STS GetCallerIdentity: arn:aws:iam::123456789012:user/u1"
    wrong = {**good, "aws_secret_access_key": "x" * 40}  # the right id, a wrong secret
    with pytest.raises(RotationError, match="STS GetCallerIdentity failed") as err:
        driver.verify(wrong)
    assert "x" * 40 not in err.value.message


@pytest.mark.integration
def test_aws_rotation_end_to_end(moto_url: str, bao: BaoDevServer, kv_mount: str,
                                 tmp_path: Path) -> None:
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
    iam.create_user(UserName="u1")
    made = iam.create_access_key(UserName="u1")["AccessKey"]
    old = {"aws_access_key_id": made["AccessKeyId"], "aws_secret_access_key":
           made["SecretAccessKey"]}
    provider = {"api": "bedrock", "region": "eu", "extra": {"aws_region_name": "eu-central-1"},
                "rotation": {
        "driver": "aws-iam", "params": {"user_name": "u1", "endpoint_url": moto_url,
                                        "verify_delay": 0.05}}}
    folder = write_catalog(tmp_path / "cat", kv_mount, {"bedrock": provider})
    client = bao.client()
    slot = "prod/providers/bedrock/default"
    seed(client, kv_mount, slot, old)

    def use(d: dict[str, str]) -> bool:
        """A Bedrock consumer's call: a signed STS request (moto checks the signature).

        moto accepts Inactive keys, AWS does not: the key must also be Active.
        """
        boto3_client("sts", moto_url, aws_access_key_id=d["aws_access_key_id"],
                     aws_secret_access_key=d["aws_secret_access_key"]).get_caller_identity()
        keys = iam.list_access_keys(UserName="u1")["AccessKeyMetadata"]
        return any(k["AccessKeyId"] == d["aws_access_key_id"] and k["Status"] == "Active"
                   for k in keys)

    with Consumer(client, kv_mount, slot, use, interval=0.05) as consumer:
        result = rotate_keys(load(folder), client, RotateOptions(env="prod"),
                             timing=Timing(quiet=0.3, poll=0.05, wait=20))
    assert result.outcomes[0].status == "done", result.outcomes[0].message
    consumer.assert_clean()
    new = read_slot(client, kv_mount, slot) or {}
    keys = iam.list_access_keys(UserName="u1")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [new["aws_access_key_id"]]


@pytest.mark.integration
def test_openai_identifies_and_revokes_user_keys_and_pages(
        admin_server: OpenAIAdminServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", ADMIN_KEY)
    spec = DriverSpec("prod", "openai", "default", "openai", admin_server.url,
                      {"project_id": PROJECT, "admin_base_url": admin_server.url})
    driver = build_driver("openai-admin", spec, lambda p, f: {})
    for i in range(120):  # more than one page of service accounts
        admin_server.create_account(PROJECT, f"other-team-{i}")
    key_id, value = admin_server.add_user_key(PROJECT)
    assert driver.identify({"api_key": value}) == key_id
    minted = driver.mint("aigw-prod-openai-default-r1-1", [])
    assert driver.find_minted("aigw-prod-openai-default-r1-", []) == [minted.key_id]
    assert [k.key_id for k in driver.list_keys()] == [minted.key_id]
    driver.revoke(key_id)
    assert not admin_server.valid(value)
    assert len(admin_server.accounts) == 121


def test_openai_needs_its_admin_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    spec = DriverSpec("prod", "openai", "default", "openai", None, {"project_id": "p"})
    with pytest.raises(RotationError, match=r"\$OPENAI_ADMIN_KEY is not set"):
        build_driver("openai-admin", spec, lambda p, f: {})
    spec = DriverSpec("prod", "openai", "default", "openai", None, {})
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "x")
    with pytest.raises(RotationError, match="rotation.params.project_id is required"):
        build_driver("openai-admin", spec, lambda p, f: {})


def test_openai_errors_never_quote_keys() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided: "
                                                   "sk-admin-secret-123456 and sk-abcdef12"}})

    from aigw.rotation.drivers.openai_admin import OpenAIAdminDriver

    spec = DriverSpec("prod", "openai", "default", "openai", None, {"project_id": "p"})
    driver = OpenAIAdminDriver(spec, "sk-admin-secret-123456", http=httpx.Client(
        base_url="http://admin.invalid/v1", transport=httpx.MockTransport(handler)))
    with pytest.raises(RotationError) as err:
        driver.mint("x", [])
    assert "HTTP 401" in err.value.message and "sk-admin" not in err.value.message
    assert "sk-abcdef12" not in err.value.message


def test_manual_verify_is_optional_and_speaks_each_api() -> None:
    spec = DriverSpec("prod", "anthropic", "default", "anthropic", None, {})
    driver = ManualDriver(spec, lambda p, f: {"api_key": "k"})
    skipped = driver.verify({"api_key": "k"})
    assert isinstance(skipped, VerifySkipped) and skipped == "no rotation.params.verify_url"
    assert auth_headers(spec, "k") == {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    openai = DriverSpec("prod", "deepseek", "default", "openai", None, {})
    assert auth_headers(openai, "k") == {"Authorization": "Bearer k"}
    assert driver.mint("label", []).secret == {"api_key": "k"}


def test_timing_knobs_from_the_environment() -> None:
    t = timing_from_env({"AIGW_ROTATE_QUIET": "0.5", "AIGW_ROTATE_POLL": "2m"}, wait=3.0)
    assert (t.quiet, t.poll, t.wait, t.lock_ttl) == (0.5, 120.0, 3.0, Timing().lock_ttl)
