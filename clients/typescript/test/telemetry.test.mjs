// OpenTelemetry spans through @opentelemetry/api (a fake in-memory tracer provider,
// test/helpers/otel.mjs), and the canary: no key value in errors, logs, spans,
// attempts or headers. Provider stand-ins: test/helpers/provider.mjs.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { after, before, describe, test } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

import { AigwClient, attemptsOf } from "../dist/index.js";
import { Deployment, route } from "./helpers/config.mjs";
import { installTracing } from "./helpers/otel.mjs";
import { closedPort, startProvider } from "./helpers/provider.mjs";

const spans = installTracing();
const CANARY = "sk-canary-7b3f9e21d4";
const AWS_CANARY = "aws-canary-secret-5e8c";

describe("telemetry and the canary", () => {
  let dep, p1, a1, port, logs, aigw;
  before(async () => {
    p1 = await startProvider("p1", { keys: [CANARY] });
    a1 = await startProvider("a1", { keys: [CANARY] });
    port = await closedPort();
    dep = new Deployment();
    dep.key("p1", CANARY);
    dep.key("a1", CANARY);
    dep.key("dead", CANARY);
    dep.write("bedrock.default.key", `[default]\naws_access_key_id = AKIDCANARY\naws_secret_access_key = ${AWS_CANARY}\n`);
    logs = [];
    aigw = AigwClient.fromFile(dep.config({
      chat: { family: "openai", routes: [route("dead", "openai", `http://127.0.0.1:${port}/v1`, "m0"),
                                         route("p1", "openai", `${p1.url}/v1`, "m1")] },
      down: { family: "openai", routes: [route("dead", "openai", `http://127.0.0.1:${port}/v1`, "m0")] },
      claude: { family: "anthropic", routes: [route("a1", "anthropic", a1.url, "claude-a1")] },
      br: { family: "anthropic", routes: [route("bedrock", "bedrock", `http://127.0.0.1:${port}`, "claude-br",
                                                { aws_region: "eu-central-1" })] },
    }, { revision: "rev-7" }), { logger: (level, message) => logs.push(`${level} ${message}`) });
  });
  after(async () => {
    await p1.close();
    await a1.close();
    dep.remove();
  });

  test("one span per call with the Python client's attributes, one event per attempt", async () => {
    spans.length = 0;
    const oai = await aigw.openai();
    await oai.chat.completions.create({ model: "chat", messages: [{ role: "user", content: "hi" }] });
    const mine = spans.filter((s) => s.name === "chat chat");
    assert.equal(mine.length, 1);
    const [span] = mine;
    assert.ok(span.ended);
    assert.deepEqual({ ...span.attributes }, {
      "aigw.service": "node-svc", "aigw.environment": "test", "aigw.alias": "chat",
      "gen_ai.operation.name": "chat", "aigw.attempt": 2, "aigw.outcome": "ok",
      "aigw.config.revision": "rev-7", "gen_ai.system": "p1", "gen_ai.provider.name": "p1",
      "aigw.provider": "p1", "aigw.route": 1,
      "gen_ai.request.model": "m1", "aigw.slot": "default", "server.address": "127.0.0.1",
      "gen_ai.response.model": "m1", "gen_ai.usage.input_tokens": 1, "gen_ai.usage.output_tokens": 3,
    });
    assert.deepEqual(span.events.map((e) => e.attrs["aigw.outcome"]), ["connect_error", "ok"]);
  });

  test("under the Anthropic SDK's own call span, aigw's span is its child", async () => {
    spans.length = 0;
    const claude = await aigw.anthropic();
    await claude.messages.create({ model: "claude", max_tokens: 8, messages: [{ role: "user", content: "hi" }] });
    const mine = spans.find((s) => s.name === "chat claude");
    assert.ok(mine, `spans: ${spans.map((s) => s.name)}`);
    const sdk = spans.find((s) => s !== mine && s.ctx.spanId === mine.parent);
    assert.ok(sdk, `aigw's span has no parent among ${spans.map((s) => s.name)}`);
  });

  test("a stream's span carries its usage: Anthropic's message_start and message_delta", async () => {
    spans.length = 0;
    const claude = await aigw.anthropic();
    const stream = await claude.messages.create({ model: "claude", max_tokens: 8, stream: true,
                                                  messages: [{ role: "user", content: "hi" }] });
    for await (const _ of stream) { /* read it all */ }
    const mine = spans.find((s) => s.name === "chat claude");
    assert.ok(mine?.ended);
    assert.equal(mine.attributes["gen_ai.provider.name"], "anthropic"); // by wire API
    assert.equal(mine.attributes["aigw.provider"], "a1");
    assert.equal(mine.attributes["gen_ai.usage.input_tokens"], 1);
    assert.equal(mine.attributes["gen_ai.usage.output_tokens"], 3);
    assert.equal(mine.attributes["gen_ai.response.model"], "claude-a1");
  });

  test("no key value in errors, logs, spans, attempts or headers", async () => {
    const oai = await aigw.openai();
    const texts = [];
    const seeErr = (err) => texts.push(String(err), err.stack, inspect(err, { depth: 8 }),
                                       JSON.stringify(attemptsOf(err)));
    // Every route refused: the SDK's connection error.
    await assert.rejects(oai.chat.completions.create({ model: "down", messages: [] }),
                         (err) => (seeErr(err), err instanceof OpenAI.APIConnectionError));
    // A 401 with the current key: the SDK's AuthenticationError.
    p1.keys.delete(CANARY);
    try {
      await assert.rejects(oai.chat.completions.create({ model: "chat", messages: [] }),
                           (err) => (seeErr(err), err instanceof OpenAI.AuthenticationError));
    } finally {
      p1.keys.add(CANARY);
    }
    const claude = await aigw.anthropic();
    await assert.rejects(claude.messages.create({ model: "chat", max_tokens: 1, messages: [] }),
                         (err) => (seeErr(err), err instanceof Anthropic.BadRequestError));
    // A Bedrock route (SigV4 from an AWS credentials file) on a refused port.
    await assert.rejects(claude.messages.create({ model: "br", max_tokens: 1, messages: [] }),
                         (err) => (seeErr(err), err instanceof Anthropic.APIConnectionError));
    const direct = await aigw.request("chat", "POST", "/chat/completions", { json: { messages: [] } });
    texts.push(JSON.stringify([...direct.headers]), JSON.stringify(attemptsOf(direct)), inspect(aigw, { depth: 6 }));
    texts.push(...logs, JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events, s.status])));
    const all = texts.join("\n");
    assert.ok(all.includes("connect_error") && all.includes("http_401"), "the canary saw nothing");
    const at = all.indexOf(CANARY);
    assert.ok(at < 0, `a key value leaked: ...${all.slice(Math.max(0, at - 300), at + 40)}`);
    assert.ok(!all.includes(AWS_CANARY), "an AWS secret leaked");
  });
});
