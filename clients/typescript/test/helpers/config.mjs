// Writes aigw-client.json and key files into a temporary folder, as the agent would.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

/** One route of aigw-client.json; `overrides` replace its fields (timeout, retries...). */
export function route(provider, api, baseUrl, model, overrides = {}) {
  return { provider, api, base_url: baseUrl, model, slot: "default", key_file: `${provider}.default.key`,
           timeout: 5, retries: 0, cooldown: 30, extra: {}, ...overrides };
}

export class Deployment {
  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), "aigw-ts-"));
    this.file = path.join(this.dir, "aigw-client.json");
    this.n = 0;
  }
  /** Replace `name` by rename, as agents do (mode 0600). */
  write(name, text) {
    const tmp = path.join(this.dir, `.${name}.${++this.n}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, path.join(this.dir, name));
  }
  key(provider, value) {
    this.write(`${provider}.default.key`, `${value}\n`);
  }
  config(aliases, extra = {}) {
    this.write("aigw-client.json", JSON.stringify({ version: 1, service: "node-svc", environment: "test",
                                                    key_dir: ".", aliases, ...extra }));
    return this.file;
  }
  remove() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
