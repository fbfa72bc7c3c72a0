"""The TypeScript client writes acknowledgements v2 to a real OpenBao.

A Node script (@aigw/client under the official openai SDK; its provider is a
mock fetch inside the script, a stand-in for the provider only) calls an alias
whose primary serves, while its fallback is never called; the client's
acknowledgement timer writes one format-2 document per slot into a real OpenBao
dev server with the token file of the config's `acks` block. The primary's slot
is acknowledged as used and loaded, the fallback's as loaded only (never used),
each under this instance, with the config's revision; no key value is stored.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from testing.bao import BaoDevServer

from aigw.client.keys import fingerprint

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
SCRIPT = """
import OpenAI from "openai";
import { AigwClient } from "./dist/index.js";
const ok = JSON.stringify({ id: "c", object: "chat.completion", created: 1, model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] });
const aigw = AigwClient.fromFile(process.argv.at(-1), { logger: (l, m) => console.error(l, m),
  fetch: async () => new Response(ok, { headers: { "content-type": "application/json" } }) });
const oai = new OpenAI({ fetch: aigw.fetch, apiKey: "unused", maxRetries: 0 });
await oai.chat.completions.create({ model: "chat", messages: [] });
const deadline = Date.now() + 20000;
while (aigw.acks.writes < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ writes: aigw.acks.writes, failures: aigw.acks.failures }));
aigw.close();
"""


@pytest.mark.integration
def test_node_client_acknowledges_loaded_and_used_keys(tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm are not installed")
    subprocess.run(["bash", str(ROOT / "scripts" / "install-node-client.sh")], check=True)
    subprocess.run(["npm", "run", "--silent", "build"], cwd=PACKAGE, check=True)
    bao = BaoDevServer().start()
    try:
        (tmp_path / ".aigw-token").write_text(bao.token + "\n")
        (tmp_path / "p1.default.key").write_text("sk-acks-primary\n")
        (tmp_path / "p2.default.key").write_text("sk-acks-fallback\n")

        def route(name: str) -> dict[str, object]:
            return {"provider": name, "api": "openai", "base_url": f"https://{name}.example/v1",
                    "model": "m", "slot": "default", "key_file": f"{name}.default.key",
                    "timeout": 5, "retries": 0, "cooldown": 30, "extra": {}}

        config = tmp_path / "aigw-client.json"
        config.write_text(json.dumps({
            "version": 1, "service": "node-svc", "environment": "test", "key_dir": ".",
            "revision": "rev-acks",
            "acks": {"address": bao.addr, "mount": "secret", "path": "aigw-acks",
                     "token_files": [".aigw-token"], "interval": 0.2},
            "aliases": {"chat": {"family": "openai", "routes": [route("p1"), route("p2")]}}}))
        done = subprocess.run(["node", "--input-type=module", "-e", SCRIPT, str(config)],
                              cwd=PACKAGE, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        assert json.loads(done.stdout.splitlines()[-1])["writes"] >= 2, done.stdout
        kv = bao.client().secrets.kv.v2
        docs = {p: kv.read_secret_version(path=f"aigw-acks/{p}/default/node-svc",
                                          mount_point="secret",
                                          raise_on_deleted_version=True)["data"]["data"]
                for p in ("p1", "p2")}
        primary, fallback = fingerprint("sk-acks-primary"), fingerprint("sk-acks-fallback")
        assert docs["p1"]["format"] == 2
        assert (docs["p1"]["used"], docs["p1"]["loaded"]) == (primary, primary)
        assert docs["p1"]["fingerprint"] == primary and docs["p1"]["revision"] == "rev-acks"
        assert (docs["p2"]["used"], docs["p2"]["loaded"]) == ("", fallback)
        (instance,) = docs["p1"]["instances"].values()
        assert instance["used"] == primary and instance["loaded"] == primary
        stored = json.dumps(docs)
        assert "sk-acks" not in stored and bao.token not in stored
    finally:
        bao.stop()
