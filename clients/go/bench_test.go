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

func benchClient(b *testing.B) *aigw.Client {
	dir := b.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o700)
	os.WriteFile(filepath.Join(dir, "keys", "p1.default.key"), []byte("sk-bench\n"), 0o600)
	cfg := `{"version": 1, "service": "bench", "environment": "test", "key_dir": "keys",
	  "aliases": {"chat": {"family": "openai", "routes": [{"provider": "p1", "api": "openai",
	  "base_url": "https://p1.example/v1", "model": "route-model", "slot": "default",
	  "key_file": "p1.default.key", "timeout": 30, "retries": 0, "cooldown": 30, "extra": {}}]}}}`
	path := filepath.Join(dir, "aigw-client.json")
	os.WriteFile(path, []byte(cfg), 0o600)
	c, err := aigw.FromFile(path, aigw.Options{Base: fixedAnswer{}})
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

// BenchmarkOverheadPaired alternates a bare openai-go call and one over aigw, call
// by call, so both see the same machine; it reports the median of each and the
// median of the pairwise differences (what aigw adds per call).
func BenchmarkOverheadPaired(b *testing.B) {
	params := benchParams()
	ctx := context.Background()
	bare := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: fixedAnswer{}}),
		option.WithBaseURL("https://p1.example/v1/"), option.WithAPIKey("sk-bench"),
		option.WithMaxRetries(0))
	over := openaiClient(benchClient(b))
	call := func(c openai.Client) time.Duration {
		t0 := time.Now()
		if _, err := c.Chat.Completions.New(ctx, params); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	for i := 0; i < 200; i++ { // warm both
		call(bare)
		call(over)
	}
	bares, overs, diffs := make([]float64, 0, b.N), make([]float64, 0, b.N), make([]float64, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var x, y time.Duration
		if i%2 == 0 {
			x, y = call(bare), call(over)
		} else {
			y, x = call(over), call(bare)
		}
		bares, overs = append(bares, float64(x)), append(overs, float64(y))
		diffs = append(diffs, float64(y-x))
	}
	b.ReportMetric(median(bares), "bare-ns/call")
	b.ReportMetric(median(overs), "aigw-ns/call")
	b.ReportMetric(median(diffs), "added-ns/call")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
