"""One contract every rotation driver passes, parametrized over the drivers.

- `fake`: tests/rotation/fake_driver.py (in memory).
- `manual`: keys come from the operator (here: minted at testing.fake_provider,
  which is also the verify URL).
- `openai-admin`: against testing/openai_admin.py, a local server
  standing in for OpenAI's admin API.
- `anthropic-admin`: against testing/anthropic_admin.py, a local server standing
  in for Anthropic's API keys (Admin API) and /v1/models; the operator's pasted
  key is one the test creates there, as an operator would in the Console.
- `aws-iam`: boto3 against a moto server (ThreadedMotoServer on a free
  127.0.0.1 port), standing in for AWS IAM and STS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from testing.anthropic_admin import AnthropicAdminServer
from testing.fake_provider import FakeProvider, fingerprint
from testing.openai_admin import OpenAIAdminServer

from aigw.drivers import DRIVERS
from aigw.errors import RotationError
from aigw.rotation.drivers.anthropic_admin import AnthropicAdminDriver
from aigw.rotation.drivers.aws_iam import AwsIamDriver
from aigw.rotation.drivers.base import Driver, DriverSpec, build_driver
from aigw.rotation.drivers.manual import ManualDriver
from aigw.rotation.drivers.openai_admin import OpenAIAdminDriver
from tests.rotation.conftest import ADMIN_KEY, ANTHROPIC_ADMIN_KEY, PROJECT
from tests.rotation.fake_driver import FakeDriver, FakeKeys

LABEL = "aigw-prod-p-default-run1-"


@dataclass
class Harness:
    """A driver plus the provider-side view a test needs: does a key work, use it."""

    driver: Driver
    works: Callable[[Mapping[str, str]], bool]
    use: Callable[[Mapping[str, str]], None]
    revoke_by_hand: Callable[[Mapping[str, str]], None] = lambda s: None


def _spec(api: str = "openai", base_url: str | None = None, fields: tuple[str, ...] =
          ("api_key",), **params: Any) -> DriverSpec:
    return DriverSpec(env="prod", provider="p", slot="default", api=api, base_url=base_url,
                      params={"verify_attempts": 2, "verify_delay": 0.05, **params},
                      fields=fields)


@pytest.fixture
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """A Harness for the driver named by the test's parameter."""
    name = request.param
    if name == "fake":
        keys = FakeKeys()
        yield Harness(FakeDriver(keys, _spec()), lambda s: keys.valid(s["api_key"]),
                      lambda s: keys.use(s["api_key"]) and None)
    elif name == "manual":
        with FakeProvider("manual-target") as fake:
            def supply(prompt: str, fields: Sequence[str]) -> dict[str, str]:
                return {"api_key": fake.mint_key()}
            driver = ManualDriver(_spec(verify_url=fake.base_url + "/models"), supply)
            yield Harness(driver, lambda s: fingerprint(s["api_key"]) in fake.key_fingerprints(),
                          lambda s: None, lambda s: fake.revoke_key(s["api_key"]) and None)
    elif name == "openai-admin":
        with OpenAIAdminServer(ADMIN_KEY) as server:
            monkeypatch.setenv("OPENAI_ADMIN_KEY", ADMIN_KEY)
            spec = _spec(base_url=server.url, project_id=PROJECT, admin_base_url=server.url)
            yield Harness(build_driver("openai-admin", spec, lambda p, f: {}),
                          lambda s: server.valid(s["api_key"]),
                          lambda s: server.use(s["api_key"]) and None)
    elif name == "anthropic-admin":
        with AnthropicAdminServer(ANTHROPIC_ADMIN_KEY) as anthropic:
            monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", ANTHROPIC_ADMIN_KEY)
            anthropic.create_key("someone else's key")

            def paste(prompt: str, fields: Sequence[str]) -> dict[str, str]:
                return {"api_key": anthropic.create_key("pasted")[1]}
            spec = _spec(api="anthropic", base_url=anthropic.url, admin_base_url=anthropic.url)
            yield Harness(build_driver("anthropic-admin", spec, paste),
                          lambda s: anthropic.valid(s["api_key"]),
                          lambda s: anthropic.use(s["api_key"]) and None)
    elif name == "aws-iam":
        url = request.getfixturevalue("moto_url")
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1")
        iam.create_user(UserName="bedrock-user")
        spec = _spec(api="bedrock", fields=("aws_access_key_id", "aws_secret_access_key"),
                     user_name="bedrock-user", endpoint_url=url)

        def works(s: Mapping[str, str]) -> bool:
            keys = iam.list_access_keys(UserName="bedrock-user")["AccessKeyMetadata"]
            return any(k["AccessKeyId"] == s["aws_access_key_id"] and k["Status"] == "Active"
                       for k in keys)

        def use(s: Mapping[str, str]) -> None:
            boto3.client("sts", endpoint_url=url, region_name="us-east-1",
                         aws_access_key_id=s["aws_access_key_id"],
                         aws_secret_access_key=s["aws_secret_access_key"]).get_caller_identity()

        yield Harness(build_driver("aws-iam", spec, lambda p, f: {}), works, use)


ALL = ["fake", *sorted(DRIVERS)]


def _value(secret: Mapping[str, str]) -> str:
    """The secret part of a key (not the AWS access key id, which is an id)."""
    return secret.get("api_key") or secret["aws_secret_access_key"]


def test_registry_names_every_driver() -> None:
    assert sorted(DRIVERS) == ["anthropic-admin", "aws-iam", "manual", "openai-admin"]
    classes = {ManualDriver, OpenAIAdminDriver, AwsIamDriver, AnthropicAdminDriver}
    from aigw.drivers import load_driver_class

    assert {load_driver_class(n) for n in DRIVERS} == classes
    assert all(isinstance(c.name, str) and c.name in DRIVERS for c in classes)


@pytest.mark.integration
@pytest.mark.parametrize("harness", ALL, indirect=True)
def test_driver_contract(harness: Harness) -> None:
    d = harness.driver
    assert isinstance(d, Driver)
    spec_fields = d.spec.fields
    before = d.inventory()
    assert all(isinstance(k, str) for k in before)

    first = d.mint(LABEL + "1", [])
    assert sorted(first.secret) == sorted(spec_fields) and all(first.secret.values())
    if d.can_mint or d.can_revoke:  # a key aigw will revoke one day has a provider id
        assert first.key_id is not None
    assert harness.works(first.secret)
    assert isinstance(d.verify(first.secret), str)
    assert _value(first.secret) not in repr(first)

    if d.can_mint:
        assert first.key_id in {k.key_id for k in d.list_keys()}
        assert d.identify(first.secret) == first.key_id
        assert first.key_id in d.find_minted(LABEL, before)
    else:  # the operator's key: never "minted" by aigw; found by its value, if at all
        assert d.find_minted(LABEL, before) == []
        assert d.identify(first.secret) == first.key_id
        if first.key_id is not None:
            assert first.key_id in {k.key_id for k in d.list_keys()}

    second = d.mint(LABEL + "2", [first.key_id] if first.key_id else [])
    assert second.secret != first.secret
    assert second.key_id is None or second.key_id != first.key_id
    assert harness.works(first.secret) and harness.works(second.secret)

    if d.reports_last_used:
        t0 = time.time() - 1
        harness.use(second.secret)
        used = d.last_used(str(second.key_id))
        assert used is not None and used >= t0

    if d.can_disable:
        d.disable(str(first.key_id))
        assert not harness.works(first.secret)
    if d.can_revoke:
        d.revoke(str(first.key_id))
        d.revoke(str(first.key_id))  # idempotent
        assert not harness.works(first.secret)
        assert first.key_id not in {k.key_id for k in d.list_keys()}
        assert d.last_used(str(first.key_id)) is None
        d.revoke(str(second.key_id))
        with pytest.raises(RotationError) as err:
            d.verify(second.secret)
        assert _value(second.secret) not in str(err.value.message)
    else:
        with pytest.raises(RotationError):
            d.revoke("anything")
        harness.revoke_by_hand(second.secret)
        with pytest.raises(RotationError) as err:
            d.verify(second.secret)
        assert second.secret["api_key"] not in str(err.value.message)
