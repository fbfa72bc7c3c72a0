// The conformance vectors (spec/vectors/*.json; tests/client/vectors before the
// spec landed), run through aigw's fetch with a mock fetch playing the
// providers. Writes $AIGW_RESULTS_DIR/typescript.results.json (default
// clients/typescript/results/), the spec's results file, for CI to compare
// with the other runners'.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import { AigwClient, attemptsOf, NoRouteAnswered, parseConfig } from "../dist/index.js";
import { canonicalJson, upstreamFetch } from "./helpers/vectors.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..", "..");
const specDir = path.join(repo, "spec", "vectors");
const VECTOR_DIR = existsSync(specDir) ? specDir : path.join(repo, "tests", "client", "vectors");
const files = readdirSync(VECTOR_DIR).filter((f) => f.endsWith(".json")).sort();
const results = {};

async function runVector(file) {
  const vector = JSON.parse(readFileSync(path.join(VECTOR_DIR, file), "utf8"));
  const tmp = mkdtempSync(path.join(tmpdir(), "aigw-vector-"));
  try {
    const keyDir = path.join(tmp, "keys");
    mkdirSync(keyDir);
    for (const [name, text] of Object.entries(vector.keys ?? {})) writeFileSync(path.join(keyDir, name), text);
    const config = parseConfig({ version: 1, service: "vectors", environment: "test", key_dir: keyDir,
                                 ...vector.config }, tmp);
    const clock = { now: 1000 };
    const upstream = upstreamFetch(keyDir);
    const client = new AigwClient(config, { fetch: upstream.fetch, clock: () => clock.now,
                                            keyCheckInterval: 3600, watchConfig: false, logger: () => {} });
    const calls = [];
    for (const [i, call] of vector.calls.entries()) {
      upstream.where = `${file} call ${i + 1}`;
      upstream.steps = [...call.upstream];
      clock.now += call.advance ?? 0;
      const req = call.request;
      const headers = { ...(req.headers ?? {}) };
      const init = { method: req.method ?? "POST", headers };
      if (req.body !== undefined) {
        init.body = JSON.stringify(req.body);
        headers["content-type"] ??= "application/json";
      }
      const fetch = client.fetchFor(req.via ?? null);
      const want = call.expect;
      let attempts;
      const seen = { status: null, raises: null };
      try {
        const resp = await fetch(`http://aigw.invalid${req.path}`, init);
        const text = await resp.text();
        seen.status = resp.status;
        attempts = attemptsOf(resp);
        if ("body" in want) assert.deepEqual(JSON.parse(text), want.body, upstream.where);
        for (const part of want.error_contains ?? []) assert.ok(text.includes(part), `${upstream.where}: ${part}`);
      } catch (exc) {
        if (!(exc instanceof NoRouteAnswered)) throw exc;
        seen.raises = exc.timedOut ? "timeout" : "connect_error";
        attempts = attemptsOf(exc);
      }
      const pairs = attempts.map((a) => [a.provider, a.outcome]);
      const last = attempts[attempts.length - 1];
      calls.push({ status: seen.status, raises: seen.raises, attempts: pairs,
                   served: seen.status !== null && seen.status < 300 && last?.outcome === "ok"
                     ? `${last.provider}/${last.slot}` : null });
      assert.deepEqual(upstream.steps, [], `${upstream.where}: upstream requests not made`);
      if ("raises" in want) assert.equal(seen.raises, want.raises, upstream.where);
      else assert.equal(seen.status, want.status, upstream.where);
      if ("attempts" in want) assert.deepEqual(pairs, want.attempts, upstream.where);
    }
    return { calls };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe("conformance vectors", () => {
  for (const file of files) {
    test(path.basename(file, ".json"), async () => {
      results[path.basename(file, ".json")] = await runVector(file);
    });
  }
});

after(() => {
  const dir = process.env.AIGW_RESULTS_DIR || path.join(here, "..", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "typescript.results.json"),
                canonicalJson({ format: "aigw-conformance-results/1", runner: "typescript", vectors: results }));
});
