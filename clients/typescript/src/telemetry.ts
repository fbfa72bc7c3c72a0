/**
 * OpenTelemetry spans, one per call, when `@opentelemetry/api` is installed and a
 * tracer provider is set; and the call's metrics (metrics.ts, spec/metrics.md) when
 * a meter provider is set. Attributes are the Python client's: `gen_ai.*` plus
 * `aigw.service`, `aigw.environment`, `aigw.alias`, `aigw.attempt`, `aigw.outcome`,
 * `aigw.slot`, `aigw.config.revision`; one `aigw.attempt` event per attempt.
 *
 * Nesting: the span starts in the active context, so when the SDK's own span is
 * active around its fetch (as the Anthropic SDK's is), aigw's span is its child.
 */
import { performance } from "node:perf_hooks";

import type { Attempt } from "./errors.js";
import { type MeterProvider, MetricsRecorder, providerName, SEMCONV } from "./metrics.js";
import { optional } from "./optional.js";
import type { RouteState } from "./router.js";
import { fromBody, fromEvents, inputTotal, outputTotal, type StreamTap } from "./usage.js";

interface Span {
  addEvent(name: string, attrs: Record<string, unknown>): void;
  setAttributes(attrs: Record<string, unknown>): void;
  setStatus(status: { code: number; message?: string }): void;
  end(): void;
  isRecording(): boolean;
}
interface Tracer {
  startSpan(name: string, options: Record<string, unknown>): Span;
}
interface OtelApi {
  trace: {
    getTracer(name: string, version?: string): Tracer;
    getTracerProvider(): { getTracer(name: string, version?: string): Tracer };
  };
  metrics: { getMeterProvider(): MeterProvider };
  SpanKind: { CLIENT: number };
  SpanStatusCode: { ERROR: number };
}

const api = optional<OtelApi>("@opentelemetry/api");

/** One call's span (possibly several attempts) and its metrics; a no-op when both are off. */
export class CallSpan {
  attempts = 0;
  revision = "";
  /** A stream's usage events, when metrics are on (fetch.ts sets it). */
  tap: StreamTap | null = null;
  private readonly t0: number;

  constructor(private span: Span | null, private metrics: MetricsRecorder | null = null,
              private readonly alias = "", private readonly operation = "") {
    this.t0 = metrics !== null ? performance.now() : 0;
  }

  /** A span is open: it wants the answer's usage when the call ends. */
  get recording(): boolean {
    return this.span !== null;
  }

  /** Metrics are on for this call (its usage is read later, off the request path). */
  get metered(): boolean {
    return this.metrics !== null;
  }

  /**
   * Where the answer's JSON goes when the caller reads it (after `finish`): its usage
   * is queued as a record of its own, with no duration.
   */
  usageLater(route: RouteState | null): (body: unknown) => void {
    const metrics = this.metrics!;
    return (body) => metrics.record({ alias: this.alias, operation: this.operation, route, outcome: "ok",
                                      seconds: -1, body, events: null });
  }

  attempt(a: Attempt): void {
    if (this.span === null) return;
    this.attempts++;
    this.span.addEvent("aigw.attempt", {
      "gen_ai.provider.name": a.provider, "aigw.slot": a.slot, "aigw.route": a.route,
      "aigw.outcome": a.outcome, "aigw.latency_ms": Math.round(a.latency * 1e6) / 1000,
    });
  }

  /**
   * Queue the call's metrics, set the span's final attributes and end it (once).
   * `response`: the parsed answer (when a span read it).
   */
  finish(route: RouteState | null, outcome: string, response?: unknown): void {
    const metrics = this.metrics;
    if (metrics !== null) {
      this.metrics = null;
      try {
        metrics.record({ alias: this.alias, operation: this.operation, route, outcome,
                         seconds: (performance.now() - this.t0) / 1000, body: response,
                         events: this.tap?.blocks ?? null });
      } catch { /* metrics never fail a call */ }
    }
    const span = this.span;
    this.span = null;
    if (span === null) return;
    const attrs: Record<string, unknown> = {
      "aigw.attempt": this.attempts, "aigw.outcome": outcome, "aigw.config.revision": this.revision,
    };
    if (route) {
      const r = route.route;
      Object.assign(attrs, { "gen_ai.system": r.provider,
                             "gen_ai.provider.name": providerName(r.api, route.host, r.provider),
                             "aigw.provider": r.provider, "aigw.route": route.index,
                             "gen_ai.request.model": r.model, "aigw.slot": r.slot,
                             "server.address": route.host });
      const family = route.wire?.family ?? "openai";
      const [tokens, model] = this.tap?.blocks.length ? fromEvents(this.tap.blocks, family)
        : fromBody(response, family);
      if (model) attrs["gen_ai.response.model"] = model;
      if (tokens) {
        attrs["gen_ai.usage.input_tokens"] = inputTotal(tokens);
        attrs["gen_ai.usage.output_tokens"] = outputTotal(tokens);
        if (tokens.cache_read) attrs["gen_ai.usage.cache_read.input_tokens"] = tokens.cache_read;
        if (tokens.cache_write) attrs["gen_ai.usage.cache_creation.input_tokens"] = tokens.cache_write;
        if (tokens.reasoning) attrs["gen_ai.usage.reasoning.output_tokens"] = tokens.reasoning;
      }
    }
    span.setAttributes(attrs);
    if (outcome !== "ok" && outcome !== "closed" && api) {
      span.setStatus({ code: api.SpanStatusCode.ERROR, message: outcome });
    }
    span.end();
  }
}

const NO_SPAN = new CallSpan(null);

function isNoop(provider: unknown): boolean {
  return (provider as object)?.constructor?.name === "NoopMeterProvider";
}

/** Starts `CallSpan`s on the given (or the global) tracer and meter providers. */
export class Telemetry {
  private readonly base: Record<string, string>;
  private readonly tracer: Tracer | null;
  /** The global provider (a proxy), when no provider was given. */
  private readonly proxy: { getDelegate?: () => unknown } | null;
  /** The metrics recorder (null: metrics off). */
  recorder: MetricsRecorder | null = null;
  /** The global meter provider the recorder is on (metrics follow the global one). */
  private meterGlobal: unknown = undefined;

  constructor(private readonly service: string, private readonly environment: string, tracerProvider?: unknown,
              private readonly meterProvider?: unknown) {
    this.base = { "aigw.service": service, "aigw.environment": environment };
    if (api && meterProvider) this.recorder = this.recorderOn(meterProvider as MeterProvider);
    const provider = (tracerProvider ?? api?.trace.getTracerProvider()) as
      { getTracer(name: string, version?: string): Tracer } | undefined;
    this.tracer = api && provider ? provider.getTracer("aigw.client") : null;
    this.proxy = tracerProvider === undefined && provider ? provider as { getDelegate?: () => unknown } : null;
  }

  /** True while the global provider is the no-op one (no SDK registered): spans would be no-ops. */
  private noGlobal(): boolean {
    const delegate = this.proxy?.getDelegate?.();
    return delegate !== undefined && (delegate as object).constructor?.name === "NoopTracerProvider";
  }

  /** A recorder on `provider` (null when its meter cannot be had: metrics never stop a client). */
  private recorderOn(provider: MeterProvider): MetricsRecorder | null {
    try {
      const meter = provider.getMeter("aigw.client", undefined,
                                      { schemaUrl: `https://opentelemetry.io/schemas/${SEMCONV}` });
      return new MetricsRecorder(meter, this.service, this.environment);
    } catch {
      return null;
    }
  }

  /** The recorder, following the global meter provider when none was given (null: off). */
  private metrics(): MetricsRecorder | null {
    if (api === null || this.meterProvider) return this.recorder;
    const provider = api.metrics.getMeterProvider();
    if (provider !== this.meterGlobal) {
      this.meterGlobal = provider;
      this.recorder?.drain();
      this.recorder = isNoop(provider) ? null : this.recorderOn(provider);
    }
    return this.recorder;
  }

  start(alias: string, operation: string): CallSpan {
    const metrics = this.metrics();
    if (this.tracer === null || this.noGlobal()) {
      return metrics === null ? NO_SPAN : new CallSpan(null, metrics, alias, operation);
    }
    const span = this.tracer.startSpan(`${operation} ${alias}`, {
      kind: api!.SpanKind.CLIENT,
      attributes: { ...this.base, "aigw.alias": alias, "gen_ai.operation.name": operation },
    });
    return span.isRecording() || metrics !== null
      ? new CallSpan(span.isRecording() ? span : null, metrics, alias, operation) : NO_SPAN;
  }

  /** Record the queued metrics now. */
  flush(): void {
    this.recorder?.flush();
  }
}
