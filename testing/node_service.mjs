// A Node.js stand-in service for the lab and the demo: calls aliases in a loop
// through the official `openai` SDK over @aigw/client's fetch (clients/typescript).
//
//   node testing/node_service.mjs --config /run/secrets/aigw/aigw-client.json \
//       [--alias chat-ab ...] --rate 17 --log svc.jsonl
//
// The Node twin of testing/demo_service.py, logging the same JSON lines: one per
// request (when it started, whether it was answered, which provider, route and
// key fingerprint served it, the model the provider answered for, and every
// attempt: provider, route, outcome, fingerprint, revision, end time, ms), one
// `{"event": "config", ...}` line whenever the client's revision or config
// status changes, and start/stop events with the PID. Key values are never
// written. SIGTERM stops it cleanly. Needs `scripts/install-node-client.sh` and
// the package built (`npm run build` in clients/typescript).
import { createWriteStream } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "clients", "typescript");
const { AigwClient } = await import(pathToFileURL(path.join(pkg, "dist", "index.js")).href);
// The ESM build of the SDK, as `import OpenAI from "openai"` would give.
const sdkEntry = createRequire(path.join(pkg, "package.json")).resolve("openai").replace(/\.js$/, ".mjs");
const { default: OpenAI } = await import(pathToFileURL(sdkEntry).href);

const { values: args } = parseArgs({ options: {
  config: { type: "string" }, alias: { type: "string", multiple: true },
  rate: { type: "string", default: "10" }, log: { type: "string" } } });
if (!args.config || !args.log) {
  console.error("usage: node testing/node_service.mjs --config FILE [--alias A ...] --rate N --log FILE");
  process.exit(2);
}

const now = () => Date.now() / 1000;
const stamp = () => new Date().toISOString();
const logger = (level, message) => {
  if (level !== "debug") process.stderr.write(`${stamp()} ${level === "warn" ? "WARNING" : "INFO"} aigw.client: ${message}\n`);
};
let tried = [];
const client = AigwClient.fromFile(args.config, { logger, onAttempt: (a) => tried.push({
  provider: a.provider, route: a.route, outcome: a.outcome, fp: a.keyFingerprint, rev: a.revision,
  t: now(), ms: Math.round(a.latency * 1e6) / 1000 }) });
const oai = new OpenAI({ apiKey: "unused", baseURL: "http://aigw.invalid", maxRetries: 0, fetch: client.fetchFor("openai") });

const log = createWriteStream(args.log, { flags: "a" });
const write = (obj) => log.write(JSON.stringify(obj) + "\n");
let stop = false;
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => { stop = true; });

function statusRecord() {
  const { loadedAt: _, ...status } = client.configStatus;
  return { revision: client.revision, status };
}

write({ t: now(), event: "start", pid: process.pid });
const interval = 1000 / Number(args.rate);
let status = "";
let n = 0;
let nextAt = performance.now();
while (!stop) {
  const record = statusRecord();
  if (JSON.stringify(record) !== status) {
    status = JSON.stringify(record);
    write({ t: now(), event: "config", ...record });
  }
  const aliases = args.alias ?? [...client.aliases].sort();
  const alias = aliases[n % aliases.length];
  n++;
  tried = [];
  const started = now();
  const t0 = performance.now();
  let error = null;
  let model = null;
  try {
    const reply = await oai.chat.completions.create({ model: alias, messages: [{ role: "user", content: `ping ${n}` }] });
    model = reply.model ?? null;
  } catch (err) {
    error = `${err?.constructor?.name ?? "Error"}: ${String(err?.message ?? err).slice(0, 300)}`;
  }
  if (error === null && (!tried.length || tried.at(-1).outcome !== "ok")) error = "answered without an ok attempt";
  const line = { t: started, alias, ok: error === null, attempts: tried };
  if (error === null) {
    const served = tried.at(-1);
    Object.assign(line, { provider: served.provider, route: served.route, fp: served.fp, rev: served.rev ?? "", model });
  } else {
    line.error = error;
  }
  line.ms = Math.round((performance.now() - t0) * 1000) / 1000;
  write(line);
  nextAt += interval;
  const delay = nextAt - performance.now();
  if (delay > 0) await sleep(delay);
  else nextAt = performance.now();
}
write({ t: now(), event: "stop", pid: process.pid });
log.end();
