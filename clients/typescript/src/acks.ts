/**
 * Consumer acknowledgements (v2, spec/README.md#acknowledgements-v2): per slot, the
 * fingerprint (never the value) of the key the client has **loaded** from its key
 * file and of the key it last **used** in a successful call, with the config
 * revision, written to OpenBao with the service's own token (the one its agent
 * keeps in the key folder) at `<mount>/data/<acks.path>/<provider>/<slot>/<service>`
 * as one versioned document (`format` 2), each instance (replica) in its own entry,
 * merged with check-and-set. The Python client's acks.py is the reference; the
 * document is the same.
 *
 * Never on the request path and never a failure: a call only notes what it used
 * (a Map write); a timer (unref'd: it never keeps the process alive) looks at the
 * loaded keys every `interval` and writes what changed, at most once per slot per
 * interval, plus a heartbeat every `refresh`.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";

import type { ClientConfig } from "./config.js";

export const FORMAT = 2;
const INTERVAL = 10;
const REFRESH = 600;
const STALE = 3;
const TIMEOUT = 2;
const LOG_EVERY = 60;

type Doc = Record<string, any>;
/** (provider, slot) as one string key, "<provider>/<slot>". */
export type SlotKey = string;
/** Each callable slot's loaded key fingerprint (null: no key). */
export type LoadedSource = () => Map<SlotKey, string | null>;

export function instanceId(): string {
  return `${hostname()}:${process.pid}`;
}

/** The instances of an entry that reported recently enough to count. */
export function liveInstances(doc: unknown, now: number): Record<string, Doc> {
  if (typeof doc !== "object" || doc === null) return {};
  const raw = (doc as Doc)["instances"];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const fp = (doc as Doc)["fingerprint"];
    return fp ? { "": { fingerprint: String(fp), revision: String((doc as Doc)["revision"] || ""), at: null } } : {};
  }
  const out: Record<string, Doc> = {};
  for (const [name, inst] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof inst !== "object" || inst === null) continue;
    const at = Number((inst as Doc)["at"] || 0);
    const refresh = Number((inst as Doc)["refresh"] || REFRESH);
    if (Number.isNaN(at) || Number.isNaN(refresh)) continue;
    if (now - at < STALE * refresh) out[name] = inst as Doc;
  }
  return out;
}

function agreed(instances: Record<string, Doc>, name: string): string {
  const values = new Set(Object.values(instances).map((v) => v[name] || ""));
  return values.size === 1 ? [...values][0] : "";
}

/** The entry after instance `me` reports at `now` (epoch seconds): acks.py's `merge`. */
export function merge(doc: Doc | null, me: string, fingerprint: string, revision: string, now: number,
                      refresh = REFRESH, loaded = ""): Doc {
  const instances: Record<string, Doc> = {};
  for (const [k, v] of Object.entries(liveInstances(doc, now))) if (k) instances[k] = v;
  const mine = instances[me] ?? {};
  instances[me] = { fingerprint, used: fingerprint, loaded, revision, at: now, refresh,
                    counters: mine["counters"] || {} };
  const used = agreed(instances, "used");
  const sorted = Object.fromEntries(Object.keys(instances).sort().map((k) => [k, instances[k]]));
  return { format: FORMAT, fingerprint: used, used, loaded: agreed(instances, "loaded"),
           revision: agreed(instances, "revision"), at: now, instances: sorted,
           counters: (doc && typeof doc === "object" ? doc["counters"] : null) || {} };
}

export interface AckOptions {
  interval?: number;
  refresh?: number;
  timeout?: number;
  instance?: string;
  revision?: string;
  fetch?: typeof globalThis.fetch;
  warn?: (message: string) => void;
}

/** Per slot what this client reports: [used, loaded, revision]; the writer's state. */
export class AckRecorder {
  readonly state = new Map<SlotKey, [used: string, loaded: string, revision: string]>();
  private readonly pending = new Set<SlotKey>();
  private readonly written = new Map<SlotKey, [string, string, string, number]>();
  private readonly tried = new Map<SlotKey, number>();
  private readonly logged = new Map<string, number>();
  private source: LoadedSource | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private busy = false;
  writes = 0;
  failures = 0;
  readonly interval: number;
  readonly refresh: number;
  readonly revision: string;

  constructor(readonly service: string, readonly address: string, readonly mount: string,
              readonly folder: string, readonly tokenFiles: string[], private readonly options: AckOptions = {}) {
    this.interval = options.interval ?? INTERVAL;
    this.refresh = options.refresh ?? REFRESH;
    this.revision = options.revision ?? "";
  }

  /** From a successful call: the key of `fingerprint` was used. Cheap; never throws. */
  used(slot: SlotKey, fingerprint: string, revision: string): void {
    this.note(slot, "used", fingerprint, revision);
  }

  /** Report the loaded keys `source` gives, looked at every `interval` (null: stop). */
  watch(source: LoadedSource | null): void {
    this.source = source;
    if (source !== null) this.start();
    else this.stop();
  }

  /** Fold one report into the slot's state. */
  note(slot: SlotKey, kind: "used" | "loaded", fp: string, rev: string): void {
    const state = this.state.get(slot) ?? ["", "", this.revision];
    const next: [string, string, string] = [...state];
    if (kind === "used") {
      next[0] = fp;
      next[2] = rev || this.revision;
    } else {
      next[1] = fp;
    }
    if (next.join("\0") !== state.join("\0") || !this.written.has(slot)) {
      this.state.set(slot, next);
      this.pending.add(slot);
    }
  }

  /** Fold in the loaded keys; mark slots due for a heartbeat. */
  poll(): void {
    if (this.source) for (const [slot, fp] of this.source()) this.note(slot, "loaded", fp ?? "", "");
    const now = performance.now() / 1000;
    for (const [slot, w] of this.written) if (now - w[3] >= this.refresh) this.pending.add(slot);
  }

  private start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.tick(), Math.min(this.interval, 1) * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private nextPoll = 0;

  /** One round of the writer: poll when due, then write what is pending. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const now = performance.now() / 1000;
      if (now >= this.nextPoll) {
        this.nextPoll = now + this.interval;
        this.poll();
      }
      for (const slot of [...this.pending]) {
        if (now - (this.tried.get(slot) ?? -1e18) < this.interval) continue;
        this.tried.set(slot, now);
        await this.flush(slot);
      }
    } catch {
      this.failures++;
    } finally {
      this.busy = false;
    }
  }

  private async flush(slot: SlotKey): Promise<void> {
    const state = this.state.get(slot)!;
    const [used, loaded, rev] = state;
    const w = this.written.get(slot);
    const now = performance.now() / 1000;
    if (w && w[0] === used && w[1] === loaded && w[2] === rev && now - w[3] < this.refresh) {
      this.pending.delete(slot);
      return;
    }
    let ok: boolean;
    try {
      ok = await this.write(slot, used, rev, loaded);
    } catch (exc) {
      this.failures++;
      this.once("unreachable", `cannot write key acknowledgements to ${this.address} (${(exc as Error)?.name}); retrying`);
      return;
    }
    if (!ok) {
      this.failures++;
      return;
    }
    this.written.set(slot, [used, loaded, rev, now]);
    const cur = this.state.get(slot)!;
    if (cur[0] === used && cur[1] === loaded && cur[2] === rev) this.pending.delete(slot);
    this.writes++;
  }

  private token(): string | null {
    for (const file of this.tokenFiles) {
      try {
        const token = readFileSync(file, "utf8").trim();
        if (token) return token;
      } catch { /* the next one */ }
    }
    return null;
  }

  private async write(slot: SlotKey, fp: string, rev: string, loaded: string): Promise<boolean> {
    const token = this.token();
    if (token === null) {
      this.once("token", `no agent token in ${this.tokenFiles.join(" or ")}; key acknowledgements wait for it`);
      return false;
    }
    const fetch = this.options.fetch ?? globalThis.fetch;
    const url = `${this.address}/v1/${this.mount}/data/${this.folder}/${slot}/${this.service}`;
    const headers = { "X-Vault-Token": token };
    const signal = (): AbortSignal => AbortSignal.timeout((this.options.timeout ?? TIMEOUT) * 1000);
    for (let i = 0; i < 3; i++) { // another replica may write between our read and write
      const got = await fetch(url, { headers, signal: signal() });
      let version = 0;
      let doc: Doc | null = null;
      if (got.status === 200) {
        const body = ((await got.json()) as Doc)["data"] ?? {};
        version = Number(body?.metadata?.version ?? 0);
        doc = body?.data ?? null;
      } else if (got.status !== 404) {
        return this.refused(got.status);
      } else {
        await got.body?.cancel();
      }
      const fresh = merge(doc, this.options.instance ?? instanceId(), fp, rev, Date.now() / 1000, this.refresh, loaded);
      const put = await fetch(url, { method: "POST", headers: { ...headers, "content-type": "application/json" },
                                     body: JSON.stringify({ options: { cas: version }, data: fresh }), signal: signal() });
      const text = await put.text();
      if (put.status === 200 || put.status === 204) return true;
      if (put.status === 400 && text.includes("check-and-set")) continue;
      return this.refused(put.status);
    }
    return false;
  }

  private refused(status: number): boolean {
    this.once(`http${status}`, `OpenBao refused a key acknowledgement (HTTP ${status}): check that ` +
                               `\`aigw apply\` ran for service ${this.service}`);
    return false;
  }

  private once(kind: string, message: string): void {
    const now = performance.now() / 1000;
    if (now - (this.logged.get(kind) ?? -1e18) >= Math.max(this.interval, LOG_EVERY)) {
      this.logged.set(kind, now);
      this.options.warn?.(message);
    }
  }
}

/** The recorder of a config with an `acks` block and an OpenBao address, else null. */
export function recorderFor(config: ClientConfig, warn?: (m: string) => void): AckRecorder | null {
  const block = config.acks;
  if (!block) return null;
  const address = (block["address"] as string | null) || process.env["BAO_ADDR"] || process.env["VAULT_ADDR"];
  if (!address || !block["mount"] || !block["path"]) return null;
  const files = ((block["token_files"] as string[] | undefined) ?? [])
    .map((f) => path.isAbsolute(String(f)) ? String(f) : path.join(config.keyDir, String(f)));
  return new AckRecorder(config.service, String(address).replace(/\/+$/, ""), String(block["mount"]),
                         String(block["path"]).replace(/^\/+|\/+$/g, ""), files, {
    interval: Number(block["interval"] || INTERVAL), refresh: Number(block["refresh"] || REFRESH),
    revision: config.revision, warn,
  });
}
