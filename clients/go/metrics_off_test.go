package aigw

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

type answerJSON struct{}

func (answerJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	body := `{"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader([]byte(body))), Request: r}, nil
}

// Without a meter provider (none given, otel's global one never set: no test in
// this package sets it) a call starts no recorder, queues nothing, runs no goroutine.
func TestNoMeterProviderNoMetricsWork(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "k.key"), []byte("sk-x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ConfigFromBytes([]byte(`{"version":1,"service":"s","environment":"e","key_dir":".",
		"aliases":{"chat":{"family":"openai","routes":[{"provider":"p","api":"openai",
		"base_url":"https://p.example/v1","model":"m","slot":"default","key_file":"k.key",
		"timeout":5,"retries":0,"cooldown":1,"extra":{}}]}}}`), filepath.Join(dir, "aigw-client.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, Options{Base: answerJSON{}, NoFollow: true, NoWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := http.NewRequest("POST", SDKBaseURL+"chat/completions",
		bytes.NewReader([]byte(`{"model":"chat","messages":[]}`)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Transport(OpenAI).RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if c.telemetry.rec.Load() != nil {
		t.Fatal("no meter provider: no recorder")
	}
}

// server.address is the route's host, absent for Bedrock's regional default (a
// route written without base_url), as in spec/metrics.md.
func TestMetricsServerAddress(t *testing.T) {
	r := &metricsRecorder{service: "s", environment: "e"}
	has := func(rt *Route) bool {
		for _, kv := range r.baseAttrs(baseKey{"a", "chat", newRouteState(rt, 0, nil, true)}) {
			if kv.Key == "server.address" {
				return true
			}
		}
		return false
	}
	if has(&Route{API: "bedrock", AWSRegion: "us-east-1", BaseURL: BedrockBaseURL("us-east-1")}) {
		t.Fatal("Bedrock's regional default has no server.address")
	}
	if !has(&Route{API: "bedrock", AWSRegion: "us-east-1", BaseURL: "https://vpce.example"}) ||
		!has(&Route{API: "openai", BaseURL: "https://api.openai.com/v1"}) {
		t.Fatal("a route's own base_url gives server.address")
	}
}
