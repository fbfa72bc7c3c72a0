// aigw's fetch under the official openai (7.x) and @anthropic-ai/sdk (1.x) clients,
// against local provider stand-ins (test/helpers/provider.mjs: only the providers
// are stand-ins; the SDKs, aigw, the key files and HTTP are real).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI, { toFile } from "openai";

import { AigwClient, attemptsOf } from "../dist/index.js";
import { Deployment, route } from "./helpers/config.mjs";
import { closedPort, startProvider } from "./helpers/provider.mjs";

const quiet = () => {};

describe("openai SDK", () => {
  let dep, p1, p2, aigw, oai;
  before(async () => {
    p1 = await startProvider("p1", { keys: ["sk-p1"] });
    p2 = await startProvider("p2", { keys: ["sk-p2"] });
    dep = new Deployment();
    dep.key("p1", "sk-p1");
    dep.key("p2", "sk-p2");
    const file = dep.config({
      chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "p1-model"),
                                         route("p2", "openai", `${p2.url}/v1`, "p2-model", { extra: { temperature: 0.5 } })] },
      stt: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "whisper-p1"),
                                        route("p2", "openai", `${p2.url}/v1`, "whisper-p2")] },
      claude: { family: "anthropic", routes: [route("p1", "anthropic", p1.url, "claude-p1")] },
    });
    aigw = AigwClient.fromFile(file, { logger: quiet });
    oai = await aigw.openai();
  });
  after(async () => {
    await p1.close();
    await p2.close();
    dep.remove();
  });

  test("falls over from a 503 to the next route, typed response and all", async () => {
    p1.mode = "503";
    try {
      const reply = await oai.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }] });
      assert.equal(reply.choices[0].message.content, "p2 says hi");
      assert.equal(reply.model, "p2-model");
      const sent = JSON.parse(p2.seen.at(-1).body);
      assert.equal(sent.model, "p2-model");
      assert.equal(sent.temperature, 0.5);
      assert.equal(p2.seen.at(-1).headers.authorization, "Bearer sk-p2");
    } finally {
      p1.mode = "ok";
    }
  });

  test("the same call through `new OpenAI({ fetch: aigw.fetch })` with no baseURL", async () => {
    const plain = new OpenAI({ fetch: aigw.fetch, apiKey: "unused", maxRetries: 0 });
    const { data, response } = await plain.chat.completions
      .create({ model: "chat", messages: [{ role: "user", content: "hi" }] }).withResponse();
    assert.equal(data.model, "p2-model"); // p1 is still cooling down after the 503
    assert.deepEqual(attemptsOf(response).map((a) => a.outcome), ["ok"]);
  });

  test("a stream that opens with an error event fails over before its first event", async () => {
    const fresh = new AigwClient(aigw.config, { logger: quiet, watchConfig: false });
    const client = await fresh.openai();
    p1.mode = "error-event";
    try {
      const stream = await client.chat.completions.create({ model: "chat", stream: true,
                                                            messages: [{ role: "user", content: "hi" }] });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      assert.equal(text, "p2 says hi");
    } finally {
      p1.mode = "ok";
    }
  });

  test("a stream cut after its first event is the caller's: an error, no failover", async () => {
    const fresh = new AigwClient(aigw.config, { logger: quiet, watchConfig: false });
    const client = await fresh.openai();
    p1.mode = "cut";
    const before = p2.calls;
    try {
      const stream = await client.chat.completions.create({ model: "chat", stream: true,
                                                            messages: [{ role: "user", content: "hi" }] });
      let text = "";
      await assert.rejects(async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      });
      assert.equal(text, "p1 ");
      assert.equal(p2.calls, before);
    } finally {
      p1.mode = "ok";
    }
  });

  test("a Request object as fetch input", async () => {
    const req = new Request("http://aigw.invalid/chat/completions", { method: "POST",
      headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "chat", messages: [] }) });
    const fresh = new AigwClient(aigw.config, { logger: quiet, watchConfig: false });
    const resp = await fresh.fetch(req);
    assert.equal(resp.status, 200);
    assert.equal((await resp.json()).model, "p1-model");
  });

  test("multipart: the alias is read from the form and the route's model written back", async () => {
    const fresh = new AigwClient(aigw.config, { logger: quiet, watchConfig: false });
    const client = await fresh.openai();
    const file = await toFile(Buffer.from("RIFF....WAVE"), "hello.wav", { type: "audio/wav" });
    const out = await client.audio.transcriptions.create({ model: "stt", file });
    assert.equal(out.text, "p1:whisper-p1:hello.wav:12");
  });

  test("an unknown alias is the SDK's NotFoundError; an alias of the other family a BadRequestError", async () => {
    await assert.rejects(oai.chat.completions.create({ model: "nope", messages: [] }),
                         (err) => err instanceof OpenAI.NotFoundError && /nope/.test(err.message));
    await assert.rejects(oai.chat.completions.create({ model: "claude", messages: [] }),
                         (err) => err instanceof OpenAI.BadRequestError && /anthropic family/.test(err.message));
  });

  test("no route answering is the SDK's APIConnectionError, with the attempts", async () => {
    const port = await closedPort();
    const d = new Deployment();
    try {
      d.key("p1", "sk-p1");
      const c = AigwClient.fromFile(d.config({ chat: { family: "openai", routes: [
        route("p1", "openai", `http://127.0.0.1:${port}/v1`, "m")] } }), { logger: quiet });
      const client = await c.openai();
      await assert.rejects(client.chat.completions.create({ model: "chat", messages: [] }), (err) => {
        assert.ok(err instanceof OpenAI.APIConnectionError && !(err instanceof OpenAI.APIConnectionTimeoutError));
        assert.deepEqual(attemptsOf(err).map((a) => a.outcome), ["connect_error"]);
        return true;
      });
    } finally {
      d.remove();
    }
  });
});

describe("anthropic SDK", () => {
  let dep, a1, a2, aigw, claude;
  const saved = process.env.ANTHROPIC_API_KEY;
  before(async () => {
    process.env.ANTHROPIC_API_KEY = `env-key-${randomBytes(6).toString("hex")}`;
    a1 = await startProvider("a1", { keys: ["sk-a1"] });
    a2 = await startProvider("a2", { keys: ["sk-a2"] });
    dep = new Deployment();
    dep.key("a1", "sk-a1");
    dep.key("a2", "sk-a2");
    aigw = AigwClient.fromFile(dep.config({
      claude: { family: "anthropic", routes: [route("a1", "anthropic", a1.url, "claude-a1"),
                                              route("a2", "anthropic", a2.url, "claude-a2")] },
    }), { logger: quiet });
    claude = await aigw.anthropic();
  });
  after(async () => {
    if (saved === undefined) delete process.env.ANTHROPIC_API_KEY;
    else process.env.ANTHROPIC_API_KEY = saved;
    await a1.close();
    await a2.close();
    dep.remove();
  });

  test("falls over with x-api-key per route and no Authorization header", async () => {
    a1.mode = "503";
    try {
      const msg = await claude.messages.create({ model: "claude", max_tokens: 16,
                                                 messages: [{ role: "user", content: "hi" }] });
      assert.equal(msg.content[0].text, "a2 says hi");
      const seen = a2.seen.at(-1).headers;
      assert.equal(seen["x-api-key"], "sk-a2");
      assert.equal(seen.authorization, undefined);
      assert.ok(seen["anthropic-version"]);
    } finally {
      a1.mode = "ok";
    }
  });

  test("new Anthropic({ fetch: aigw.fetch }) with the environment's key: never sent", async () => {
    const plain = new Anthropic({ fetch: aigw.fetch, maxRetries: 0 });
    const msg = await plain.messages.create({ model: "claude", max_tokens: 16,
                                              messages: [{ role: "user", content: "hi" }] });
    assert.equal(msg.content[0].text, "a2 says hi"); // a1 cools down
    for (const p of [a1, a2]) {
      for (const s of p.seen) assert.ok(!JSON.stringify(s.headers).includes("sk-from-env"));
    }
  });

  test("streams: an error event before the first event fails over; the stream helper reads it", async () => {
    const fresh = new AigwClient(aigw.config, { logger: quiet, watchConfig: false });
    const client = await fresh.anthropic();
    a1.mode = "error-event";
    try {
      const stream = client.messages.stream({ model: "claude", max_tokens: 16,
                                              messages: [{ role: "user", content: "hi" }] });
      const final = await stream.finalMessage();
      assert.equal(final.content[0].text, "a2 says hi");
    } finally {
      a1.mode = "ok";
    }
  });
});
