package aigw

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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
	global               bool // the tracer is otel's global one (it follows SetTracerProvider)
}

// unset is otel's global provider before any SetTracerProvider: spans would be
// no-ops, so the client skips them entirely (GetTracerProvider returns the
// provider set later, never this one).
var unset = otel.GetTracerProvider()

func newTelemetry(service, env string, tp trace.TracerProvider) *telemetry {
	t := &telemetry{service: service, environment: env, global: tp == nil}
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	t.tracer = tp.Tracer(tracerName)
	return t
}

type callSpan struct {
	ctx      context.Context
	span     trace.Span // nil when not recording
	attempts int
	revision string
	mu       sync.Mutex
}

func (t *telemetry) start(ctx context.Context, alias, operation, revision string) *callSpan {
	cs := &callSpan{ctx: ctx, revision: revision}
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

// finish sets the final attributes and ends the span (once).
func (cs *callSpan) finish(rs *routeState, outcome string, response map[string]any) {
	if cs.span == nil {
		return
	}
	cs.mu.Lock()
	span := cs.span
	cs.span = nil
	n := cs.attempts
	cs.mu.Unlock()
	if span == nil {
		return
	}
	attrs := []attribute.KeyValue{attribute.Int("aigw.attempt", n),
		attribute.String("aigw.outcome", outcome),
		attribute.String("aigw.config.revision", cs.revision)}
	if rs != nil {
		r := rs.route
		attrs = append(attrs, attribute.String("gen_ai.system", r.Provider),
			attribute.String("gen_ai.provider.name", r.Provider),
			attribute.String("gen_ai.request.model", r.Model),
			attribute.String("aigw.slot", r.Slot), attribute.String("server.address", rs.host))
	}
	if m, ok := response["model"].(string); ok {
		attrs = append(attrs, attribute.String("gen_ai.response.model", m))
	}
	if usage, ok := response["usage"].(map[string]any); ok {
		for src, dst := range map[string]string{"prompt_tokens": "gen_ai.usage.input_tokens",
			"completion_tokens": "gen_ai.usage.output_tokens"} {
			if v, ok := usage[src].(float64); ok && v == float64(int64(v)) {
				attrs = append(attrs, attribute.Int64(dst, int64(v)))
			}
		}
	}
	span.SetAttributes(attrs...)
	if outcome != "ok" && outcome != "closed" {
		span.SetStatus(codes.Error, outcome)
	}
	span.End()
}

// decided ends the span of a call answered by rs, unless a stream still runs.
func (cs *callSpan) decided(rs *routeState, resp *http.Response) {
	if cs.span == nil {
		return
	}
	if _, isStream := resp.Body.(*replay); isStream {
		return // the stream's end finishes the span
	}
	var usage map[string]any
	if data, err := io.ReadAll(resp.Body); err == nil {
		resp.Body = io.NopCloser(bytes.NewReader(data))
		_ = json.Unmarshal(data, &usage)
	}
	cs.finish(rs, "ok", usage)
}

// streamEnd is what a started stream calls when it ends, once.
func (cs *callSpan) streamEnd(rs *routeState) func(string) {
	if cs.span == nil {
		return nil
	}
	return func(outcome string) { cs.finish(rs, outcome, nil) }
}
