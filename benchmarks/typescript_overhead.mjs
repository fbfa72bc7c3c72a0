// Benchmark: what @aigw/client adds inside an official SDK call (issue 28).
//
// For each SDK (openai 7.x, @anthropic-ai/sdk 1.x) two clients call the same mock
// fetch (no network; a fixed JSON answer): the bare SDK, and the SDK with aigw's
// fetch (one route, a key file, the config followed live, the default key and
// config stat intervals). Calls alternate request by request, so load on a shared
// machine hits both alike; the table prints p50 and p99 per call for each and
// the difference. Target: <= 10 us added at p50. One run; no threshold is checked.
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
  key_file: "p.default.key", timeout: 30, retries: 0, cooldown: 30, extra: {} });
writeFileSync(path.join(dir, "aigw-client.json"), JSON.stringify({ version: 1, service: "bench",
  environment: "test", key_dir: ".", aliases: {
    chat: { family: "openai", routes: [route("openai", "https://p.example/v1")] },
    claude: { family: "anthropic", routes: [route("anthropic", "https://p.example")] } } }));
const aigw = AigwClient.fromFile(path.join(dir, "aigw-client.json"), { fetch: mockFetch });

const messages = [{ role: "user", content: "hi" }];
const contenders = [
  { name: "openai SDK",
    bare: new OpenAI({ apiKey: "sk-bench", baseURL: "https://p.example/v1", maxRetries: 0, fetch: mockFetch }),
    aigw: new OpenAI({ apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0, fetch: aigw.fetchFor("openai") }),
    call: (c) => c.chat.completions.create({ model: "chat", messages }) },
  { name: "anthropic SDK",
    bare: new Anthropic({ apiKey: "sk-bench", baseURL: "https://p.example", maxRetries: 0, fetch: mockFetch }),
    aigw: new Anthropic({ apiKey: "aigw", baseURL: AIGW_BASE_URL, maxRetries: 0, fetch: aigw.fetchFor("anthropic") }),
    call: (c) => c.messages.create({ model: "claude", max_tokens: 8, messages }) },
];

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const us = (ms) => (ms * 1000).toFixed(1);

const rows = [];
for (const c of contenders) {
  const bare = [];
  const mine = [];
  for (let i = 0; i < CALLS + WARMUP; i++) {
    // Alternate which goes first, so neither always pays for the other's garbage.
    for (const [client, sink] of i % 2 ? [[c.bare, bare], [c.aigw, mine]] : [[c.aigw, mine], [c.bare, bare]]) {
      const t0 = performance.now();
      await c.call(client);
      const t = performance.now() - t0;
      if (i >= WARMUP) sink.push(t);
    }
  }
  rows.push([c.name, pct(bare, 50), pct(mine, 50), pct(bare, 99), pct(mine, 99)]);
}
rmSync(dir, { recursive: true, force: true });

console.log(`node ${process.version}, ${CALLS} calls each after ${WARMUP} warm-up, mock fetch (no network)\n`);
console.log("| contender | bare p50 | aigw p50 | +p50 | bare p99 | aigw p99 | +p99 |");
console.log("|---|---|---|---|---|---|---|");
for (const [name, b50, a50, b99, a99] of rows) {
  console.log(`| aigw + ${name} vs bare | ${us(b50)} µs | ${us(a50)} µs | ${us(a50 - b50)} µs | ` +
              `${us(b99)} µs | ${us(a99)} µs | ${us(a99 - b99)} µs |`);
}
