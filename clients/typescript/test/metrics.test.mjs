// Runtime metrics (spec/metrics.md) through @opentelemetry/api, read with the OTel SDK's
// own pull reader (@opentelemetry/sdk-metrics' MetricReader). test/helpers/provider.mjs
// stands in for the providers over real HTTP; where a test needs usage the stand-in does
// not produce (cache and reasoning tokens, a stream's usage chunk), an inner `fetch`
// plays the provider with the usage shapes the providers document. The SDKs and aigw are real.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import { metrics } from "@opentelemetry/api";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import OpenAI from "openai";

import { AigwClient, AllRoutesFailed } from "../dist/index.js";
import { MetricsRecorder } from "../dist/metrics.js";
import { Deployment, route } from "./helpers/config.mjs";
import { closedPort, startProvider } from "./helpers/provider.mjs";

const CANARY = `canary-metrics-${randomBytes(6).toString("hex")}`;
const USER = [{ role: "user", content: "hello" }];
const STANDARD = ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
  "gen_ai.response.model", "server.address", "aigw.service", "aigw.environment", "aigw.alias",
  "aigw.slot", "aigw.route", "aigw.provider"].sort();
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

function meter() {
  const reader = new Reader();
  return { reader, provider: new MeterProvider({ readers: [reader] }) };
}

/** metric name -> [{attrs, value (a histogram: its sum), count, unit, boundaries}]. */
async function points(aigw, reader) {
  aigw.flushMetrics();
  const { resourceMetrics } = await reader.collect();
  const out = {};
  for (const sm of resourceMetrics.scopeMetrics) {
    for (const m of sm.metrics) {
      for (const p of m.dataPoints) {
        const hist = typeof p.value === "object";
        (out[m.descriptor.name] ??= []).push({
          attrs: { ...p.attributes }, value: hist ? p.value.sum : p.value, count: hist ? p.value.count : null,
          unit: m.descriptor.unit, boundaries: hist ? p.value.buckets.boundaries : null, scope: sm.scope,
        });
      }
    }
  }
  return out;
}

const byType = (pts, name, key) => Object.fromEntries((pts[name] ?? []).map((p) => [p.attrs[key], p.value]));
const tokens = (pts) => byType(pts, "gen_ai.client.token.usage", "gen_ai.token.type");
const classes = (pts) => byType(pts, "aigw.client.token.usage", "aigw.token.type");

/** An inner fetch that answers every call with `answer(url, body)`: [status, content-type, text]. */
function playing(answer) {
  return async (url, init) => {
    const body = init?.body ? JSON.parse(init.body) : {};
    const [status, ctype, text] = answer(String(url), body);
    return new Response(text, { status, headers: { "content-type": ctype } });
  };
}

const sse = (events) => events.map(([name, data]) => (name ? `event: ${name}\n` : "") +
  `data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`).join("");

describe("runtime metrics", () => {
  let dep, p1, a1, port;
  before(async () => {
    p1 = await startProvider("p1", { keys: [CANARY] });
    a1 = await startProvider("a1", { keys: [CANARY] });
    port = await closedPort();
    dep = new Deployment();
    for (const name of ["p1", "a1", "dead", "openai", "anthropic"]) dep.key(name, CANARY);
  });
  after(async () => {
    await p1.close();
    await a1.close();
    dep.remove();
  });

  test("names, units, attributes and token counts of an openai SDK call", async () => {
    const { reader, provider } = meter();
    const aigw = AigwClient.fromFile(dep.config({
      chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1")] },
    }), { meterProvider: provider, watchFiles: false });
    const oai = await aigw.openai();
    await oai.chat.completions.create({ model: "chat", messages: USER });
    const pts = await points(aigw, reader);
    const [d] = pts["gen_ai.client.operation.duration"];
    assert.equal(pts["gen_ai.client.operation.duration"].length, 1);
    assert.equal(d.unit, "s");
    assert.equal(d.count, 1);
    assert.ok(d.value > 0); // seconds
    assert.deepEqual(d.boundaries, DURATION_BUCKETS);
    assert.deepEqual(Object.keys(d.attrs).sort(), STANDARD.filter((k) => k !== "gen_ai.response.model"));
    assert.deepEqual(d.attrs, {
      "gen_ai.operation.name": "chat", "aigw.service": "node-svc", "aigw.environment": "test",
      "aigw.alias": "chat", "gen_ai.provider.name": "p1", "aigw.provider": "p1", // no well-known name for 127.0.0.1
      "gen_ai.request.model": "m1", "aigw.slot": "default", "aigw.route": 0, "server.address": "127.0.0.1",
    });
    assert.equal(d.scope.name, "aigw.client");
    assert.equal(d.scope.schemaUrl, "https://opentelemetry.io/schemas/1.44.0");
    for (const p of pts["gen_ai.client.token.usage"]) {
      assert.equal(p.unit, "{token}");
      assert.deepEqual(Object.keys(p.attrs).sort(), [...STANDARD, "gen_ai.token.type"].sort());
      assert.equal(p.attrs["gen_ai.response.model"], "m1");
    }
    assert.deepEqual(tokens(pts), { input: 1, output: 3 });
    assert.deepEqual(classes(pts), { input: 1, output: 3 }); // the zero classes are not recorded
    assert.equal(pts["aigw.client.token.usage"][0].unit, "{token}");
    assert.equal(pts["aigw.client.cost"], undefined); // no price, no cost
    assert.deepEqual(aigw.metrics, { recorded: 1, dropped: 0, queued: 0 });
    aigw.close();
  });

  test("an Anthropic SDK stream is counted from message_start and message_delta", async () => {
    const { reader, provider } = meter();
    const aigw = AigwClient.fromFile(dep.config({
      claude: { family: "anthropic", routes: [route("a1", "anthropic", a1.url, "claude-a1")] },
    }), { meterProvider: provider, watchFiles: false });
    const claude = await aigw.anthropic();
    const stream = await claude.messages.create({ model: "claude", max_tokens: 16, messages: USER, stream: true });
    for await (const _ of stream) { /* read it all */ }
    const pts = await points(aigw, reader);
    assert.deepEqual(tokens(pts), { input: 1, output: 3 });
    const [d] = pts["gen_ai.client.operation.duration"];
    assert.equal(d.attrs["gen_ai.provider.name"], "anthropic"); // by wire API: no well-known host
    assert.equal(d.attrs["aigw.provider"], "a1");
    assert.equal(d.attrs["error.type"], undefined);
    aigw.close();
  });

  test("a call that failed on every route: error.type on the duration, no tokens", async () => {
    const { reader, provider } = meter();
    const aigw = AigwClient.fromFile(dep.config({
      down: { family: "openai", routes: [route("dead", "openai", `http://127.0.0.1:${port}/v1`, "m0")] },
    }), { meterProvider: provider, watchFiles: false });
    const oai = await aigw.openai();
    await assert.rejects(oai.chat.completions.create({ model: "down", messages: USER }));
    const pts = await points(aigw, reader);
    const [d] = pts["gen_ai.client.operation.duration"];
    assert.deepEqual(d.attrs, { "gen_ai.operation.name": "chat", "aigw.service": "node-svc",
                                "aigw.environment": "test", "aigw.alias": "down", "error.type": "all_routes_failed" });
    assert.equal(pts["gen_ai.client.token.usage"], undefined);
    aigw.close();
  });

  test("Anthropic cache classes, well-known provider names and cost at the route's price", async () => {
    const { reader, provider } = meter();
    const usage = { input_tokens: 100, output_tokens: 300, cache_read_input_tokens: 2000,
                    cache_creation_input_tokens: 500 };
    const aigw = AigwClient.fromFile(dep.config({
      claude: { family: "anthropic", routes: [route("anthropic", "anthropic", "https://api.anthropic.com", "claude-sonnet-4",
        { price: { currency: "USD", as_of: "2026-11-01",
                   per_million: { input: "3", cache_read: "0.30", cache_write: "3.75", output: "15" } } })] },
    }), { meterProvider: provider, watchFiles: false, fetch: playing((_, body) => [200, "application/json",
      JSON.stringify({ id: "msg_1", type: "message", role: "assistant", model: "claude-sonnet-4-20250514",
                       content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage })]) });
    const claude = await aigw.anthropic();
    await claude.messages.create({ model: "claude", max_tokens: 16, messages: USER });
    await claude.messages.create({ model: "claude", max_tokens: 16, messages: USER });
    const pts = await points(aigw, reader);
    assert.deepEqual(tokens(pts), { input: 2600 * 2, output: 300 * 2 }); // cached included
    assert.deepEqual(classes(pts), { input: 200, cache_read: 4000, cache_write: 1000, output: 600 });
    const [c] = pts["aigw.client.cost"];
    assert.equal(c.unit, "{currency}");
    assert.equal(c.attrs["aigw.currency"], "USD");
    assert.equal(c.value, 0.01455); // 2 x 0.007275, the golden case claude-all-classes
    const [d] = pts["gen_ai.client.operation.duration"];
    assert.equal(d.attrs["gen_ai.provider.name"], "anthropic");
    assert.equal(d.attrs["server.address"], "api.anthropic.com");
    assert.equal(pts["gen_ai.client.token.usage"][0].attrs["gen_ai.response.model"], "claude-sonnet-4-20250514");
    aigw.close();
  });

  test("Bedrock's regional default: aws.bedrock, no server.address, Anthropic usage", async () => {
    const { reader, provider } = meter();
    const urls = [];
    const aigw = AigwClient.fromFile(dep.config({
      claude: { family: "anthropic", routes: [route("anthropic", "bedrock-api-key", null, "anthropic.claude-sonnet-4",
                                                    { aws_region: "eu-central-1" })] },
    }), { meterProvider: provider, watchFiles: false, fetch: playing((url) => (urls.push(url), [200, "application/json",
      JSON.stringify({ id: "msg_1", type: "message", role: "assistant", model: "claude-sonnet-4", content: [],
                       stop_reason: "end_turn", usage: { input_tokens: 10, output_tokens: 20, cache_read_input_tokens: 5 } })])) });
    const claude = await aigw.anthropic();
    await claude.messages.create({ model: "claude", max_tokens: 16, messages: USER });
    assert.match(urls[0], /^https:\/\/bedrock-runtime\.eu-central-1\.amazonaws\.com\//);
    const pts = await points(aigw, reader);
    const [d] = pts["gen_ai.client.operation.duration"];
    assert.equal(d.attrs["gen_ai.provider.name"], "aws.bedrock");
    assert.equal(d.attrs["server.address"], undefined);
    assert.deepEqual(classes(pts), { input: 10, cache_read: 5, output: 20 });
    aigw.close();
  });

  test("reasoning billed as output; a class the price does not name: no cost at all", async () => {
    const { reader, provider } = meter();
    const answer = (model, usage) => [200, "application/json", JSON.stringify({ id: "c", object: "chat.completion",
      created: 1, model, choices: [{ index: 0, message: { role: "assistant", content: "x" }, finish_reason: "stop" }], usage })];
    const aigw = AigwClient.fromFile(dep.config({
      o3: { family: "openai", routes: [route("openai", "openai", "https://api.openai.com/v1", "o3",
        { price: { currency: "USD", per_million: { input: "2", cache_read: "0.50", output: "8" } } })] },
      mistral: { family: "openai", routes: [route("p1", "openai", "https://api.mistral.ai/v1", "mistral-small",
        { price: { currency: "EUR", per_million: { input: "0.25", output: "1.00" } } })] },
    }), { meterProvider: provider, watchFiles: false, fetch: playing((url, body) => body.model === "o3"
      ? answer("o3", { prompt_tokens: 2000, completion_tokens: 3000, prompt_tokens_details: { cached_tokens: 1000 },
                       completion_tokens_details: { reasoning_tokens: 2500 } })
      : answer("mistral-small", { prompt_tokens: 1000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 100 } })) });
    const oai = await aigw.openai();
    await oai.chat.completions.create({ model: "o3", messages: USER });
    await oai.chat.completions.create({ model: "mistral", messages: USER });
    const pts = await points(aigw, reader);
    const costs = pts["aigw.client.cost"];
    assert.equal(costs.length, 1); // mistral's cache_read has no price: no cost, not a partial one
    assert.equal(costs[0].attrs["aigw.alias"], "o3");
    assert.equal(costs[0].value, 0.0265); // the golden case o3-reasoning-cached
    const o3 = Object.fromEntries(pts["aigw.client.token.usage"].filter((p) => p.attrs["aigw.alias"] === "o3")
      .map((p) => [p.attrs["aigw.token.type"], p.value]));
    assert.deepEqual(o3, { input: 1000, cache_read: 1000, output: 500, reasoning: 2500 });
    const names = new Set(pts["gen_ai.client.operation.duration"].map((p) => p.attrs["gen_ai.provider.name"]));
    assert.deepEqual(names, new Set(["openai", "mistral_ai"]));
    aigw.close();
  });

  test("an OpenAI stream with include_usage is counted from its usage chunk; one without is only timed", async () => {
    const { reader, provider } = meter();
    const chunk = (extra) => ({ id: "c1", object: "chat.completion.chunk", created: 1, model: "gpt-4o-2024-08-06", ...extra });
    const aigw = AigwClient.fromFile(dep.config({
      chat: { family: "openai", routes: [route("openai", "openai", "https://api.openai.com/v1", "gpt-4o",
        { price: { currency: "USD", per_million: { input: "2.50", cache_read: "1.25", output: "10.00" } } })] },
    }), { meterProvider: provider, watchFiles: false, fetch: playing((_, body) => [200, "text/event-stream", sse([
      ["", chunk({ choices: [{ index: 0, delta: { content: "hi" }, finish_reason: null }] })],
      ["", chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })],
      ...(body.stream_options?.include_usage ? [["", chunk({ choices: [], usage: {
        prompt_tokens: 1000, completion_tokens: 500, prompt_tokens_details: { cached_tokens: 400 } } })]] : []),
      ["", "[DONE]"]])]) });
    const oai = await aigw.openai();
    for await (const _ of await oai.chat.completions.create({ model: "chat", messages: USER, stream: true,
                                                              stream_options: { include_usage: true } })) { /* all */ }
    for await (const _ of await oai.chat.completions.create({ model: "chat", messages: USER, stream: true })) { /* all */ }
    const pts = await points(aigw, reader);
    assert.equal(pts["gen_ai.client.operation.duration"][0].count, 2);
    assert.deepEqual(tokens(pts), { input: 1000, output: 500 });
    assert.deepEqual(classes(pts), { input: 600, cache_read: 400, output: 500 });
    assert.equal(pts["aigw.client.cost"][0].value, 0.007); // the golden case chat-cached
    aigw.close();
  });

  test("a stream that broke after its first event: timed with error.type interrupted", async () => {
    const { reader, provider } = meter();
    p1.mode = "cut";
    try {
      const aigw = AigwClient.fromFile(dep.config({
        chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1")] },
      }), { meterProvider: provider, watchFiles: false });
      const oai = await aigw.openai();
      const stream = await oai.chat.completions.create({ model: "chat", messages: USER, stream: true });
      await assert.rejects((async () => { for await (const _ of stream) { /* until it breaks */ } })());
      const pts = await points(aigw, reader);
      const [d] = pts["gen_ai.client.operation.duration"];
      assert.equal(d.attrs["error.type"], "interrupted");
      assert.equal(d.attrs["aigw.provider"], "p1");
      assert.equal(pts["gen_ai.client.token.usage"], undefined); // its usage event never came
      aigw.close();
    } finally {
      p1.mode = "ok";
    }
  });

  test("the direct API: an answer read with json() is counted; a meter that throws never reaches the caller", async () => {
    const { reader, provider } = meter();
    const cfg = dep.config({ chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1")] } });
    const aigw = AigwClient.fromFile(cfg, { meterProvider: provider, watchFiles: false });
    const resp = await aigw.request("chat", "POST", "/chat/completions", { json: { messages: USER } });
    assert.equal((await resp.json()).usage.completion_tokens, 3);
    assert.deepEqual(tokens(await points(aigw, reader)), { input: 1, output: 3 });
    aigw.close();
    const boom = () => { throw new Error("meter broke"); };
    const broken = { getMeter: () => ({ createHistogram: () => ({ record: boom }), createCounter: () => ({ add: boom }) }) };
    const bad = AigwClient.fromFile(cfg, { meterProvider: broken, watchFiles: false });
    const oai = await bad.openai();
    const reply = await oai.chat.completions.create({ model: "chat", messages: USER });
    assert.equal(reply.usage.completion_tokens, 3);
    bad.flushMetrics();
    bad.close();
  });

  test("a full queue drops the record and counts it: never a wait, never a throw", async () => {
    const { reader, provider } = meter();
    const rec = new MetricsRecorder(provider.getMeter("t"), "s", "e", 2);
    const call = { alias: "a", operation: "chat", route: null, outcome: "ok", seconds: 0.01, body: null,
                   events: null };
    for (let i = 0; i < 5; i++) rec.record(call);
    assert.equal(rec.queued, 2);
    assert.equal(rec.dropped, 3);
    assert.equal(rec.drain(), 0);
    assert.equal(rec.recorded, 2);
    // aigw.client.metrics.dropped: {call}, the service and environment only, added once per drain.
    const dropped = async () => {
      const { resourceMetrics } = await reader.collect();
      const found = resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics)
        .filter((m) => m.descriptor.name === "aigw.client.metrics.dropped");
      return found.flatMap((m) => m.dataPoints.map((p) => [m.descriptor.unit, { ...p.attributes }, p.value]));
    };
    assert.deepEqual(await dropped(), [["{call}", { "aigw.service": "s", "aigw.environment": "e" }, 3]]);
    rec.drain();
    assert.deepEqual((await dropped())[0][2], 3); // nothing new dropped: not counted again
    for (let i = 0; i < 3; i++) rec.record(call);
    rec.drain();
    assert.deepEqual((await dropped())[0][2], 4);
  });

  test("no meter provider: metrics are off; a global one registered later is followed", async () => {
    const aigw = AigwClient.fromFile(dep.config({
      chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1")] },
    }), { watchFiles: false });
    const oai = await aigw.openai();
    await oai.chat.completions.create({ model: "chat", messages: USER });
    assert.equal(aigw.metrics, null);
    const { reader, provider } = meter();
    metrics.setGlobalMeterProvider(provider);
    try {
      await oai.chat.completions.create({ model: "chat", messages: USER });
      const pts = await points(aigw, reader);
      assert.equal(pts["gen_ai.client.operation.duration"][0].count, 1);
      assert.deepEqual(tokens(pts), { input: 1, output: 3 });
    } finally {
      metrics.disable();
      aigw.close();
    }
  });

  test("canary: no key value in any metric attribute or value", async () => {
    const { reader, provider } = meter();
    const aigw = AigwClient.fromFile(dep.config({
      chat: { family: "openai", routes: [route("dead", "openai", `http://127.0.0.1:${port}/v1`, "m0"),
                                         route("p1", "openai", `${p1.url}/v1`, "m1",
                                               { price: { currency: "USD", per_million: { input: "1", output: "2" } } })] },
      claude: { family: "anthropic", routes: [route("a1", "anthropic", a1.url, "claude-a1")] },
    }), { meterProvider: provider, watchFiles: false });
    const oai = await aigw.openai();
    await oai.chat.completions.create({ model: "chat", messages: USER });
    const claude = await aigw.anthropic();
    await claude.messages.create({ model: "claude", max_tokens: 16, messages: USER });
    const pts = await points(aigw, reader);
    assert.equal(Object.keys(pts).length, 4);
    const text = JSON.stringify(pts);
    assert.ok(!text.includes(CANARY));
    assert.ok(!text.includes(CANARY.slice(3, 15)));
    aigw.close();
  });
});
