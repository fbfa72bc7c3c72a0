/**
 * OpenTelemetry spans, one per call, when `@opentelemetry/api` is installed and a
 * tracer provider is set. Attributes are the Python client's: `gen_ai.*` plus
 * `aigw.service`, `aigw.environment`, `aigw.alias`, `aigw.attempt`, `aigw.outcome`,
 * `aigw.slot`, `aigw.config.revision`; one `aigw.attempt` event per attempt.
 *
 * Nesting: the span starts in the active context, so when the SDK's own span is
 * active around its fetch (as the Anthropic SDK's is), aigw's span is its child.
 */
import type { Attempt } from "./errors.js";
import { optional } from "./optional.js";
import type { RouteState } from "./router.js";

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
  SpanKind: { CLIENT: number };
  SpanStatusCode: { ERROR: number };
}

const api = optional<OtelApi>("@opentelemetry/api");

/** One call's span (possibly several attempts); a no-op when tracing is off. */
export class CallSpan {
  attempts = 0;
  revision = "";
  constructor(private span: Span | null) {}

  get recording(): boolean {
    return this.span !== null;
  }

  attempt(a: Attempt): void {
    if (this.span === null) return;
    this.attempts++;
    this.span.addEvent("aigw.attempt", {
      "gen_ai.provider.name": a.provider, "aigw.slot": a.slot, "aigw.route": a.route,
      "aigw.outcome": a.outcome, "aigw.latency_ms": Math.round(a.latency * 1e6) / 1000,
    });
  }

  /** Set the final attributes and end the span (once). */
  finish(route: RouteState | null, outcome: string, response?: unknown): void {
    const span = this.span;
    this.span = null;
    if (span === null) return;
    const attrs: Record<string, unknown> = {
      "aigw.attempt": this.attempts, "aigw.outcome": outcome, "aigw.config.revision": this.revision,
    };
    if (route) {
      const r = route.route;
      Object.assign(attrs, { "gen_ai.system": r.provider, "gen_ai.provider.name": r.provider,
                             "gen_ai.request.model": r.model, "aigw.slot": r.slot,
                             "server.address": route.host });
    }
    if (response && typeof response === "object") {
      const res = response as Record<string, unknown>;
      if (typeof res["model"] === "string") attrs["gen_ai.response.model"] = res["model"];
      const usage = res["usage"] as Record<string, unknown> | undefined;
      if (usage && typeof usage === "object") {
        for (const [src, dst] of [["prompt_tokens", "gen_ai.usage.input_tokens"],
                                  ["completion_tokens", "gen_ai.usage.output_tokens"],
                                  ["input_tokens", "gen_ai.usage.input_tokens"],
                                  ["output_tokens", "gen_ai.usage.output_tokens"]] as const) {
          if (Number.isInteger(usage[src])) attrs[dst] = usage[src];
        }
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

/** Starts `CallSpan`s on the given (or the global) tracer provider. */
export class Telemetry {
  private readonly base: Record<string, string>;
  private readonly tracer: Tracer | null;
  /** The global provider (a proxy), when no provider was given. */
  private readonly proxy: { getDelegate?: () => unknown } | null;

  constructor(service: string, environment: string, tracerProvider?: unknown) {
    this.base = { "aigw.service": service, "aigw.environment": environment };
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

  start(alias: string, operation: string): CallSpan {
    if (this.tracer === null || this.noGlobal()) return NO_SPAN;
    const span = this.tracer.startSpan(`${operation} ${alias}`, {
      kind: api!.SpanKind.CLIENT,
      attributes: { ...this.base, "aigw.alias": alias, "gen_ai.operation.name": operation },
    });
    return span.isRecording() ? new CallSpan(span) : NO_SPAN;
  }
}
