// What the vector runner needs: the mock upstream and the results file's JSON.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import * as path from "node:path";

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

/** A fetch playing the providers: each request must match the next expected step. */
export function upstreamFetch(keyDir) {
  const state = {
    steps: [],
    where: "",
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
      if ("body" in expect) assert.deepEqual(JSON.parse(init.body), expect.body, `${where}: body`);
      for (const [name, text] of Object.entries(step.then_write_keys ?? {})) {
        writeFileSync(path.join(keyDir, name), text);
      }
      if (step.fail === "connect") {
        const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        throw new TypeError("fetch failed", { cause });
      }
      if (step.fail === "timeout") throw new DOMException("The operation timed out.", "TimeoutError");
      const answer = step.respond ?? { status: 200, body: {} };
      return new Response(JSON.stringify(answer.body ?? {}), {
        status: answer.status, headers: { "content-type": "application/json", ...(answer.headers ?? {}) },
      });
    },
  };
  return state;
}
