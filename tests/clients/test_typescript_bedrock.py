"""The TypeScript client on Bedrock: SigV4 and event-stream re-framing, checked by AWS's rules.

A Node script (the official @anthropic-ai/sdk over @aigw/client's fetch) calls
two Bedrock stand-ins (testing.fake_bedrock: a stand-in for the provider only;
it verifies every SigV4 signature by recomputing it with botocore, and streams
real event-stream frames with CRC32s). The first answers 503, so the call
fails over to the second (`bedrock`, SigV4 through @smithy/signature-v4); a
stream through `messages.stream` reads Bedrock's frames as Anthropic SSE; a
`bedrock-api-key` route sends its Bearer key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from testing.fake_bedrock import FakeBedrock

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
SCRIPT = """
import Anthropic from "@anthropic-ai/sdk";
import { AigwClient, attemptsOf } from "./dist/index.js";
const aigw = AigwClient.fromFile(process.argv.at(-1), { logger: () => {} });
const claude = new Anthropic({ fetch: aigw.fetch, maxRetries: 0, apiKey: "unused" });
const ask = { max_tokens: 32, messages: [{ role: "user", content: "hello bedrock" }] };
const { data, response } = await claude.messages.create({ model: "claude", ...ask }).withResponse();
const stream = claude.messages.stream({ model: "claude", ...ask });
const streamed = await stream.finalMessage();
const key = await claude.messages.create({ model: "claude-key", ...ask });
console.log(JSON.stringify({ text: data.content[0].text, model: data.model,
  attempts: attemptsOf(response).map((a) => [a.provider, a.outcome]),
  streamed: streamed.content[0].text, key: key.content[0].text }));
"""


@pytest.mark.integration
def test_bedrock_sigv4_and_event_stream_from_node(tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed")
    subprocess.run(["bash", str(ROOT / "scripts" / "install-node-client.sh")], check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=PACKAGE, check=True)
    down = FakeBedrock("br-down", [("AKIDDOWN", "down-secret")], region="eu-central-1").start()
    iam = FakeBedrock("br-iam", [("AKIDNODE", "node-secret-1")], region="eu-west-1").start()
    keyed = FakeBedrock("br-key", api_keys=["br-api-key"], region="us-east-1").start()
    try:
        down.set_mode("503")
        (tmp_path / "br-down.default.key").write_text(
            "[default]\naws_access_key_id = AKIDDOWN\naws_secret_access_key = down-secret\n")
        (tmp_path / "br-iam.default.key").write_text(
            "[default]\naws_access_key_id = AKIDNODE\naws_secret_access_key = node-secret-1\n")
        (tmp_path / "br-key.default.key").write_text("br-api-key\n")

        def route(fake: FakeBedrock, api: str) -> dict[str, object]:
            return {"provider": fake.name, "api": api, "base_url": fake.base_url,
                    "aws_region": fake.region, "model": "eu.anthropic.claude-sonnet-4-5:0",
                    "slot": "default", "key_file": f"{fake.name}.default.key", "timeout": 10,
                    "retries": 0, "cooldown": 30, "extra": {}}

        config = tmp_path / "aigw-client.json"
        config.write_text(json.dumps({"version": 1, "service": "node", "environment": "test",
                                      "key_dir": ".", "aliases": {
            "claude": {"family": "anthropic", "routes": [route(down, "bedrock"),
                                                         route(iam, "bedrock")]},
            "claude-key": {"family": "anthropic", "routes": [route(keyed, "bedrock-api-key")]},
        }}))
        done = subprocess.run(["node", "--input-type=module", "-e", SCRIPT, str(config)],
                              cwd=PACKAGE, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout)
        assert out["attempts"] == [["br-down", "http_503"], ["br-iam", "ok"]]
        assert out["text"] == "[br-iam] echo: hello bedrock"
        assert out["model"] == "eu.anthropic.claude-sonnet-4-5:0"
        assert out["streamed"] == "[br-iam] echo: hello bedrock"
        assert out["key"] == "[br-key] echo: hello bedrock"
        assert iam.signatures_checked >= 2 and down.signatures_checked >= 1
        assert iam.last_path is not None and iam.last_path.endswith("/invoke-with-response-stream")
    finally:
        for fake in (down, iam, keyed):
            fake.stop()
