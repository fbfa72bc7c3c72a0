// Benchmark: what @aigw/client adds inside an official SDK call (issue 28).
//
// For each SDK (openai 7.x, @anthropic-ai/sdk 1.x) two clients call the same mock
// fetch (no network; a fixed JSON answer): the bare SDK, and the SDK with aigw's
// fetch (one route, a key file, the config followed live, the default key and
// config stat intervals), and the same with metrics on (spec/metrics.md: an OTel SDK
// MeterProvider with a reader, the route priced, so tokens and cost are recorded).
// Calls rotate request by request, so load on a shared machine hits all alike; the
// tables print p50 and p99 per call for each and the differences. Target: <= 10 us
// added at p50. One run; no threshold is checked.
//
//   bash scripts/install-node-client.sh && (cd clients/typescript && npm run build)
//   node benchmarks/typescript_overhead.mjs [--calls 20000]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.join(here, "..", "clients", "typescript");
const require = createRequire(path.join(pkg, "package.json"));
const { AigwClient, AIGW_BASE_URL } = await import(pathToFileURL(path.join(pkg, "dist", "index.js")).href);
const OpenAI = require("openai").default;
const Anthropic = require("@anthropic-ai/sdk").default;
const { MeterProvider, MetricReader } = require("@opentelemetry/sdk-metrics");

const arg = process.argv.indexOf("--calls");
const CALLS = arg > 0 ? Number(process.argv[arg + 1]) : 20000;
const WARMUP = Math.min(2000, CALLS / 5);

const CHAT = JSON.stringify({ id: "c1", object: "chat.completion", created: 1, model: "m",
  choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
const MESSAGE = JSON.stringify({ id: "msg_1", type: "message", role: "assistant", model: "m",
  content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } });
const mockFetch = async (url) => new Response(String(url).endsWith("/messages") ? MESSAGE : CHAT,
  { status: 200, headers: { "content-type": "application/json" } });

const dir = mkdtempSync(path.join(tmpdir(), "aigw-bench-"));
writeFileSync(path.join(dir, "p.default.key"), "sk-bench\n", { mode: 0o600 });
const route = (api, base) => ({ provider: "p", api, base_url: base, model: "m", slot: "default",
  key_file: "p.default.key", timeout: 30, retries: 0, cooldown: 30, extra: {},
  price: { currency: "USD", as_of: "2026-11-01", per_million: { input: "2.50", output: "10.00" } } });
writeFileSync(path.join(dir, "aigw-client.json"), JSON.stringify({ version: 1, service: "bench",
  environment: "test", key_dir: ".", aliases: {
    chat: { family: "openai", routes: [route("openai", "https://p.example/v1")] },
    claude: { family: "anthropic", routes: [route("anthropic", "https://p.example")] } } }));
const aigw = AigwClient.fromFile(path.join(dir, "aigw-client.json"), { fetch: mockFetch });
// The drain's own cost (usage parsing, pricing, the OTel SDK's records), timed apart:
// it runs on its timer between calls, never inside one.
let drainMs = 0;
let drained = 0;
const timeDrain = (client) => {
  const rec = client.telemetry.recorder; // (internal)
  const drain = rec.drain.bind(rec);
  rec.drain = (max) => {
    const before = rec.recorded;
    const t0 = performance.now();
    const left = drain(max);
    drainMs += performance.now() - t0;
    drained += rec.recorded - before;
    return left;
  };
};
class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
const reader = new Reader();
const metered = AigwClient.fromFile(path.join(dir, "aigw-client.json"), { fetch: mockFetch,
  meterProvider: new MeterProvider({ readers: [reader] }) });
timeDrain(metered);

const messages = [{ role: "user", content: "hi" }];
const contenders = [
  { name: "openai SDK",
    bare: new OpenAI({ apiKey: "sk-bench", baseURL: "https://p.example/v1", maxRetries: 0, fetch: mockFetch }),
    aigw: new OpenAI({ apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0, fetch: aigw.fetchFor("openai") }),
    metered: new OpenAI({ apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0, fetch: metered.fetchFor("openai") }),
    call: (c) => c.chat.completions.create({ model: "chat", messages }) },
  { name: "anthropic SDK",
    bare: new Anthropic({ apiKey: "sk-bench", baseURL: "https://p.example", maxRetries: 0, fetch: mockFetch }),
    aigw: new Anthropic({ apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0, fetch: aigw.fetchFor("anthropic") }),
    metered: new Anthropic({ apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0,
                             fetch: metered.fetchFor("anthropic") }),
    call: (c) => c.messages.create({ model: "claude", max_tokens: 8, messages }) },
];

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const us = (ms) => (ms * 1000).toFixed(1);

const rows = [];
for (const c of contenders) {
  const sinks = [[c.bare, []], [c.aigw, []], [c.metered, []]];
  for (let i = 0; i < CALLS + WARMUP; i++) {
    // The mock fetch never waits for I/O, so the loop would never let timers run (a
    // service does, between requests): yield to the event loop every 50 rounds,
    // untimed, so the metrics queue is drained as in a service, not filled and dropped.
    if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    // Rotate which goes first, so none always pays for another's garbage.
    for (let k = 0; k < 3; k++) {
      const [client, sink] = sinks[(i + k) % 3];
      const t0 = performance.now();
      await c.call(client);
      const t = performance.now() - t0;
      if (i >= WARMUP) sink.push(t);
    }
  }
  const [bare, mine, on] = sinks.map(([, sink]) => sink);
  rows.push([c.name, ...[bare, mine, on].flatMap((xs) => [pct(xs, 50), pct(xs, 99)])]);
}
metered.flushMetrics();
const { resourceMetrics } = await reader.collect();
const recorded = resourceMetrics.scopeMetrics.flatMap((sm) => sm.metrics)
  .find((m) => m.descriptor.name === "gen_ai.client.operation.duration")?.dataPoints
  .reduce((n, p) => n + p.value.count, 0) ?? 0;
const stats = metered.metrics;
aigw.close();
metered.close();
rmSync(dir, { recursive: true, force: true });

console.log(`node ${process.version}, ${CALLS} calls each after ${WARMUP} warm-up, mock fetch (no network)\n`);
console.log("| contender | bare p50 | aigw p50 | +p50 | bare p99 | aigw p99 | +p99 |");
console.log("|---|---|---|---|---|---|---|");
for (const [name, b50, b99, a50, a99] of rows) {
  console.log(`| aigw + ${name} vs bare | ${us(b50)} µs | ${us(a50)} µs | ${us(a50 - b50)} µs | ` +
              `${us(b99)} µs | ${us(a99)} µs | ${us(a99 - b99)} µs |`);
}
console.log("\nMetrics on vs off (the same aigw config; metrics add to the aigw column above):\n");
console.log("| contender | metrics off p50 | metrics on p50 | +p50 | off p99 | on p99 | +p99 |");
console.log("|---|---|---|---|---|---|---|");
for (const [name, , , a50, a99, m50, m99] of rows) {
  console.log(`| aigw + ${name} | ${us(a50)} µs | ${us(m50)} µs | ${us(m50 - a50)} µs | ` +
              `${us(a99)} µs | ${us(m99)} µs | ${us(m99 - a99)} µs |`);
}
console.log(`\nmetrics: ${recorded} calls in the duration histogram, ${stats.dropped} dropped (queue full), ` +
            `${stats.queued} left queued; the drain (on its timer) took ${us(drainMs / Math.max(1, drained))} µs ` +
            `per call (usage record included)`);
