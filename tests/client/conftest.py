"""Fixtures for the client runtime: fake providers over real HTTP and config files.

The fake provider (testing.fake_provider) stands in for OpenAI-compatible APIs
(DeepSeek, Volcengine, Bailian...), testing.fake_anthropic for the Anthropic
Messages API and testing.fake_bedrock for Bedrock: each checks keys (Bedrock
recomputes SigV4 signatures), injects faults and counts calls.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from testing.fake_anthropic import FakeAnthropic
from testing.fake_bedrock import FakeBedrock
from testing.fake_provider import FakeProvider


class FakeClock:
    """A monotonic clock the test advances by hand (no sleeping, no wall-clock race)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replace_key(path: Path, key: str) -> None:
    """Replace a key file the way an agent does: write a temp file, rename it over."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(key + "\n")
    tmp.replace(path)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock to inject into a client (``clock=``) and advance by hand."""
    return FakeClock()


@pytest.fixture(name="replace_key")
def replace_key_fixture() -> Callable[[Path, str], None]:
    """`replace_key` for tests (a fixture: tests/ has two conftest modules)."""
    return replace_key


@pytest.fixture
def providers() -> Iterator[Callable[..., FakeProvider]]:
    """Start fake providers on free ports; all are stopped after the test."""
    started: list[FakeProvider] = []

    def start(name: str, keys: list[str] | None = None) -> FakeProvider:
        fake = FakeProvider(name, keys or [f"sk-{name}-1"]).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def _route(fake: FakeProvider, **over: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "provider": fake.name, "api": "openai", "base_url": fake.base_url,
        "model": f"{fake.name}-model", "slot": "default",
        "key_file": f"{fake.name}.default.key", "timeout": 2.0, "retries": 0,
        "cooldown": 30.0, "extra": {},
    }
    r.update(over)
    return r


@pytest.fixture
def make_route() -> Callable[..., dict[str, Any]]:
    """A route entry for a fake as `aigw render` writes it (key file provider.default.key)."""
    return _route


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write aigw-client.json (relative key_dir "keys") and one key file per route."""

    def write(aliases: dict[str, list[dict[str, Any]]], keys: dict[str, str] | None = None,
              write_keys: bool = True) -> Path:
        key_dir = tmp_path / "keys"
        key_dir.mkdir(exist_ok=True)
        if write_keys:
            for routes in aliases.values():
                for r in routes:
                    value = (keys or {}).get(r["provider"], f"sk-{r['provider']}-1")
                    replace_key(key_dir / r["key_file"], value)
        doc = {"version": 1, "service": "support-bot", "environment": "test",
               "key_dir": "keys",
               "aliases": {a: {"routes": rs} for a, rs in aliases.items()}}
        path = tmp_path / "aigw-client.json"
        path.write_text(json.dumps(doc, sort_keys=True, indent=2) + "\n")
        return path

    return write



@pytest.fixture
def anthropics() -> Iterator[Callable[..., FakeAnthropic]]:
    """Start Anthropic Messages stand-ins (testing.fake_anthropic); stopped after the test."""
    started: list[FakeAnthropic] = []

    def start(name: str, keys: list[str] | None = None) -> FakeAnthropic:
        fake = FakeAnthropic(name, keys or [f"sk-{name}-1"]).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def aws_credentials_file(key_id: str, secret: str) -> str:
    """A key file of a Bedrock slot, as the agent template renders it."""
    return f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}"


@pytest.fixture
def bedrocks() -> Iterator[Callable[..., FakeBedrock]]:
    """Start Bedrock runtime stand-ins (testing.fake_bedrock); stopped after the test.

    Each gets one access key: ("AKIDFAKE" + NAME, a random secret) unless given.
    """
    started: list[FakeBedrock] = []

    def start(name: str, credentials: list[tuple[str, str]] | None = None,
              region: str = "eu-central-1", api_keys: list[str] | None = None) -> FakeBedrock:
        creds = credentials if credentials is not None else [
            ("AKIDFAKE" + name.upper().replace("-", ""), "fake-secret-" + secrets.token_hex(8))]
        fake = FakeBedrock(name, creds, api_keys=api_keys, region=region).start()
        fake.test_credentials = creds  # type: ignore[attr-defined]
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def anthropic_route() -> Callable[..., dict[str, Any]]:
    """A route entry for an Anthropic stand-in."""

    def route(fake: FakeAnthropic, **over: Any) -> dict[str, Any]:
        return _route(fake, api="anthropic", base_url=fake.base_url,
                      model=f"claude-{fake.name}", **over)

    return route


@pytest.fixture
def bedrock_route() -> Callable[..., dict[str, Any]]:
    """A route entry for a Bedrock stand-in (SigV4, region from the stand-in)."""

    def route(fake: FakeBedrock, **over: Any) -> dict[str, Any]:
        r = _route(fake, api="bedrock", base_url=fake.base_url,
                   model="eu.anthropic.claude-sonnet-4-5-20250929-v1:0")
        r["aws_region"] = fake.region
        r.update(over)
        return r

    return route


def bedrock_key(fake: FakeBedrock) -> str:
    """The credentials file text of a Bedrock stand-in's first access key."""
    key_id, secret = fake.test_credentials[0]  # type: ignore[attr-defined]
    return aws_credentials_file(key_id, secret)
