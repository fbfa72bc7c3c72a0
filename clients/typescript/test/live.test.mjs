// Key files and the config followed live under load, and a hung primary's
// cooldown, through the official openai SDK over aigw's fetch, against local
// provider stand-ins (test/helpers/provider.mjs; only the providers are stand-ins).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import OpenAI from "openai";

import { AigwClient, attemptsOf, fingerprint } from "../dist/index.js";
import { Deployment, route } from "./helpers/config.mjs";
import { startProvider } from "./helpers/provider.mjs";

const quiet = () => {};
const ask = (oai, model = "chat") => oai.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] });

/** Calls from `workers` concurrent loops until `stop()`; the results. */
function load(oai, workers = 4) {
  let running = true;
  const out = { ok: 0, failed: [], served: [] };
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const reply = await ask(oai);
        out.ok++;
        out.served.push(reply.model);
      } catch (err) {
        out.failed.push(err);
      }
    }
  });
  return { out, stop: async () => { running = false; await Promise.all(loops); return out; } };
}

describe("live key files and config under load", () => {
  let dep, p1, p2;
  before(async () => {
    p1 = await startProvider("p1", { keys: ["sk-old"] });
    p2 = await startProvider("p2", { keys: ["sk-p2"] });
    dep = new Deployment();
  });
  after(async () => {
    await p1.close();
    await p2.close();
    dep.remove();
  });

  test("a key rotated on disk mid-load: 0 failed calls, 0 attempts answered 401", async () => {
    dep.key("p1", "sk-old");
    const attempts = [];
    const aigw = AigwClient.fromFile(dep.config({ chat: { family: "openai", routes: [
      route("p1", "openai", `${p1.url}/v1`, "m1")] } }), { logger: quiet, onAttempt: (a) => attempts.push(a) });
    const run = load(await aigw.openai());
    await sleep(300);
    p1.keys.add("sk-new"); // promote: both keys valid
    dep.key("p1", "sk-new"); // the agent renders the new key
    await sleep(300);
    p1.keys.delete("sk-old"); // finish: the old key is revoked
    await sleep(300);
    const out = await run.stop();
    assert.deepEqual(out.failed, []);
    assert.ok(out.ok > 20, `only ${out.ok} calls`);
    assert.equal(attempts.filter((a) => a.status === 401 || a.status === 403).length, 0);
    const fps = new Set(attempts.map((a) => a.keyFingerprint));
    assert.deepEqual(fps, new Set([fingerprint("sk-old"), fingerprint("sk-new")]));
    assert.equal(attempts.at(-1).keyFingerprint, fingerprint("sk-new"));
  });

  test("a key revoked the moment it is replaced: the 401 re-reads it, 0 failed calls", async () => {
    p1.keys = new Set(["sk-a"]);
    dep.key("p1", "sk-a");
    const aigw = AigwClient.fromFile(dep.config({ chat: { family: "openai", routes: [
      route("p1", "openai", `${p1.url}/v1`, "m1")] } }), { logger: quiet, keyCheckInterval: 60 });
    const run = load(await aigw.openai());
    await sleep(200);
    p1.keys = new Set(["sk-b"]);
    dep.key("p1", "sk-b");
    await sleep(200);
    const out = await run.stop();
    assert.deepEqual(out.failed, []);
  });

  test("a config swapped on disk mid-load: 0 failed calls, new calls on the new routes", async () => {
    p1.keys = new Set(["sk-p1"]);
    dep.key("p1", "sk-p1");
    dep.key("p2", "sk-p2");
    const file = dep.config({ chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1")] } },
                            { revision: "r1" });
    const aigw = AigwClient.fromFile(file, { logger: quiet });
    assert.equal(aigw.revision, "r1");
    const run = load(await aigw.openai());
    await sleep(300);
    dep.config({ chat: { family: "openai", routes: [route("p2", "openai", `${p2.url}/v1`, "m2")] } },
               { revision: "r2" });
    await sleep(300);
    const before = run.out.served.length;
    await sleep(200);
    const out = await run.stop();
    assert.deepEqual(out.failed, []);
    assert.ok(out.served.includes("m1") && out.served.includes("m2"));
    assert.deepEqual(new Set(out.served.slice(before)), new Set(["m2"]));
    assert.equal(aigw.revision, "r2");
    assert.equal(aigw.configStatus.reloads, 1);
    // A half-written file is rejected; the old config keeps serving.
    dep.write("aigw-client.json", '{"version": 1, "service": "node-svc", "aliases": {');
    await sleep(150);
    assert.equal((await ask(await aigw.openai())).model, "m2");
    assert.equal(aigw.configStatus.rejected, 1);
    assert.match(aigw.configStatus.rejection, /not valid JSON/);
  });

  test("file events: a replaced key file and config are seen without waiting for a stat", async () => {
    p1.keys = new Set(["sk-e1", "sk-e2"]);
    dep.key("p1", "sk-e1");
    const attempts = [];
    const aigw = AigwClient.fromFile(dep.config({ chat: { family: "openai", routes: [
      route("p1", "openai", `${p1.url}/v1`, "m1")] } }, { revision: "e1" }),
      { logger: quiet, keyCheckInterval: 3600, configCheckInterval: 3600, onAttempt: (a) => attempts.push(a) });
    try {
      const oai = await aigw.openai();
      await ask(oai);
      dep.key("p1", "sk-e2");
      dep.config({ chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1b")] } },
                 { revision: "e2" });
      const deadline = Date.now() + 5000;
      while (aigw.revision !== "e2" && Date.now() < deadline) await sleep(20);
      assert.equal(aigw.revision, "e2");
      const reply = await ask(oai);
      assert.equal(reply.model, "m1b");
      assert.deepEqual(attempts.map((a) => a.keyFingerprint), [fingerprint("sk-e1"), fingerprint("sk-e2")]);
    } finally {
      aigw.close();
    }
  });

  test("the caller's abort ends the call: no failover, the SDK's abort error", async () => {
    p1.mode = "hang";
    try {
      dep.key("p1", "sk-p1");
      const attempts = [];
      const aigw = AigwClient.fromFile(dep.config({ chat: { family: "openai", routes: [
        route("p1", "openai", `${p1.url}/v1`, "m1", { timeout: 30 }),
        route("p2", "openai", `${p2.url}/v1`, "m2")] } }), { logger: quiet, onAttempt: (a) => attempts.push(a) });
      const oai = await aigw.openai();
      const calls = p2.calls;
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(oai.chat.completions.create({ model: "chat", messages: [] }, { signal: controller.signal }),
                           (err) => err instanceof OpenAI.APIUserAbortError);
      assert.equal(p2.calls, calls);
      assert.deepEqual(attempts, []);
      aigw.close();
    } finally {
      p1.mode = "ok";
    }
  });

  test("a hung primary costs one timeout, then is skipped during its cooldown", async () => {
    p1.mode = "hang";
    try {
      dep.key("p1", "sk-p1");
      const aigw = AigwClient.fromFile(dep.config({ chat: { family: "openai", routes: [
        route("p1", "openai", `${p1.url}/v1`, "m1", { timeout: 0.5, cooldown: 30 }),
        route("p2", "openai", `${p2.url}/v1`, "m2")] } }), { logger: quiet });
      const oai = await aigw.openai();
      const calls = p1.calls;
      const seen = [];
      for (let i = 0; i < 5; i++) {
        const { data, response } = await ask(oai).withResponse();
        assert.equal(data.model, "m2");
        seen.push(attemptsOf(response).map((a) => `${a.provider}:${a.outcome}`).join(","));
      }
      assert.deepEqual(seen, ["p1:timeout,p2:ok", "p2:ok", "p2:ok", "p2:ok", "p2:ok"]);
      assert.equal(p1.calls - calls, 1);
    } finally {
      p1.mode = "ok";
    }
  });
});
