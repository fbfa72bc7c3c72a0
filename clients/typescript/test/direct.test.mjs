// The direct API (`aigw.request`), no SDK, against local provider stand-ins
// (test/helpers/provider.mjs: only the providers are stand-ins).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { AigwClient, attemptsOf, NoRouteAnswered, UnknownAlias, WrongFamily } from "../dist/index.js";
import { Deployment, route } from "./helpers/config.mjs";
import { closedPort, startProvider } from "./helpers/provider.mjs";

describe("direct API", () => {
  let dep, p1, p2, aigw;
  before(async () => {
    p1 = await startProvider("p1", { keys: ["sk-p1"] });
    p2 = await startProvider("p2", { keys: ["sk-p2"] });
    dep = new Deployment();
    dep.key("p1", "sk-p1");
    dep.key("p2", "sk-p2");
    const port = await closedPort();
    aigw = AigwClient.fromFile(dep.config({
      chat: { family: "openai", routes: [route("p1", "openai", `${p1.url}/v1`, "m1", { extra: { temperature: 0.1 } }),
                                         route("p2", "openai", `${p2.url}/v1`, "m2")] },
      dead: { family: "openai", routes: [route("p1", "openai", `http://127.0.0.1:${port}/v1`, "m0")] },
      claude: { family: "anthropic", routes: [route("p1", "anthropic", p1.url, "c1")] },
    }), { logger: () => {} });
  });
  after(async () => {
    await p1.close();
    await p2.close();
    dep.remove();
  });

  test("request(): the route's model and extra, the caller's keys win", async () => {
    const resp = await aigw.request("chat", "POST", "/chat/completions",
                                    { json: { model: "ignored", messages: [], temperature: 1 } });
    assert.equal(resp.status, 200);
    assert.equal((await resp.json()).model, "m1");
    assert.deepEqual(JSON.parse(p1.seen.at(-1).body), { model: "m1", messages: [], temperature: 1 });
    assert.equal(p1.seen.at(-1).headers["x-aigw-alias"], undefined);
  });

  test("a session stays on the route that served it while it is healthy", async () => {
    p1.mode = "503";
    const first = await aigw.request("chat", "POST", "/chat/completions", { json: { messages: [] }, sessionId: "s1" });
    assert.deepEqual(attemptsOf(first).map((a) => a.provider), ["p1", "p2"]);
    p1.mode = "ok";
    const again = await aigw.request("chat", "POST", "/chat/completions", { json: { messages: [] }, sessionId: "s1" });
    assert.deepEqual(attemptsOf(again).map((a) => `${a.provider}:${a.outcome}`), ["p2:ok"]);
  });

  test("unknown alias, other family and no answer are thrown", async () => {
    await assert.rejects(aigw.request("nope", "POST", "/chat/completions", { json: {} }), UnknownAlias);
    await assert.rejects(aigw.request("claude", "POST", "/chat/completions", { json: {}, family: "openai" }),
                         (err) => err instanceof WrongFamily && err.family === "anthropic");
    await assert.rejects(aigw.request("dead", "POST", "/chat/completions", { json: {} }),
                         (err) => err instanceof NoRouteAnswered && err.attempts[0].outcome === "connect_error");
  });
});
