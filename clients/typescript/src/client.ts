/**
 * `AigwClient`: the config, routers, key files and telemetry of one service.
 *
 * What a call uses (the routers of one config revision, with their route states
 * and key files) is one immutable snapshot; a newer config file is swapped in by
 * replacing that reference, so a call in flight finishes on the snapshot it
 * started with. Calls go through `client.fetch` (fetch.ts), which the official
 * SDKs take as their `fetch` option.
 */
import * as path from "node:path";
import { performance } from "node:perf_hooks";

import { AckRecorder, recorderFor, type SlotKey } from "./acks.js";
import { type ClientConfig, configFromBytes, loadConfig } from "./config.js";
import { plan, type Plan, type PlanHooks } from "./core.js";
import { type Attempt, ConfigError, UnknownAlias, WrongFamily } from "./errors.js";
import { FailoverFetch } from "./fetch.js";
import type { KeyFile } from "./keys.js";
import { ConfigFollower, type ConfigStatus } from "./live.js";
import type { AliasRouter, Clock, Random } from "./router.js";
import { anthropicClient, openaiClient } from "./sdk.js";
import { buildSnapshot, type Snapshot } from "./snapshot.js";
import { loadSigner, type SigV4 } from "./sigv4.js";
import { type CallSpan, Telemetry } from "./telemetry.js";
import { FolderWatcher } from "./watch.js";

export type Logger = (level: "debug" | "info" | "warn", message: string) => void;

export interface ClientOptions {
  /** The fetch that reaches providers (default: the global fetch). */
  fetch?: typeof globalThis.fetch;
  /** Keep a session (`x-aigw-session`) on the route that served it (default true). */
  sessionAffinity?: boolean;
  /** Called with every attempt (never a key value). */
  onAttempt?: (attempt: Attempt) => void;
  /** Seconds between stats of a key file (default 0.1). */
  keyCheckInterval?: number;
  /** Follow the config file (default: when read from a file); true insists. */
  watchConfig?: boolean;
  /** Seconds between stats of the config file (default 0.1). */
  configCheckInterval?: number;
  /** Seconds, monotonic: times cooldowns (default `performance.now() / 1000`). */
  clock?: Clock;
  /** [0, 1): draws weighted first routes (default Math.random; see `seededRandom`). */
  random?: Random;
  /** An OpenTelemetry TracerProvider (default: the global one, when @opentelemetry/api is installed). */
  tracerProvider?: unknown;
  /** An OpenTelemetry MeterProvider for the metrics of spec/metrics.md (default: the global one). */
  meterProvider?: unknown;
  /** Where warnings and info lines go (default: warnings to console.warn). */
  logger?: Logger;
  /**
   * Also react to file events (`fs.watch` on the key and config folders) at once,
   * besides the stat every check interval (default true).
   */
  watchFiles?: boolean;
  /**
   * Records key acknowledgements (default: from the config's `acks` block, written to
   * OpenBao; null: off). Tests pass a recorder of their own.
   */
  acks?: AckRecorder | null;
}

const defaultLogger: Logger = (level, message) => {
  if (level === "warn") console.warn(message);
};

const monotonic = (): number => performance.now() / 1000;

export class AigwClient {
  readonly sessionAffinity: boolean;
  readonly onAttempt: ((attempt: Attempt) => void) | undefined;
  readonly clock: Clock;
  readonly innerFetch: typeof globalThis.fetch;
  readonly log: Logger;
  /** @internal */
  readonly telemetry: Telemetry;
  private readonly random: Random;
  private readonly keyCheckInterval: number;
  private keyFiles = new Map<string, KeyFile>();
  private snap: Snapshot;
  private reloads = 0;
  private loadedAt = Date.now();
  private readonly follower: ConfigFollower | null = null;
  private configNextCheck = Infinity;
  private signer: SigV4 | null | undefined = undefined;
  /** The key acknowledgement recorder (null: acknowledgements are off). */
  readonly acks: AckRecorder | null;
  private readonly watcher: FolderWatcher | null = null;

  constructor(config: ClientConfig, options: ClientOptions = {}) {
    this.sessionAffinity = options.sessionAffinity ?? true;
    this.onAttempt = options.onAttempt;
    this.clock = options.clock ?? monotonic;
    this.random = options.random ?? Math.random;
    this.innerFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.log = options.logger ?? defaultLogger;
    this.keyCheckInterval = options.keyCheckInterval ?? 0.1;
    this.snap = this.build(config, null);
    for (const kf of this.keyFiles.values()) {
      if (kf.get() === null) {
        this.log("warn", `key file ${kf.path} is missing or empty; its routes fail over until it appears`);
      }
    }
    this.telemetry = new Telemetry(config.service, config.environment, options.tracerProvider,
                                   options.meterProvider);
    if (options.watchConfig && config.path === null) {
      throw new ConfigError("watchConfig needs a config read from a file (AigwClient.fromFile or fromEnv)");
    }
    if (options.watchConfig !== false && config.path !== null) {
      this.follower = new ConfigFollower(config.path, options.configCheckInterval ?? 0.1, config,
        (data) => this.apply(data), (msg) => this.log("warn", `${this.describe()}: ${msg}`));
      this.configNextCheck = this.follower.nextCheck;
    }
    this.log("info", `${this.describe()}: revision - -> ${config.revision || "-"} (${config.aliases.size} aliases)`);
    let acks: AckRecorder | null = null;
    try {
      acks = options.acks !== undefined ? options.acks : recorderFor(config, (m) => this.log("warn", m));
      acks?.watch(() => this.loadedKeys());
    } catch {
      acks = null; // acknowledgements never stop a client
    }
    this.acks = acks;
    if (options.watchFiles ?? true) {
      this.watcher = new FolderWatcher(() => this.filesChanged());
      this.watcher.update(this.watchedFolders());
    }
  }

  /** What a file event does: key files looked at on next use, the config file now. */
  private filesChanged(): void {
    this.keysChanged();
    if (this.follower) this.reloadConfig();
  }

  private watchedFolders(): Set<string> {
    const dirs = new Set([...this.keyFiles.keys()].map((f) => path.dirname(f)));
    if (this.snap.config.path !== null && this.follower) dirs.add(path.dirname(this.snap.config.path));
    return dirs;
  }

  /**
   * `<provider>/<slot>` -> the fingerprint of the key loaded now, for every route
   * this client can call (null: no key): what `loaded` acknowledgements report.
   */
  loadedKeys(): Map<SlotKey, string | null> {
    const out = new Map<SlotKey, string | null>();
    for (const router of this.snap.routers.values()) {
      for (const rs of router.routes) {
        if (rs.usable) out.set(`${rs.route.provider}/${rs.route.slot}`, rs.key.get()?.[1] ?? null);
      }
    }
    return out;
  }

  /**
   * Stop background work (the acknowledgement timer, file watchers; neither keeps a
   * process alive) and record the queued metrics.
   */
  close(): void {
    this.acks?.watch(null);
    this.watcher?.close();
    this.telemetry.recorder?.drain();
  }

  /**
   * Record the metrics of the calls that ended so far, now (they are recorded within
   * 50 ms anyway): before a reader collects them, or before the process exits.
   */
  flushMetrics(): void {
    this.telemetry.flush();
  }

  /** Metrics counters: calls recorded, dropped (queue full), queued; null when metrics are off. */
  get metrics(): { recorded: number; dropped: number; queued: number } | null {
    const r = this.telemetry.recorder;
    return r === null ? null : { recorded: r.recorded, dropped: r.dropped, queued: r.queued };
  }

  /** Load `aigw-client.json` at `file`. */
  static fromFile(file: string, options: ClientOptions = {}): AigwClient {
    const log = options.logger ?? defaultLogger;
    return new AigwClient(loadConfig(file, (m) => log("warn", m)), options);
  }

  /** Load the config named by `AIGW_CLIENT_CONFIG` (as written in aigw.env). */
  static fromEnv(options: ClientOptions = {}): AigwClient {
    const file = process.env["AIGW_CLIENT_CONFIG"];
    if (!file) throw new ConfigError("AIGW_CLIENT_CONFIG is not set");
    return AigwClient.fromFile(file, options);
  }

  private describe(): string {
    return `aigw config ${this.snap?.config.service ?? ""}`;
  }

  private build(config: ClientConfig, old: Snapshot | null): Snapshot {
    const [snap, keyFiles] = buildSnapshot(config, old, {
      clock: this.clock, random: this.random, keyCheckInterval: this.keyCheckInterval,
      keyFiles: this.keyFiles, onKeyChange: (file, fresh) => this.log("info", `key file ${file}: now key ${fresh ?? "(empty)"}`),
    });
    this.keyFiles = keyFiles;
    return snap;
  }

  /** Swap in the config in `data`, or throw ConfigError (the old one keeps serving). */
  private apply(data: Buffer): void {
    const old = this.snap;
    const file = old.config.path!;
    const fresh = configFromBytes(data, file, (m) => this.log("warn", m));
    for (const name of ["service", "environment"] as const) {
      if (fresh[name] !== old.config[name]) {
        throw new ConfigError(`${file}: ${name}: '${fresh[name]}' is not this client's ` +
                              `'${old.config[name]}' (a config for another ${name})`);
      }
    }
    for (const [alias, spec] of fresh.aliases) {
      const was = old.config.aliases.get(alias);
      if (was && was.family !== spec.family) {
        this.log("warn", `${this.describe()}: alias '${alias}' now speaks the ${spec.family} family (was ${was.family})`);
      }
    }
    const previous = this.keyFiles;
    let snap: Snapshot;
    try {
      snap = this.build(fresh, old);
    } catch (exc) {
      this.keyFiles = previous;
      throw exc;
    }
    for (const [file, kf] of this.keyFiles) {
      if (!previous.has(file) && kf.get() === null) {
        this.log("warn", `key file ${file} is missing or empty; its routes fail over until it appears`);
      }
    }
    this.snap = snap; // the swap: calls from now on use the new snapshot
    this.reloads++;
    this.loadedAt = Date.now();
    for (const router of snap.routers.values()) router.forgetRemoved();
    this.watcher?.update(this.watchedFolders());
    this.log("info", `${this.describe()}: revision ${old.revision || "-"} -> ${snap.revision || "-"} (${snap.routers.size} aliases)`);
  }

  /** The config serving now. */
  get config(): ClientConfig {
    return this.snap.config;
  }

  /** The revision of the config serving now ("" when its file has none). */
  get revision(): string {
    return this.snap.revision;
  }

  /** The model aliases this service may call. */
  get aliases(): string[] {
    return [...this.snap.routers.keys()];
  }

  get configStatus(): ConfigStatus {
    const f = this.follower;
    return { revision: this.snap.revision, rejection: f?.rejection ?? "", rejected: f?.rejected ?? 0,
             reloads: this.reloads, loadedAt: this.loadedAt, following: f !== null };
  }

  /** Look at the config file now; the new status. */
  reloadConfig(): ConfigStatus {
    this.follower?.check();
    if (this.follower) this.configNextCheck = this.follower.nextCheck;
    return this.configStatus;
  }

  /**
   * Tell the client its files may have changed (a file watcher's event): each key
   * file is looked at again on its next use.
   */
  keysChanged(): void {
    for (const kf of this.keyFiles.values()) kf.markDirty();
  }

  /** The wire family (`openai` or `anthropic`) the alias speaks. */
  family(alias: string): string {
    return this.router(alias, null).family;
  }

  /** The alias's router; throws UnknownAlias, or WrongFamily if `family` differs. */
  router(alias: string, family: string | null): AliasRouter {
    if (monotonic() >= this.configNextCheck) this.reloadConfig();
    const router = this.snap.routers.get(alias);
    if (!router) {
      throw new UnknownAlias(`model alias '${alias}' is not configured for service ` +
                             `'${this.snap.config.service}' (known: ${[...this.snap.routers.keys()].join(", ")})`);
    }
    if (family !== null && router.family !== family) throw new WrongFamily(alias, router.family, family);
    return router;
  }

  private fetches = new Map<string | null, FailoverFetch>();

  /** aigw's fetch for any family: give it to an SDK as its `fetch` option. */
  get fetch(): typeof globalThis.fetch {
    return this.fetchFor(null);
  }

  /** aigw's fetch for one family: an alias of the other family answers 400 (WrongFamily). */
  fetchFor(family: "openai" | "anthropic" | null): typeof globalThis.fetch {
    let f = this.fetches.get(family);
    if (!f) this.fetches.set(family, f = new FailoverFetch(this, family));
    return f.fetch as typeof globalThis.fetch;
  }

  /**
   * An `openai` SDK client (the `openai` package, 7.x) over aigw: pass aliases as `model`.
   * `options` go to the SDK, except apiKey, baseURL, maxRetries and fetch, which aigw sets.
   */
  async openai<T = any>(options: Record<string, unknown> = {}): Promise<T> {
    return await openaiClient(this.fetchFor("openai"), options) as T;
  }

  /** An `@anthropic-ai/sdk` client (1.x) over aigw, as `openai()` is. */
  async anthropic<T = any>(options: Record<string, unknown> = {}): Promise<T> {
    return await anthropicClient(this.fetchFor("anthropic"), options) as T;
  }

  /**
   * The direct API: send `path` (relative to each route's base_url) to `alias`'s
   * routes. A JSON object `json` gets the route's model and extra. Returns the
   * deciding Response whatever its status; throws UnknownAlias or WrongFamily
   * (with `family`), and NoRouteAnswered when no route answered.
   */
  async request(alias: string, method: string, path: string,
                options: { json?: unknown; headers?: HeadersInit; sessionId?: string; signal?: AbortSignal;
                           family?: "openai" | "anthropic" } = {},
                ): Promise<Response> {
    const headers = new Headers(options.headers);
    headers.set("x-aigw-alias", alias);
    if (options.sessionId) headers.set("x-aigw-session", options.sessionId);
    let body: string | undefined;
    if (options.json !== undefined) {
      headers.set("content-type", "application/json");
      body = JSON.stringify(options.json);
    }
    let f = this.fetches.get(options.family ?? null);
    if (!f) this.fetches.set(options.family ?? null, f = new FailoverFetch(this, options.family ?? null));
    return f.direct(path, { method, headers, body, signal: options.signal });
  }

  /** @internal: the SigV4 signer, loaded on first need (null when not installed). */
  sigv4(): SigV4 | null {
    if (this.signer === undefined) this.signer = loadSigner();
    return this.signer;
  }

  /** @internal: the failover plan of one call. */
  plan(router: AliasRouter, sessionId: string | null, span: CallSpan): Plan {
    span.revision = router.revision;
    const hooks: PlanHooks = {
      clock: this.clock,
      record: (attempts, rs, alias, revision, status, outcome, latency, fp) => {
        const r = rs.route;
        const a: Attempt = { alias, provider: r.provider, slot: r.slot, route: rs.index, outcome,
                             latency, keyFingerprint: fp, status, revision };
        attempts.push(a);
        span.attempt(a);
        if (outcome !== "ok") this.log("debug", `${alias}: ${r.provider}/${r.slot} attempt failed: ${outcome}`);
        if (this.onAttempt) {
          try {
            this.onAttempt(a);
          } catch (exc) {
            this.log("warn", `onAttempt callback failed: ${(exc as Error)?.name}`);
          }
        }
      },
      unavailable: (rs) => rs.wire?.auth === "sigv4" && this.sigv4() === null ? "no_signer" : null,
      cooled: (rs, outcome) => {
        const r = rs.route;
        this.log("warn", `route ${r.provider}/${r.slot} (${r.model}) failed with ${outcome}; ` +
                         `cooling down for ${r.cooldown.toFixed(1)}s`);
      },
      used: (rs, fp, revision) => {
        try {
          this.acks?.used(`${rs.route.provider}/${rs.route.slot}`, fp, revision);
        } catch { /* an acknowledgement never changes a call's result */ }
      },
    };
    return plan(router, this.sessionAffinity ? sessionId : null, hooks);
  }
}
