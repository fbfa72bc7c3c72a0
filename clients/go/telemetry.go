package aigw

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// One span per call, with the Python client's attribute names: gen_ai.* (the
// GenAI semantic conventions) plus aigw.service, aigw.environment, aigw.alias,
// aigw.attempt, aigw.outcome, aigw.slot, aigw.config.revision; one
// "aigw.attempt" event per attempt. Never a key value.

const tracerName = "aigw.client"

type telemetry struct {
	service, environment string
	tracer               trace.Tracer
	global               bool                 // the tracer is otel's global one (it follows SetTracerProvider)
	meters               metric.MeterProvider // given; nil: otel's global one once set
	mu                   sync.Mutex
	rec                  atomic.Pointer[metricsRecorder]
	noMetrics            atomic.Bool // the meter failed, or the client closed
}

// unset is otel's global provider before any SetTracerProvider: spans would be
// no-ops, so the client skips them entirely (GetTracerProvider returns the
// provider set later, never this one).
var unset = otel.GetTracerProvider()

func newTelemetry(service, env string, tp trace.TracerProvider, mp metric.MeterProvider) *telemetry {
	t := &telemetry{service: service, environment: env, global: tp == nil, meters: mp}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t.tracer = tp.Tracer(tracerName)
	return t
}

// metrics is the recorder, started on the first call that has a meter provider;
// nil (and no work) without one.
func (t *telemetry) metrics() *metricsRecorder {
	if r := t.rec.Load(); r != nil {
		return r
	}
	if t.noMetrics.Load() || t.meters == nil && otel.GetMeterProvider() == unsetMeters {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.rec.Load(); r != nil || t.noMetrics.Load() {
		return r
	}
	mp := t.meters
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	r, err := newMetricsRecorder(mp, t.service, t.environment, metricsQueueLen)
	if err != nil {
		t.noMetrics.Store(true)
		return nil
	}
	t.rec.Store(r)
	return r
}

// stop records the queued calls' metrics and ends the recorder's goroutine.
func (t *telemetry) stop() {
	t.mu.Lock()
	t.noMetrics.Store(true)
	r := t.rec.Load()
	t.mu.Unlock()
	if r != nil {
		r.stop()
	}
}

type callSpan struct {
	ctx       context.Context
	span      trace.Span // nil when not recording
	m         *metricsRecorder
	t0        time.Time
	alias, op string
	tap       *streamTap // a stream's usage events
	attempts  int
	revision  string
	mu        sync.Mutex
}

func (t *telemetry) start(ctx context.Context, alias, operation, revision string) *callSpan {
	cs := &callSpan{ctx: ctx, revision: revision}
	if m := t.metrics(); m != nil {
		cs.m, cs.t0, cs.alias, cs.op = m, time.Now(), alias, operation
	}
	if t.global && otel.GetTracerProvider() == unset {
		return cs // no tracer provider is set: no span work at all
	}
	ctx2, span := t.tracer.Start(ctx, operation+" "+alias, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(attribute.String("aigw.service", t.service),
			attribute.String("aigw.environment", t.environment),
			attribute.String("aigw.alias", alias),
			attribute.String("gen_ai.operation.name", operation))
		cs.ctx, cs.span = ctx2, span
	}
	return cs
}

func (cs *callSpan) attempt(a Attempt) {
	if cs.span == nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.attempts++
	cs.span.AddEvent("aigw.attempt", trace.WithAttributes(
		attribute.String("gen_ai.provider.name", a.Provider),
		attribute.String("aigw.slot", a.Slot),
		attribute.Int("aigw.route", a.Route),
		attribute.String("aigw.outcome", a.Outcome),
		attribute.Float64("aigw.latency_ms", float64(a.Latency.Microseconds())/1000)))
}

// finish queues the call's metrics, sets the span's final attributes and ends it
// (once). body: the JSON answer of a call that succeeded.
func (cs *callSpan) finish(rs *routeState, outcome string, body []byte) {
	if cs.span == nil && cs.m == nil {
		return
	}
	cs.mu.Lock()
	span, m := cs.span, cs.m
	cs.span, cs.m = nil, nil
	n := cs.attempts
	cs.mu.Unlock()
	var events [][]byte
	if cs.tap != nil {
		events = cs.tap.blocks
	}
	if m != nil {
		m.record(metricsItem{alias: cs.alias, operation: cs.op, outcome: outcome, rs: rs,
			seconds: time.Since(cs.t0).Seconds(), body: body, stream: cs.tap != nil, events: events})
	}
	if span == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.Int("aigw.attempt", n),
		attribute.String("aigw.outcome", outcome),
		attribute.String("aigw.config.revision", cs.revision)}
	if rs != nil {
		r := rs.route
		attrs = append(attrs, attribute.String("gen_ai.system", r.Provider),
			attribute.String("gen_ai.provider.name", providerName(r.API, rs.host, r.Provider)),
			attribute.String("aigw.provider", r.Provider), attribute.Int("aigw.route", rs.index),
			attribute.String("gen_ai.request.model", r.Model),
			attribute.String("aigw.slot", r.Slot), attribute.String("server.address", rs.host))
		family := OpenAI
		if rs.wire != nil {
			family = rs.wire.Family
		}
		var t tokens
		var model string
		var ok bool
		if cs.tap != nil {
			t, model, ok = usageFromEvents(events, family)
		} else {
			t, model, ok = usageFromBody(body, family)
		}
		if model != "" {
			attrs = append(attrs, attribute.String("gen_ai.response.model", model))
		}
		if ok {
			attrs = append(attrs, attribute.Int64("gen_ai.usage.input_tokens", t.inputTotal()),
				attribute.Int64("gen_ai.usage.output_tokens", t.outputTotal()))
			for i, name := range map[int]string{classCacheRead: "gen_ai.usage.cache_read.input_tokens",
				classCacheWrite: "gen_ai.usage.cache_creation.input_tokens",
				classReasoning:  "gen_ai.usage.reasoning.output_tokens"} {
				if t[i] != 0 {
					attrs = append(attrs, attribute.Int64(name, t[i]))
				}
			}
		}
	}
	span.SetAttributes(attrs...)
	if outcome != "ok" && outcome != "closed" {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}

// decided ends the span of a call answered by r, unless a stream still runs.
func (cs *callSpan) decided(rs *routeState, r result) {
	if cs.span == nil && cs.m == nil {
		return
	}
	if _, isStream := r.resp.Body.(*replay); isStream {
		return // the stream's end finishes the span
	}
	cs.finish(rs, "ok", r.body)
}

// streamEnd is what a started stream calls when it ends, once; tap is fed the
// bytes the caller reads (nil: neither spans nor metrics want them).
func (cs *callSpan) streamEnd(rs *routeState) (func(string), *streamTap) {
	if cs.span == nil && cs.m == nil {
		return nil, nil
	}
	cs.tap = &streamTap{}
	return func(outcome string) { cs.finish(rs, outcome, nil) }, cs.tap
}
