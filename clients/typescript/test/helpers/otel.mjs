// A minimal in-memory OpenTelemetry tracer provider and an AsyncLocalStorage
// context manager over @opentelemetry/api (the SDK packages are not dependencies):
// enough to see which spans were made, their attributes and their parents.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";

class ContextManager {
  als = new AsyncLocalStorage();
  active() { return this.als.getStore() ?? ROOT_CONTEXT; }
  with(ctx, fn, thisArg, ...args) { return this.als.run(ctx, () => fn.call(thisArg, ...args)); }
  bind(_ctx, target) { return target; }
  enable() { return this; }
  disable() { this.als.disable(); return this; }
}

class Span {
  constructor(name, options, parent, sink) {
    this.name = name;
    this.attributes = { ...(options?.attributes ?? {}) };
    this.events = [];
    this.status = null;
    this.ended = false;
    this.parent = parent ? parent.spanContext().spanId : null;
    this.ctx = { traceId: parent ? parent.spanContext().traceId : randomBytes(16).toString("hex"),
                 spanId: randomBytes(8).toString("hex"), traceFlags: 1 };
    sink.push(this);
  }
  spanContext() { return this.ctx; }
  setAttribute(k, v) { this.attributes[k] = v; return this; }
  setAttributes(a) { Object.assign(this.attributes, a); return this; }
  addEvent(name, attrs) { this.events.push({ name, attrs }); return this; }
  addLink() { return this; }
  addLinks() { return this; }
  setStatus(s) { this.status = s; return this; }
  updateName(n) { this.name = n; return this; }
  recordException(e) { this.events.push({ name: "exception", attrs: { message: String(e?.message ?? e) } }); }
  end() { this.ended = true; }
  isRecording() { return !this.ended; }
}

export function installTracing() {
  const spans = [];
  const tracer = {
    startSpan(name, options, ctx = context.active()) { return new Span(name, options, trace.getSpan(ctx), spans); },
    startActiveSpan(name, ...args) {
      const fn = args.pop();
      const span = this.startSpan(name, args[0]);
      return context.with(trace.setSpan(context.active(), span), fn, undefined, span);
    },
  };
  context.setGlobalContextManager(new ContextManager());
  trace.setGlobalTracerProvider({ getTracer: () => tracer });
  return spans;
}
