package aigw_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	aigw "github.com/aigw-dev/aigw/clients/go"
)

// What the transport adds inside an official SDK call: openai-go over a fake
// transport (no network; a fixed chat completion), bare against with aigw
// underneath, in one run (benchmarks/go_overhead.sh prints the table).

var completion = []byte(`{"id":"c1","object":"chat.completion","created":1,"model":"m",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)

type fixedAnswer struct{}

func (fixedAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1,
		ProtoMinor: 1, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(completion)), ContentLength: int64(len(completion)),
		Request: req}, nil
}

func benchParams() openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("You are terse."), openai.UserMessage("Say hi in one word.")}}
}

func benchClient(b *testing.B) *aigw.Client { return benchClientWith(b, aigw.Options{}) }

// benchClientWith is benchClient with opts (its Base is the fixed answer); the
// route is priced, so metrics on includes the cost.
func benchClientWith(b *testing.B, opts aigw.Options) *aigw.Client {
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	os.WriteFile(filepath.Join(dir, "keys", "p1.default.key"), []byte("sk-bench\n"), 0o600)
	cfg := `{"version": 1, "service": "bench", "environment": "test", "key_dir": "keys",
	  "aliases": {"chat": {"family": "openai", "routes": [{"provider": "p1", "api": "openai",
	  "base_url": "https://p1.example/v1", "model": "route-model", "slot": "default",
	  "key_file": "p1.default.key", "timeout": 30, "retries": 0, "cooldown": 30, "extra": {},
	  "price": {"currency": "USD", "as_of": "2026-11-01", "per_million": {"input": "2.50", "output": "10"}}}]}}}`
	path := filepath.Join(dir, "aigw-client.json")
	os.WriteFile(path, []byte(cfg), 0o600)
	opts.Base = fixedAnswer{}
	c, err := aigw.FromFile(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func BenchmarkOverhead(b *testing.B) {
	params := benchParams()
	ctx := context.Background()
	b.Run("openai-go-bare", func(b *testing.B) {
		oai := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: fixedAnswer{}}),
			option.WithBaseURL("https://p1.example/v1/"), option.WithAPIKey("sk-bench"),
			option.WithMaxRetries(0))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := oai.Chat.Completions.New(ctx, params); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("openai-go-aigw", func(b *testing.B) {
		oai := openaiClient(benchClient(b))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := oai.Chat.Completions.New(ctx, params); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transport-only", func(b *testing.B) {
		t := benchClient(b).Transport(aigw.OpenAI)
		body := []byte(`{"model":"chat","messages":[{"role":"system","content":"You are terse."},` +
			`{"role":"user","content":"Say hi in one word."}]}`)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			req, _ := http.NewRequest(http.MethodPost, "http://aigw.invalid/chat/completions",
				bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := t.RoundTrip(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// BenchmarkOverheadPaired alternates a bare openai-go call, one over aigw without
// a meter provider and one over aigw with metrics on (an OTel SDK MeterProvider
// with a ManualReader: the instruments aggregate, nothing exports), call by
// call in rotating order, so all three see the same machine. It reports the
// median of each and the medians of the paired differences: what aigw adds,
// and what metrics add on top.
func BenchmarkOverheadPaired(b *testing.B) {
	params := benchParams()
	ctx := context.Background()
	bare := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: fixedAnswer{}}),
		option.WithBaseURL("https://p1.example/v1/"), option.WithAPIKey("sk-bench"),
		option.WithMaxRetries(0))
	off := openaiClient(benchClient(b))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	metered := benchClientWith(b, aigw.Options{MeterProvider: mp})
	on := openaiClient(metered)
	call := func(c openai.Client) float64 {
		t0 := time.Now()
		if _, err := c.Chat.Completions.New(ctx, params); err != nil {
			b.Fatal(err)
		}
		return float64(time.Since(t0))
	}
	for i := 0; i < 200; i++ { // warm all three
		call(bare)
		call(off)
		call(on)
	}
	n := b.N
	bares, offs, ons := make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
	added, metricsAdded := make([]float64, 0, n), make([]float64, 0, n)
	b.ResetTimer()
	for i := 0; i < n; i++ {
		var x, y, z float64
		switch i % 3 {
		case 0:
			x, y, z = call(bare), call(off), call(on)
		case 1:
			y, z, x = call(off), call(on), call(bare)
		default:
			z, x, y = call(on), call(bare), call(off)
		}
		bares, offs, ons = append(bares, x), append(offs, y), append(ons, z)
		added, metricsAdded = append(added, y-x), append(metricsAdded, z-y)
	}
	b.StopTimer()
	if !metered.FlushMetrics(10 * time.Second) {
		b.Fatal("metrics not recorded")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil || len(rm.ScopeMetrics) == 0 {
		b.Fatalf("no metrics collected (%v)", err)
	}
	b.ReportMetric(median(bares), "bare-ns/call")
	b.ReportMetric(median(offs), "aigw-ns/call")
	b.ReportMetric(median(added), "added-ns/call")
	b.ReportMetric(median(ons), "metrics-ns/call")
	b.ReportMetric(median(metricsAdded), "metrics-added-ns/call")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
