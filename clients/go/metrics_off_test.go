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
