package aigw

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// BenchmarkMetricsRecorder is the recording goroutine's own work per call (off
// the request path): parse a chat answer's usage, record the duration and the
// two token histograms through the OTel SDK, sum the classes and the cost, and
// add the sums every 64 calls (a drained batch). benchmarks/go_overhead.sh
// prints it beside the request path's numbers.
func BenchmarkMetricsRecorder(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	r, err := newMetricsRecorder(mp, "bench", "test", 16)
	if err != nil {
		b.Fatal(err)
	}
	defer r.stop()
	rt := &Route{Provider: "p1", API: "openai", BaseURL: "https://p1.example/v1", Model: "m",
		Slot: "default", Price: priceFromJSON(obj{"currency": "USD",
			"per_million": obj{"input": "2.50", "output": "10"}})}
	it := metricsItem{alias: "chat", operation: "chat", outcome: "ok", seconds: 0.2,
		rs: newRouteState(rt, 0, nil, true),
		body: []byte(`{"id":"c1","object":"chat.completion","created":1,"model":"m",` +
			`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],` +
			`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.one(it)
		if i%64 == 63 {
			r.addSums()
		}
	}
	r.addSums()
}
