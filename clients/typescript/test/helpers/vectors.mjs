// Plays the conformance vectors (spec/vectors/*.json) on the TypeScript client, as
// spec/README.md#vectors says: a mock fetch plays the providers, checks every
// request against the vector's `expect` and answers as the vector says.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";

import { AckRecorder, AigwClient, attemptsOf, NoRouteAnswered } from "../../dist/index.js";

export const RESULTS_FORMAT = "aigw-conformance-results/1";
const CONFIG_DEFAULTS = { version: 1, service: "vectors", environment: "test", key_dir: "keys" };
const START = 1000.0;

function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sorted(value[k])]));
  }
  return value;
}

/** Python's `json.dumps(obj, indent=2, sort_keys=True) + "\n"` (ensure_ascii included). */
export function canonicalJson(obj) {
  return JSON.stringify(sorted(obj), null, 2)
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) + "\n";
}

/** Write (or, for null, delete) files relative to `root`, replacing each by rename. */
export function writeFiles(root, files) {
  for (const [name, text] of Object.entries(files ?? {})) {
    const file = path.join(root, name);
    if (text === null) {
      rmSync(file, { force: true });
      continue;
    }
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  }
}

function bodyText(body) {
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return new TextDecoder().decode(body);
  return String(body);
}

/** A fetch playing the providers: each request must match the next expected step. */
export function upstreamFetch(keyDir, root) {
  const state = {
    steps: [],
    where: "",
    filesChanged: () => {},
    async fetch(url, init) {
      assert.ok(state.steps.length, `${state.where}: unexpected upstream request ${url}`);
      const step = state.steps.shift();
      const expect = step.expect ?? {};
      const where = `${state.where}: upstream ${expect.url ?? ""}`;
      const headers = new Headers(init.headers);
      if ("method" in expect) assert.equal(init.method, expect.method, where);
      if ("url" in expect) assert.equal(String(url), expect.url, where);
      for (const [name, value] of Object.entries(expect.headers ?? {})) {
        assert.equal(headers.get(name), value, `${where}: header ${name}`);
      }
      for (const [name, prefix] of Object.entries(expect.header_prefixes ?? {})) {
        assert.ok((headers.get(name) ?? "").startsWith(prefix), `${where}: ${name}`);
      }
      for (const name of expect.absent_headers ?? []) {
        assert.ok(!headers.has(name), `${where}: header ${name} must not be sent`);
      }
      if ("body" in expect || "content" in expect) {
        let text;
        if (init.body instanceof FormData) {
          const req = new Request("http://x", { method: "POST", body: init.body });
          headers.set("content-type", req.headers.get("content-type"));
          text = await req.text();
        } else {
          text = bodyText(init.body);
        }
        if ("body" in expect) assert.deepEqual(JSON.parse(text), expect.body, `${where}: body`);
        if ("content" in expect) assert.equal(text, expect.content, `${where}: content`);
      }
      for (const [name, text] of Object.entries(step.then_write_keys ?? {})) {
        writeFileSync(path.join(keyDir, name), text);
      }
      if ("then_write_files" in step) {
        writeFiles(root, step.then_write_files);
        state.filesChanged();
      }
      if (step.fail === "connect") {
        const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        throw new TypeError("fetch failed", { cause });
      }
      if (step.fail === "timeout") throw new DOMException("The operation timed out.", "TimeoutError");
      const answer = step.respond ?? { status: 200, body: {} };
      const status = answer.status;
      if ("chunks" in answer) {
        const enc = new TextEncoder();
        const chunks = answer.chunks.map((c) => enc.encode(c));
        const stream = new ReadableStream({
          pull(controller) {
            if (chunks.length) controller.enqueue(chunks.shift());
            else controller.close();
          },
        });
        return new Response(stream, { status, headers: answer.headers ?? {} });
      }
      const nullBody = [101, 103, 204, 205, 304].includes(status);
      if ("text" in answer) return new Response(nullBody ? null : answer.text, { status, headers: answer.headers ?? {} });
      return new Response(JSON.stringify(answer.body ?? {}), {
        status, headers: { "content-type": "application/json", ...(answer.headers ?? {}) },
      });
    },
  };
  return state;
}

/** The client's random source: the vector's `random` numbers, in order. */
function draws(numbers, where) {
  const left = [...(numbers ?? [])];
  return () => {
    assert.ok(left.length, `${where}: the client drew more numbers than \`random\` has`);
    return left.shift();
  };
}

/** What the client would acknowledge now, per `<provider>/<slot>` it can call. */
function settle(acks) {
  acks.poll();
  const out = {};
  for (const slot of [...acks.state.keys()].sort()) {
    const [used, loaded] = acks.state.get(slot);
    out[slot] = { loaded: loaded || null, used: used || null };
  }
  return out;
}

/** One call's entry in the results file. */
function callResult(status, raises, attempts) {
  const last = attempts.at(-1);
  return {
    status, raises, attempts: attempts.map((a) => [a.provider, a.outcome]),
    served: last && last.outcome === "ok" && status !== null && status >= 200 && status < 300
      ? `${last.provider}/${last.slot}` : null,
  };
}

function checkCall(result, want, text, where) {
  assert.equal(result.raises, want.raises ?? null, `${where}: raises`);
  if ("status" in want) assert.equal(result.status, want.status, `${where}: status`);
  if ("attempts" in want) assert.deepEqual(result.attempts, want.attempts, `${where}: attempts`);
  if ("served" in want) assert.equal(result.served, want.served, `${where}: served`);
  if ("body" in want) assert.deepEqual(JSON.parse(text), want.body, `${where}: body`);
  for (const part of want.error_contains ?? []) assert.ok(text?.includes(part), `${where}: error_contains ${part}`);
  if ("stream" in want) assert.equal(text, want.stream, `${where}: stream`);
  if ("revision" in want) assert.equal(result.revision, want.revision, `${where}: revision`);
  if ("rejected" in want) assert.equal(result.rejected, want.rejected, `${where}: rejected`);
}

/** Play one vector in folder `root`; its entry of the results file. */
export async function playVector(id, vector, root) {
  const config = { ...CONFIG_DEFAULTS, ...vector.config };
  const configPath = path.join(root, vector.config_path ?? "aigw-client.json");
  writeFiles(root, vector.files);
  const keyDir = path.join(path.dirname(configPath), config.key_dir);
  mkdirSync(keyDir, { recursive: true });
  for (const [name, text] of Object.entries(vector.keys ?? {})) writeFileSync(path.join(keyDir, name), text);
  writeFileSync(configPath, JSON.stringify(config));
  const upstream = upstreamFetch(keyDir, root);
  const clock = { now: START };
  const client = AigwClient.fromFile(configPath, {
    fetch: upstream.fetch, clock: () => clock.now, keyCheckInterval: 3600, configCheckInterval: 3600,
    random: draws(vector.random, id), logger: () => {}, watchFiles: false,
    // The real recorder without its timer or OpenBao: settled when the vector ends.
    acks: new AckRecorder("vectors", "http://acks.invalid", "kv", "acks", [], { refresh: 1e9 }),
  });
  client.acks.stop();
  upstream.filesChanged = () => client.keysChanged();
  const calls = [];
  for (const [i, call] of vector.calls.entries()) {
    const where = `${id} call ${i + 1}`;
    upstream.where = where;
    upstream.steps = [...(call.upstream ?? [])];
    clock.now += call.advance ?? 0;
    if ("files" in call) {
      writeFiles(root, call.files);
      client.keysChanged(); // (what a file watcher does on an agent's write)
    }
    if (call.reload_config) client.reloadConfig();
    const req = call.request;
    const headers = new Headers(req.headers ?? {});
    const init = { method: req.method ?? "POST", headers };
    if ("content" in req) {
      init.body = new TextEncoder().encode(req.content);
    } else if (req.body !== undefined && req.body !== null) {
      init.body = JSON.stringify(req.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    let result;
    let text = null;
    try {
      const resp = await client.fetchFor(req.via ?? null)(`http://aigw.invalid${req.path}`, init);
      text = await resp.text();
      result = callResult(resp.status, null, attemptsOf(resp));
    } catch (exc) {
      if (!(exc instanceof NoRouteAnswered)) throw exc;
      result = callResult(null, exc.timedOut ? "timeout" : "connect_error", attemptsOf(exc));
    }
    assert.deepEqual(upstream.steps, [], `${where}: upstream requests not made`);
    if (call.reload_config) {
      const status = client.configStatus;
      result.revision = status.revision;
      result.rejected = status.rejected;
    }
    checkCall(result, call.expect ?? {}, text, where);
    calls.push(result);
  }
  const entry = { calls };
  if ("acks" in vector) {
    client.keysChanged();
    entry.acks = settle(client.acks);
    assert.deepEqual(entry.acks, vector.acks, `${id}: acks`);
  }
  return entry;
}

/** Where results files go: $AIGW_SPEC_RESULTS, else $AIGW_RESULTS_DIR, else spec/results/. */
export function resultsDir(repo) {
  const dir = process.env.AIGW_SPEC_RESULTS || process.env.AIGW_RESULTS_DIR;
  if (dir) return dir;
  const spec = path.join(repo, "spec");
  return existsSync(spec) ? path.join(spec, "results") : path.join(repo, "clients", "typescript", "results");
}
