"""The official anthropic SDK on aigw's failover transport (``Client.anthropic()``),
over the Anthropic Messages API and Claude on Bedrock.

testing.fake_anthropic stands in for api.anthropic.com and testing.fake_bedrock
for the Bedrock runtime (it verifies each SigV4 signature by recomputing it with
botocore); the SDK's own parsing of their answers (Message objects, the stream
helpers, tool_use blocks, parsed output) is the check that they are faithful.
"""

from __future__ import annotations

import asyncio

import anthropic
import pytest
from conftest import aws_credentials_file, bedrock_key  # type: ignore[import-not-found]
from pydantic import BaseModel

from aigw.client import AsyncClient, Attempt, Client, attempts_of, fingerprint

USER = [{"role": "user", "content": "hello"}]


def claude_config(anthropics, bedrocks, anthropic_route, bedrock_route, write_config, **over):
    """Alias "claude": the Anthropic API first, then Claude on Bedrock."""
    a1, b1 = anthropics("anthropic"), bedrocks("bedrock-eu")
    cfg = write_config({"claude": [anthropic_route(a1, **over), bedrock_route(b1)]},
                       keys={"bedrock-eu": bedrock_key(b1)})
    return cfg, a1, b1


def test_typed_message_from_anthropic(anthropics, bedrocks, anthropic_route, bedrock_route,
                                      write_config):
    """The stand-ins answer; the SDK returns a typed Message from the first route."""
    cfg, a1, b1 = claude_config(anthropics, bedrocks, anthropic_route, bedrock_route,
                                write_config)
    with Client.from_file(cfg) as client:
        msg = client.anthropic().messages.create(model="claude", max_tokens=64, messages=USER)
    assert isinstance(msg, anthropic.types.Message)
    assert msg.content[0].text == "[anthropic] echo: hello"
    assert msg.model == "claude-anthropic"
    assert a1.last_request == {"model": "claude-anthropic", "max_tokens": 64, "messages": USER}
    assert b1.total_calls == 0


@pytest.mark.parametrize("mode", ["429", "500", "503", "refuse", "slow"])
def test_anthropic_fails_over_to_bedrock(anthropics, bedrocks, anthropic_route, bedrock_route,
                                         write_config, mode):
    """The stand-ins answer; Anthropic fails with `mode`, Bedrock (SigV4) serves."""
    cfg, a1, b1 = claude_config(anthropics, bedrocks, anthropic_route, bedrock_route,
                                write_config, timeout=0.3)
    a1.set_mode(mode, seconds=2.0)
    attempts: list[Attempt] = []
    with Client.from_file(cfg, on_attempt=attempts.append) as client:
        msg = client.anthropic().messages.create(model="claude", max_tokens=64, messages=USER)
    assert msg.content[0].text == "[bedrock-eu] echo: hello"
    assert msg.model == "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    expected = {"refuse": "connect_error", "slow": "timeout"}.get(mode, f"http_{mode}")
    assert [(a.provider, a.outcome) for a in attempts] == [("anthropic", expected),
                                                           ("bedrock-eu", "ok")]
    assert b1.signatures_checked == 1
    assert b1.last_path == "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"
    assert b1.last_request == {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                               "messages": USER}


def test_stream_fails_over_before_first_event(anthropics, bedrocks, anthropic_route,
                                              bedrock_route, write_config):
    """The stand-ins answer; Anthropic answers 503, the Bedrock event-stream is
    re-emitted as SSE that the SDK's stream helper reads."""
    cfg, a1, b1 = claude_config(anthropics, bedrocks, anthropic_route, bedrock_route,
                                write_config)
    a1.set_mode("503")
    with Client.from_file(cfg) as client:
        with client.anthropic().messages.stream(model="claude", max_tokens=64,
                                                messages=USER) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert text == "[bedrock-eu] echo: hello"
    assert final.stop_reason == "end_turn"
    assert b1.last_path.endswith("/invoke-with-response-stream")


def test_no_failover_after_first_event(anthropics, bedrocks, anthropic_route, bedrock_route,
                                       write_config):
    """The stand-ins answer; Anthropic cuts its stream after message_start."""
    cfg, a1, b1 = claude_config(anthropics, bedrocks, anthropic_route, bedrock_route,
                                write_config)
    a1.set_mode("cut")
    with Client.from_file(cfg) as client:
        stream = client.anthropic().messages.create(model="claude", max_tokens=64,
                                                    messages=USER, stream=True)
        events = iter(stream)
        assert next(events).type == "message_start"
        with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces the broken read
            list(events)
    assert b1.total_calls == 0


def test_bedrock_stream_cut_is_not_failed_over(bedrocks, bedrock_route, anthropics,
                                               anthropic_route, write_config):
    """The stand-ins answer; Bedrock first, cut after its first frame."""
    b1, a1 = bedrocks("bedrock-eu"), anthropics("anthropic")
    cfg = write_config({"claude": [bedrock_route(b1), anthropic_route(a1)]},
                       keys={"bedrock-eu": bedrock_key(b1)})
    b1.set_mode("cut")
    with Client.from_file(cfg) as client:
        stream = client.anthropic().messages.create(model="claude", max_tokens=64,
                                                    messages=USER, stream=True)
        events = iter(stream)
        assert next(events).type == "message_start"
        with pytest.raises(Exception):  # noqa: B017
            list(events)
    assert a1.total_calls == 0


def test_401_rereads_rotated_key_file(replace_key, anthropics, anthropic_route, write_config):
    """The stand-in answers; its key was rotated under the client."""
    a1 = anthropics("anthropic", ["sk-old"])
    cfg = write_config({"claude": [anthropic_route(a1)]}, keys={"anthropic": "sk-old"})
    attempts: list[Attempt] = []
    with Client.from_file(cfg, key_check_interval=3600, watch_keys=False,
                          on_attempt=attempts.append) as client:
        claude = client.anthropic()
        claude.messages.create(model="claude", max_tokens=8, messages=USER)
        a1.set_keys(["sk-new"])
        replace_key(cfg.parent / "keys" / "anthropic.default.key", "sk-new")
        claude.messages.create(model="claude", max_tokens=8, messages=USER)
    assert [a.outcome for a in attempts] == ["ok", "http_401", "ok"]
    assert attempts[-1].key_fingerprint == fingerprint("sk-new")


def test_sigv4_is_verified_and_rotated_credentials_are_reread(replace_key, bedrocks,
                                                              bedrock_route, write_config):
    """The Bedrock stand-in recomputes each signature with botocore: a wrong secret gets
    403 InvalidSignature; after the IAM key rotates, a 403 re-reads the credentials file."""
    b1 = bedrocks("bedrock-eu")
    key_id, secret = b1.test_credentials[0]
    cfg = write_config({"claude": [bedrock_route(b1)]},
                       keys={"bedrock-eu": aws_credentials_file(key_id, "wrong-" + secret)})
    key_file = cfg.parent / "keys" / "bedrock-eu.default.key"
    attempts: list[Attempt] = []
    with Client.from_file(cfg, key_check_interval=3600, watch_keys=False,
                          on_attempt=attempts.append) as client:
        claude = client.anthropic()
        with pytest.raises(anthropic.PermissionDeniedError):
            claude.messages.create(model="claude", max_tokens=8, messages=USER)
        assert b1.signatures_checked == 1  # re-read the file: the same key, so no retry
        replace_key(key_file, aws_credentials_file(key_id, secret))
        msg = claude.messages.create(model="claude", max_tokens=8, messages=USER)
        assert msg.content[0].text == "[bedrock-eu] echo: hello"
        b1.set_credentials([("AKIDNEW", "new-secret")])  # the rotation: new key pair
        replace_key(key_file, aws_credentials_file("AKIDNEW", "new-secret"))
        claude.messages.create(model="claude", max_tokens=8, messages=USER)
    assert [a.outcome for a in attempts[-3:]] == ["ok", "http_403", "ok"]
    assert attempts[-1].key_fingerprint == fingerprint("new-secret")


def test_bedrock_api_key_route(bedrocks, bedrock_route, write_config):
    """The Bedrock stand-in accepts a Bedrock API key as Bearer (api bedrock-api-key)."""
    b1 = bedrocks("bedrock-eu", credentials=[], api_keys=["bedrock-api-key-1"])
    cfg = write_config({"claude": [bedrock_route(b1, api="bedrock-api-key")]},
                       keys={"bedrock-eu": "bedrock-api-key-1"})
    with Client.from_file(cfg) as client:
        msg = client.anthropic().messages.create(model="claude", max_tokens=8, messages=USER)
    assert msg.content[0].text == "[bedrock-eu] echo: hello"
    assert b1.signatures_checked == 0


class Verdict(BaseModel):
    clause: str
    risky: bool


TOOLS = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}]


@pytest.mark.parametrize("primary", ["anthropic", "bedrock"])
def test_tools_and_structured_output_pass_through(anthropics, bedrocks, anthropic_route,
                                                  bedrock_route, write_config, primary):
    """The stand-ins answer; tools and output schemas reach them unchanged."""
    a1, b1 = anthropics("anthropic"), bedrocks("bedrock-eu")
    route = anthropic_route(a1) if primary == "anthropic" else bedrock_route(b1)
    fake = a1 if primary == "anthropic" else b1
    cfg = write_config({"claude": [route]}, keys={"bedrock-eu": bedrock_key(b1)})
    choice = {"type": "tool", "name": "get_weather"}
    with Client.from_file(cfg) as client:
        claude = client.anthropic()
        msg = claude.messages.create(model="claude", max_tokens=64, messages=USER,
                                     tools=TOOLS, tool_choice=choice)
        assert msg.stop_reason == "tool_use"
        assert msg.content[0].name == "get_weather" and msg.content[0].input == {"city": "echo"}
        assert fake.last_request["tools"] == TOOLS
        assert fake.last_request["tool_choice"] == choice
        parsed = claude.messages.parse(model="claude", max_tokens=64, messages=USER,
                                       output_format=Verdict)
    assert isinstance(parsed.parsed_output, Verdict)
    fmt = fake.last_request["output_config"]["format"]
    assert fmt["type"] == "json_schema" and set(fmt["schema"]["properties"]) == {"clause",
                                                                                 "risky"}


def test_errors_are_the_sdks_own(anthropics, anthropic_route, providers, make_route,
                                 write_config):
    """The stand-ins answer; errors arrive as anthropic exceptions with aigw attempts."""
    a1 = anthropics("anthropic")
    p1 = providers("p1")
    cfg = write_config({"claude": [anthropic_route(a1)], "chat": [make_route(p1)]})
    with Client.from_file(cfg) as client:
        claude = client.anthropic()
        with pytest.raises(anthropic.NotFoundError, match="'nope' is not configured"):
            claude.messages.create(model="nope", max_tokens=8, messages=USER)
        with pytest.raises(anthropic.BadRequestError, match="'chat' speaks the openai family"):
            claude.messages.create(model="chat", max_tokens=8, messages=USER)
        a1.set_mode("503")
        with pytest.raises(anthropic.InternalServerError) as info:
            claude.messages.create(model="claude", max_tokens=8, messages=USER)
        assert [(a.provider, a.outcome) for a in attempts_of(info.value)] == [
            ("anthropic", "http_503")]
        assert a1.total_calls == 1  # the SDK's own retries are off
    assert p1.total_calls == 0


def test_async_anthropic(anthropics, bedrocks, anthropic_route, bedrock_route, write_config):
    """The stand-ins answer; AsyncAnthropic fails over to Bedrock, plain and streamed."""
    cfg, a1, b1 = claude_config(anthropics, bedrocks, anthropic_route, bedrock_route,
                                write_config)

    async def main() -> tuple[list[str], str]:
        async with AsyncClient.from_file(cfg) as client:
            claude = client.anthropic()
            assert isinstance(claude, anthropic.AsyncAnthropic)
            a1.set_mode("refuse")
            msgs = await asyncio.gather(*(
                claude.messages.create(model="claude", max_tokens=8, messages=USER)
                for _ in range(5)))
            async with claude.messages.stream(model="claude", max_tokens=8,
                                              messages=USER) as stream:
                text = "".join([t async for t in stream.text_stream])
            return [m.content[0].text for m in msgs], text

    texts, streamed = asyncio.run(main())
    assert texts == ["[bedrock-eu] echo: hello"] * 5
    assert streamed == "[bedrock-eu] echo: hello"


def test_bedrock_key_as_a_csi_volume_mounts_it(bedrocks, bedrock_route, write_config, tmp_path):
    """A Kubernetes CSI volume cannot template a credentials file: it mounts each field of
    a Bedrock slot as its own file, named as the rendered SecretProviderClass says (the
    golden k8s-csi.yaml of examples' eu-contracts). The client signs with those files
    (the Bedrock stand-in verifies the SigV4 signature) and follows a new secret in them."""
    import json
    from pathlib import Path

    import yaml

    golden = Path(__file__).parents[1] / "render" / "golden" / "prod" / "eu-contracts"
    csi = next(d for d in yaml.safe_load_all((golden / "k8s-csi.yaml").read_text())
               if d["kind"] == "SecretProviderClass")
    objects = {o["secretKey"]: o["objectName"]
               for o in yaml.safe_load(csi["spec"]["parameters"]["objects"])}
    client_doc = json.loads((golden / "aigw-client.json").read_text())
    (key_file,) = {r["key_file"] for a in client_doc["aliases"].values() for r in a["routes"]
                   if r["api"] == "bedrock"}
    b1 = bedrocks("bedrock-eu", credentials=[("AKIDFAKEONE", "fake-secret-one"),
                                             ("AKIDFAKETWO", "fake-secret-two")])
    cfg = write_config({"claude": [bedrock_route(b1, key_file=key_file)]}, write_keys=False)
    keys = tmp_path / "keys"
    (keys / objects["aws_access_key_id"]).write_text("AKIDFAKEONE")
    (keys / objects["aws_secret_access_key"]).write_text("fake-secret-one\n")
    attempts: list[Attempt] = []
    with Client.from_file(cfg, on_attempt=attempts.append, watch_keys=False) as client:
        sdk = client.anthropic()
        msg = sdk.messages.create(model="claude", max_tokens=64, messages=USER)
        assert msg.content[0].text == "[bedrock-eu] echo: hello"
        assert attempts[-1].key_fingerprint == fingerprint("fake-secret-one")
        for name, value in ((objects["aws_access_key_id"], "AKIDFAKETWO"),
                            (objects["aws_secret_access_key"], "fake-secret-two")):
            tmp = keys / (name + ".tmp")
            tmp.write_text(value)
            tmp.replace(keys / name)
        client.router("claude", None).routes[0].key.reload()
        sdk.messages.create(model="claude", max_tokens=64, messages=USER)
    assert [a.outcome for a in attempts] == ["ok", "ok"]
    assert attempts[-1].key_fingerprint == fingerprint("fake-secret-two")
