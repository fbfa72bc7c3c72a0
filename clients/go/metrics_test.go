package aigw_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	aigw "github.com/aigw-dev/aigw/clients/go"
)

// The metrics of spec/metrics.md, read with the OTel SDK's ManualReader, over
// real SDK calls to a stand-in provider on 127.0.0.1 (the one faked part).

type point struct {
	attrs string // "k=v k=v", sorted
	count uint64 // histogram: records
	sum   float64
}

func metricsClient(t *testing.T, path string) (*aigw.Client, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, err := aigw.FromFile(path, aigw.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, reader
}

// collect is name -> points, after the client's queue is drained.
func collect(t *testing.T, c *aigw.Client, reader *sdkmetric.ManualReader) (map[string][]point, string) {
	t.Helper()
	if !c.FlushMetrics(5 * time.Second) {
		t.Fatal("metrics not recorded in 5 s")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != "aigw.client" || sm.Scope.SchemaURL != "https://opentelemetry.io/schemas/1.44.0" {
			t.Fatalf("scope %+v", sm.Scope)
		}
		for _, m := range sm.Metrics {
			add := func(attrs fmt.Stringer, count uint64, sum float64) {
				out[m.Name] = append(out[m.Name], point{attrs.String(), count, sum})
			}
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(attrString(p.Attributes.ToSlice()), p.Count, p.Sum)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					add(attrString(p.Attributes.ToSlice()), p.Count, float64(p.Sum))
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(attrString(p.Attributes.ToSlice()), 0, float64(p.Value))
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					add(attrString(p.Attributes.ToSlice()), 0, p.Value)
				}
			}
		}
	}
	for _, ps := range out {
		sort.Slice(ps, func(i, j int) bool { return ps[i].attrs < ps[j].attrs })
	}
	return out, fmt.Sprintf("%+v", rm)
}

type stringer string

func (s stringer) String() string { return string(s) }

func attrString(kvs []attribute.KeyValue) stringer {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = string(kv.Key) + "=" + kv.Value.String()
	}
	return stringer(strings.Join(parts, " "))
}

func one(t *testing.T, got map[string][]point, name string) point {
	t.Helper()
	if len(got[name]) != 1 {
		t.Fatalf("%s: %d points, want 1: %+v", name, len(got[name]), got[name])
	}
	return got[name][0]
}

const canaryKey = "sk-CANARY-metrics-5e1d"

// A chat call that fails over from p1 (503) to p2, twice: duration, the
// conventions' input/output totals, the billed classes and the cost at p2's
// price, with the attributes of the route that answered; no key value anywhere.
func TestMetricsChatFailoverCost(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := newFake(t, "p1", canaryKey), newFake(t, "p2", canaryKey)
	p1.set("status:503")
	writeKey(t, dir, p1, canaryKey)
	writeKey(t, dir, p2, canaryKey)
	r2 := route(p2, "openai", "p2-model", 0, 5, 30)
	r2["price"] = map[string]any{"currency": "USD", "as_of": "2026-11-01",
		"per_million": map[string]any{"input": "2.50", "output": "10"}}
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 5, 30), r2}}})
	c, reader := metricsClient(t, path)
	oai := openaiClient(c)
	for i := 0; i < 2; i++ {
		if _, err := chat(context.Background(), oai, "chat"); err != nil {
			t.Fatal(err)
		}
	}
	got, dump := collect(t, c, reader)
	base := "aigw.alias=chat aigw.environment=test aigw.provider=p2 aigw.route=1 aigw.service=go-test " +
		"aigw.slot=default gen_ai.operation.name=chat gen_ai.provider.name=p2 gen_ai.request.model=p2-model"
	d := one(t, got, "gen_ai.client.operation.duration")
	if d.attrs != base+" server.address=127.0.0.1" || d.count != 2 || d.sum <= 0 {
		t.Fatalf("duration %+v", d)
	}
	tok := got["gen_ai.client.token.usage"]
	model := base + " gen_ai.response.model=p2-model gen_ai.token.type="
	if len(tok) != 2 || tok[0].attrs != model+"input server.address=127.0.0.1" || tok[0].count != 2 ||
		tok[0].sum != 6 || tok[1].attrs != model+"output server.address=127.0.0.1" || tok[1].sum != 8 {
		t.Fatalf("token usage %+v", tok)
	}
	cls := got["aigw.client.token.usage"]
	if len(cls) != 2 || !strings.Contains(cls[0].attrs, "aigw.token.type=input") || cls[0].sum != 6 ||
		!strings.Contains(cls[1].attrs, "aigw.token.type=output") || cls[1].sum != 8 {
		t.Fatalf("token classes %+v", cls)
	}
	cost := one(t, got, "aigw.client.cost")
	if !strings.HasPrefix(cost.attrs, "aigw.alias=chat aigw.currency=USD ") ||
		math.Abs(cost.sum-0.000095) > 1e-12 { // 2 x (3 x 2.50 + 4 x 10) / 1e6
		t.Fatalf("cost %+v", cost)
	}
	if strings.Contains(dump, "CANARY") || strings.Contains(dump, canaryKey) {
		t.Fatal("a key value reached a metric")
	}
}

// Streams are counted at their end from their usage events: Anthropic's
// message_start + message_delta, OpenAI's last chunk only with include_usage.
// A route without a price records no cost.
func TestMetricsStreams(t *testing.T) {
	dir := t.TempDir()
	a, o := newFake(t, "a1", "sk-a"), newFake(t, "o1", "sk-o")
	a.set("slow") // each event arrives on its own, after the first one
	o.set("slow")
	writeKey(t, dir, a, "sk-a")
	writeKey(t, dir, o, "sk-o")
	path := writeConfig(t, dir, "r1", map[string]any{
		"claude": map[string]any{"family": "anthropic", "routes": []any{route(a, "anthropic", "a-model", 0, 5, 30)}},
		"chat":   map[string]any{"family": "openai", "routes": []any{route(o, "openai", "o-model", 0, 5, 30)}}})
	c, reader := metricsClient(t, path)
	ant := anthropicClient(c)
	s := ant.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{Model: "claude",
		MaxTokens: 16, Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	oai := openaiClient(c)
	params := openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	for _, usage := range []bool{false, true} {
		if usage {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		st := oai.Chat.Completions.NewStreaming(context.Background(), params)
		for st.Next() {
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := collect(t, c, reader)
	dur := got["gen_ai.client.operation.duration"]
	if len(dur) != 2 || dur[0].count != 2 || !strings.HasPrefix(dur[0].attrs, "aigw.alias=chat") ||
		dur[1].count != 1 || !strings.Contains(dur[1].attrs, "gen_ai.provider.name=anthropic") {
		t.Fatalf("durations (chat twice, claude once) %+v", dur)
	}
	tok := got["gen_ai.client.token.usage"]
	want := map[string]float64{}
	for _, p := range tok {
		alias := strings.Fields(p.attrs)[0]
		_, kind, _ := strings.Cut(p.attrs, "gen_ai.token.type=")
		kind, _, _ = strings.Cut(kind, " ")
		want[alias+" "+kind] += p.sum
		if p.count != 1 {
			t.Fatalf("one stream per alias carries usage: %+v", p)
		}
	}
	if fmt.Sprint(want) != "map[aigw.alias=chat input:3 aigw.alias=chat output:4 aigw.alias=claude input:3 aigw.alias=claude output:4]" {
		t.Fatalf("stream token usage %v", want)
	}
	if len(got["aigw.client.cost"]) != 0 {
		t.Fatalf("no price, no cost: %+v", got["aigw.client.cost"])
	}
}

// A call that failed on every route has no route attributes, and error.type.
func TestMetricsAllRoutesFailed(t *testing.T) {
	dir := t.TempDir()
	p := newFake(t, "p1", "sk-1")
	p.set("status:503")
	writeKey(t, dir, p, "sk-1")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p, "openai", "m", 0, 5, 30)}}})
	c, reader := metricsClient(t, path)
	if _, err := chat(context.Background(), openaiClient(c), "chat"); err == nil {
		t.Fatal("the only route fails: the call must fail")
	}
	got, _ := collect(t, c, reader)
	d := one(t, got, "gen_ai.client.operation.duration")
	if d.attrs != "aigw.alias=chat aigw.environment=test aigw.service=go-test "+
		"error.type=all_routes_failed gen_ai.operation.name=chat" || d.count != 1 {
		t.Fatalf("duration %+v", d)
	}
	if len(got["gen_ai.client.token.usage"])+len(got["aigw.client.token.usage"]) != 0 {
		t.Fatalf("no tokens for a failed call: %+v", got)
	}
}

// A new price reaches the cost with the config revision that brings it (the
// route's state is rebuilt); before it, the route is unpriced: no cost.
func TestMetricsPriceFollowsConfig(t *testing.T) {
	dir := t.TempDir()
	p := newFake(t, "p1", "sk-1")
	writeKey(t, dir, p, "sk-1")
	r := route(p, "openai", "m", 0, 5, 30)
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{r}}})
	c, reader := metricsClient(t, path)
	oai := openaiClient(c)
	if _, err := chat(context.Background(), oai, "chat"); err != nil {
		t.Fatal(err)
	}
	if got, _ := collect(t, c, reader); len(got["aigw.client.cost"]) != 0 {
		t.Fatalf("no price, no cost: %+v", got["aigw.client.cost"])
	}
	r["price"] = map[string]any{"currency": "EUR", "as_of": "2026-12-01",
		"per_million": map[string]any{"input": "1", "output": "2"}}
	writeConfig(t, dir, "r2", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{r}}})
	for end := time.Now().Add(5 * time.Second); c.Revision() != "r2"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the new config was not picked up in 5 s")
		}
		_, _ = chat(context.Background(), oai, "chat") // (a call polls the file too)
	}
	before, _ := collect(t, c, reader)
	if _, err := chat(context.Background(), oai, "chat"); err != nil {
		t.Fatal(err)
	}
	got, _ := collect(t, c, reader)
	cost := one(t, got, "aigw.client.cost")
	prior := 0.0 // (calls served by r2 while the loop waited for it)
	for _, p := range before["aigw.client.cost"] {
		prior += p.sum
	}
	if !strings.Contains(cost.attrs, "aigw.currency=EUR") ||
		math.Abs(cost.sum-prior-0.000011) > 1e-12 { // (3 x 1 + 4 x 2) / 1e6
		t.Fatalf("cost %+v (before the last call: %+v)", cost, before["aigw.client.cost"])
	}
}

// With no MeterProvider option, the client follows otel's global one: no metrics
// before otel.SetMeterProvider, metrics from the next call after it. (Run in a
// child process: the global provider is the process's.)
func TestMetricsGlobalMeterProvider(t *testing.T) {
	if os.Getenv("AIGW_GLOBAL_METER_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMetricsGlobalMeterProvider$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AIGW_GLOBAL_METER_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	dir := t.TempDir()
	p := newFake(t, "p1", "sk-1")
	writeKey(t, dir, p, "sk-1")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p, "openai", "m", 0, 5, 30)}}})
	c := newClient(t, path, nil)
	oai := openaiClient(c)
	if _, err := chat(context.Background(), oai, "chat"); err != nil { // no provider yet
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if _, err := chat(context.Background(), oai, "chat"); err != nil {
		t.Fatal(err)
	}
	got, _ := collect(t, c, reader)
	if d := one(t, got, "gen_ai.client.operation.duration"); d.count != 1 {
		t.Fatalf("one call after the provider was set: %+v", d)
	}
}

// A stream that drops mid-way is timed with error.type interrupted and still
// counts the usage its events brought (Anthropic's message_start).
func TestMetricsInterruptedStream(t *testing.T) {
	dir := t.TempDir()
	a := newFake(t, "a1", "sk-a")
	a.set("cut")
	writeKey(t, dir, a, "sk-a")
	path := writeConfig(t, dir, "r1", map[string]any{"claude": map[string]any{"family": "anthropic",
		"routes": []any{route(a, "anthropic", "a-model", 0, 5, 30)}}})
	c, reader := metricsClient(t, path)
	ant := anthropicClient(c)
	s := ant.Messages.NewStreaming(context.Background(), anthropic.MessageNewParams{
		Model: "claude", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	for s.Next() {
	}
	if s.Err() == nil {
		t.Fatal("the stream dropped: the SDK must say so")
	}
	got, _ := collect(t, c, reader)
	if d := one(t, got, "gen_ai.client.operation.duration"); !strings.Contains(d.attrs, "error.type=interrupted") {
		t.Fatalf("duration %+v", d)
	}
	tok := got["gen_ai.client.token.usage"]
	if len(tok) != 2 || tok[0].sum != 3 || tok[1].sum != 0 {
		t.Fatalf("token usage from message_start %+v", tok)
	}
}
