/**
 * OpenTelemetry GenAI client metrics, recorded off the request path
 * (spec/metrics.md; the Python client's client/metrics.py).
 *
 * A call only pushes one record onto a bounded array (4096; when full the record
 * is dropped and counted in `dropped`: never a wait, never a throw). An unref'd
 * timer drains it every 50 ms, in slices of 256 records per macrotask, parses the
 * usage (the answer's JSON as the caller read it, or the usage events a stream's
 * `StreamTap` kept) and records:
 *
 * - `gen_ai.client.operation.duration` (histogram, `s`; `error.type` on failure);
 * - `gen_ai.client.token.usage` (histogram, `{token}`; `gen_ai.token.type` input/output);
 * - `aigw.client.token.usage` (counter, `{token}`; `aigw.token.type`: usage.ts's classes);
 * - `aigw.client.cost` (counter, `{currency}`; `aigw.currency`), only when the route's
 *   price names every class the call used (cost.ts);
 * - `aigw.client.metrics.dropped` (counter, `{call}`; `aigw.service`/`aigw.environment`
 *   only): the calls dropped since the previous drain, added by the next drain.
 *
 * The counters are summed per drained slice and added once per attribute set.
 */
import { addDec, type Dec, decNumber, cost, type Price, priceFromJson } from "./cost.js";
import type { RouteState } from "./router.js";
import { fromBody, fromEvents, inputTotal, outputTotal } from "./usage.js";
import { bedrockBaseUrl } from "./wire.js";

export const QUEUE_SIZE = 4096;
export const POLL_MS = 50;
const SLICE = 256;
export const SEMCONV = "1.44.0";
export const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
  20.48, 40.96, 81.92];
export const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
  16777216, 67108864];

type Attrs = Record<string, string | number>;
interface Histogram { record(value: number, attrs: Attrs): void }
interface Counter { add(value: number, attrs: Attrs): void }
export interface Meter {
  createHistogram(name: string, options: Record<string, unknown>): Histogram;
  createCounter(name: string, options: Record<string, unknown>): Counter;
}
export interface MeterProvider {
  getMeter(name: string, version?: string, options?: { schemaUrl?: string }): Meter;
}

// gen_ai.provider.name: the conventions' well-known values, by host, then by wire API.
const BY_API: Record<string, string> = { anthropic: "anthropic", bedrock: "aws.bedrock",
  "bedrock-api-key": "aws.bedrock" };
const BY_HOST: Record<string, string> = { "api.openai.com": "openai", "api.deepseek.com": "deepseek",
  "api.anthropic.com": "anthropic", "api.mistral.ai": "mistral_ai", "api.groq.com": "groq",
  "api.x.ai": "x_ai", "api.perplexity.ai": "perplexity", "api.cohere.com": "cohere",
  "generativelanguage.googleapis.com": "gcp.gemini" };

/** The `gen_ai.provider.name` of a route: a well-known value where one applies, else the catalog's name. */
export function providerName(api: string, host: string, provider: string): string {
  const known = Object.hasOwn(BY_HOST, host) ? BY_HOST[host] : undefined;
  if (known !== undefined) return known;
  if (host.endsWith(".openai.azure.com")) return "azure.ai.openai";
  return Object.hasOwn(BY_API, api) ? BY_API[api]! : provider;
}

/** One finished call, as the request path queues it. */
export interface CallRecord {
  alias: string;
  operation: string;
  route: RouteState | null;
  outcome: string;
  /** Seconds the call took; negative: a record of usage only (the answer read later). */
  seconds: number;
  /** The JSON answer: parsed, or its text (parsed here). */
  body: unknown;
  /** A stream's events that carry usage. */
  events: Uint8Array[] | null;
}

/** A bounded queue of finished calls and the timer that records their metrics. */
export class MetricsRecorder {
  private queue: CallRecord[] = [];
  private scheduled = false;
  private readonly duration: Histogram;
  private readonly tokens: Histogram;
  private readonly classes: Counter;
  private readonly costs: Counter;
  private readonly drops: Counter;
  private readonly scope: Attrs;
  /** Of `dropped`, how many the counter has seen. */
  private droppedAdded = 0;
  private attrs = new Map<string, Attrs>();
  /** Per route and response model: [attributes, those + token type input, + output]. */
  private tokenAttrs = new Map<string, [Attrs, Attrs, Attrs]>();
  private classSums = new Map<string, [number, Attrs]>();
  private costSums = new Map<string, [Dec, Attrs]>();
  private prices = new WeakMap<object, Price | null>();
  /** Calls not queued (queue full). */
  dropped = 0;
  /** Calls recorded. */
  recorded = 0;

  constructor(meter: Meter, readonly service: string, readonly environment: string,
              readonly queueSize = QUEUE_SIZE, readonly pollMs = POLL_MS) {
    this.duration = meter.createHistogram("gen_ai.client.operation.duration", {
      unit: "s", description: "GenAI operation duration", advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
    this.tokens = meter.createHistogram("gen_ai.client.token.usage", {
      unit: "{token}", description: "Number of input and output tokens used",
      advice: { explicitBucketBoundaries: TOKEN_BUCKETS } });
    this.classes = meter.createCounter("aigw.client.token.usage", {
      unit: "{token}", description: "Tokens by billed class (aigw.token.type)" });
    this.costs = meter.createCounter("aigw.client.cost", {
      unit: "{currency}", description: "Cost of calls at the catalog's prices" });
    this.drops = meter.createCounter("aigw.client.metrics.dropped", {
      unit: "{call}", description: "Calls whose metrics were dropped (the recording queue was full)" });
    this.scope = { "aigw.service": service, "aigw.environment": environment };
  }

  /** The request path: queue one finished call. Never waits, never throws. */
  record(item: CallRecord): void {
    if (this.queue.length >= this.queueSize) {
      this.dropped++;
      if (!this.scheduled) this.schedule(this.pollMs); // (a drain reports the drop)
      return;
    }
    this.queue.push(item);
    if (!this.scheduled) this.schedule(this.pollMs);
  }

  /** How many calls wait to be recorded. */
  get queued(): number {
    return this.queue.length;
  }

  private schedule(ms: number): void {
    this.scheduled = true;
    const run = (): void => {
      this.scheduled = false;
      this.drain(SLICE);
      if (this.queue.length) this.schedule(0);
    };
    (ms > 0 ? setTimeout(run, ms) : setImmediate(run)).unref();
  }

  /** Record up to `max` queued calls now; returns how many are left. */
  drain(max = Infinity): number {
    const batch = this.queue.length <= max ? this.queue : this.queue.splice(0, max);
    if (batch === this.queue) this.queue = [];
    for (const item of batch) {
      try {
        this.recordOne(item);
      } catch { /* a bug here must not stop the others */ }
    }
    try {
      this.addSums();
    } catch { /* as above */ }
    return this.queue.length;
  }

  /** Record everything queued now (close, tests). */
  flush(): void {
    this.drain();
  }

  private recordOne(item: CallRecord): void {
    const rs = item.route;
    const key = rs === null ? `${item.alias}\0${item.operation}`
      : `${item.alias}\0${item.operation}\0${rs.ident}\0${rs.index}`;
    let base = this.attrs.get(key);
    if (base === undefined) {
      if (this.attrs.size > 4096) this.attrs.clear(); // (old revisions' routes)
      base = this.base(item.alias, item.operation, rs);
      this.attrs.set(key, base);
    }
    const outcome = item.outcome === "stream_interrupted" ? "interrupted" : item.outcome;
    const ok = outcome === "ok" || outcome === "closed";
    if (item.seconds >= 0) {
      this.duration.record(item.seconds, ok ? base : { ...base, "error.type": outcome });
      this.recorded++;
    }
    if (rs === null || (!ok && outcome !== "interrupted")) return;
    const family = rs.wire?.family ?? "openai";
    let body = item.body;
    if (typeof body === "string") {
      try {
        body = JSON.parse(body);
      } catch { /* not JSON: no usage */ }
    }
    const [tokens, model] = item.events ? fromEvents(item.events, family) : fromBody(body, family);
    if (tokens === null) return;
    const tk = `${key}\0${model}`;
    let sets = this.tokenAttrs.get(tk);
    if (sets === undefined) {
      if (this.tokenAttrs.size > 4096) this.tokenAttrs.clear();
      const attrs = model ? { ...base, "gen_ai.response.model": model } : base;
      sets = [attrs, { ...attrs, "gen_ai.token.type": "input" }, { ...attrs, "gen_ai.token.type": "output" }];
      this.tokenAttrs.set(tk, sets);
    }
    const [attrs, inputAttrs, outputAttrs] = sets;
    this.tokens.record(inputTotal(tokens), inputAttrs);
    this.tokens.record(outputTotal(tokens), outputAttrs);
    for (const [cls, count] of Object.entries(tokens)) {
      if (!count && cls !== "input" && cls !== "output") continue;
      const k = `${tk}\0${cls}`;
      const sum = this.classSums.get(k);
      if (sum) sum[0] += count;
      else this.classSums.set(k, [count, { ...attrs, "aigw.token.type": cls }]);
    }
    const price = this.price(rs);
    const amount = cost(tokens, price);
    if (amount !== null && price !== null) {
      const k = `${tk}\0${price.currency}`;
      const sum = this.costSums.get(k);
      if (sum) sum[0] = addDec(sum[0], amount);
      else this.costSums.set(k, [amount, { ...attrs, "aigw.currency": price.currency }]);
    }
  }

  private addSums(): void {
    const classes = this.classSums;
    this.classSums = new Map();
    for (const [count, attrs] of classes.values()) this.classes.add(count, attrs);
    const costs = this.costSums;
    this.costSums = new Map();
    for (const [amount, attrs] of costs.values()) this.costs.add(decNumber(amount), attrs);
    const delta = this.dropped - this.droppedAdded;
    if (delta > 0) {
      this.droppedAdded = this.dropped; // (first: a meter that throws does not count them twice)
      this.drops.add(delta, this.scope);
    }
  }

  private base(alias: string, operation: string, rs: RouteState | null): Attrs {
    const attrs: Attrs = { "gen_ai.operation.name": operation, "aigw.service": this.service,
                           "aigw.environment": this.environment, "aigw.alias": alias };
    if (rs !== null) {
      const r = rs.route;
      Object.assign(attrs, { "gen_ai.provider.name": providerName(r.api, rs.host, r.provider),
                             "aigw.provider": r.provider, "gen_ai.request.model": r.model,
                             "aigw.slot": r.slot, "aigw.route": rs.index });
      // (none for Bedrock's regional default, a route written without base_url, as in Python)
      if (rs.host && !(rs.wire && !rs.wire.needsBaseUrl && r.baseUrl === bedrockBaseUrl(r.awsRegion))) {
        attrs["server.address"] = rs.host;
      }
    }
    return attrs;
  }

  /** The route's price (its `price` in aigw-client.json), parsed once per route. */
  private price(rs: RouteState): Price | null {
    let price = this.prices.get(rs.route);
    if (price === undefined) {
      price = priceFromJson(rs.route.price);
      this.prices.set(rs.route, price);
    }
    return price;
  }
}
