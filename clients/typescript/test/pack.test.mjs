// `npm pack` gives a publishable tarball: installed into a scratch project with
// the official openai SDK, its declarations type-check a TypeScript consumer, and
// it imports by its package name (ESM) and serves a call under the SDK (the
// provider is a mock fetch in the scratch script).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const npm = (args, cwd) => execFileSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"],
                                        { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

test("the packed tarball installs and works with the official SDK", { timeout: 300_000 }, () => {
  const scratch = mkdtempSync(path.join(tmpdir(), "aigw-pack-"));
  try {
    const [packed] = JSON.parse(npm(["pack", "--json", "--ignore-scripts", "--pack-destination", scratch], pkg));
    const files = packed.files.map((f) => f.path);
    assert.ok(files.includes("dist/index.js") && files.includes("dist/index.d.ts"), files.join(" "));
    assert.ok(files.every((f) => !f.startsWith("src/") && !f.startsWith("test/")), files.join(" "));
    const version = JSON.parse(readFileSync(path.join(pkg, "node_modules", "openai", "package.json"), "utf8")).version;
    writeFileSync(path.join(scratch, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }));
    npm(["install", "--prefer-offline", path.join(scratch, packed.filename), `openai@${version}`], scratch);
    writeFileSync(path.join(scratch, "keys.key"), "sk-scratch\n");
    writeFileSync(path.join(scratch, "aigw-client.json"), JSON.stringify({
      version: 1, service: "scratch", environment: "test", key_dir: ".", aliases: { chat: { family: "openai", routes: [
        { provider: "p", api: "openai", base_url: "https://p.example/v1", model: "m", slot: "default",
          key_file: "keys.key", timeout: 5, retries: 0, cooldown: 30, extra: {} }] } } }));
    writeFileSync(path.join(scratch, "main.mjs"), `
      import OpenAI from "openai";
      import { AigwClient, attemptsOf } from "@aigw/client";
      const seen = [];
      const aigw = AigwClient.fromFile("aigw-client.json", { fetch: async (url, init) => {
        seen.push([String(url), new Headers(init.headers).get("authorization")]);
        return new Response(JSON.stringify({ id: "c", object: "chat.completion", created: 1, model: "m",
          choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }] }),
          { headers: { "content-type": "application/json" } });
      } });
      const oai = new OpenAI({ fetch: aigw.fetch, apiKey: "unused", maxRetries: 0 });
      const { data, response } = await oai.chat.completions.create({ model: "chat", messages: [] }).withResponse();
      console.log(JSON.stringify({ content: data.choices[0].message.content, seen,
                                   attempts: attemptsOf(response).map((a) => a.outcome) }));
    `);
    // The declarations type-check a TypeScript consumer, the SDK's `fetch` option included.
    writeFileSync(path.join(scratch, "check.ts"), `
      import OpenAI from "openai";
      import { AigwClient, attemptsOf, type Attempt } from "@aigw/client";
      const aigw: AigwClient = AigwClient.fromFile("aigw-client.json", { onAttempt: (a: Attempt) => void a.outcome });
      const oai = new OpenAI({ fetch: aigw.fetch, apiKey: "unused", maxRetries: 0 });
      const first: Attempt | undefined = attemptsOf(new Error("x"))[0];
      export { oai, first };
    `);
    execFileSync(process.execPath, [path.join(pkg, "node_modules", "typescript", "bin", "tsc"), "--noEmit",
      "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022",
      "--lib", "es2023,dom", "--types", "", "--skipLibCheck", "check.ts"], { cwd: scratch, encoding: "utf8" });
    const out = JSON.parse(execFileSync("node", ["main.mjs"], { cwd: scratch, encoding: "utf8" }));
    assert.deepEqual(out, { content: "hi", seen: [["https://p.example/v1/chat/completions", "Bearer sk-scratch"]],
                            attempts: ["ok"] });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
