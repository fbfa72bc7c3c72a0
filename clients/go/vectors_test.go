package aigw

// The conformance vectors (spec/vectors/*.json; tests/client/vectors before the
// spec moved them): every vector is run against the Transport with a fake
// upstream RoundTripper that checks each request it gets, and what the caller
// saw is written to $AIGW_RESULTS_DIR/go.results.json in the spec's results
// format, for CI to compare with the other runners' byte for byte.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

func vectorsDir(t *testing.T) string {
	if d := os.Getenv("AIGW_VECTORS_DIR"); d != "" {
		return d
	}
	for _, d := range []string{"../../spec/vectors", "../../tests/client/vectors"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	t.Fatal("no vectors: neither spec/vectors nor tests/client/vectors")
	return ""
}

type vecClock struct{ now float64 }

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timed out" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// upstream plays the providers: each request must match the next expected step.
type upstream struct {
	t            *testing.T
	keyDir, root string
	filesChanged func()
	steps        []map[string]any
	where        string
}

func (u *upstream) RoundTrip(req *http.Request) (*http.Response, error) {
	t := u.t
	if len(u.steps) == 0 {
		t.Errorf("%s: unexpected upstream request %s", u.where, req.URL)
		return nil, errors.New("unexpected request")
	}
	step := u.steps[0]
	u.steps = u.steps[1:]
	expect, _ := step["expect"].(map[string]any)
	where := fmt.Sprintf("%s: upstream %v", u.where, expect["url"])
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	if m, ok := expect["method"].(string); ok && req.Method != m {
		t.Errorf("%s: method %s, want %s", where, req.Method, m)
	}
	if want, ok := expect["url"].(string); ok && req.URL.String() != want {
		t.Errorf("%s: url %s, want %s", where, req.URL.String(), want)
	}
	for name, v := range asMap(expect["headers"]) {
		if got := req.Header.Get(name); got != v {
			t.Errorf("%s: header %s = %q, want %q", where, name, redact(got), v)
		}
	}
	for name, v := range asMap(expect["header_prefixes"]) {
		if got := req.Header.Get(name); !strings.HasPrefix(got, v.(string)) {
			t.Errorf("%s: header %s = %q, want prefix %q", where, name, redact(got), v)
		}
	}
	if absent, ok := expect["absent_headers"].([]any); ok {
		for _, name := range absent {
			if _, has := req.Header[http.CanonicalHeaderKey(name.(string))]; has {
				t.Errorf("%s: header %s must not be sent", where, name)
			}
		}
	}
	if want, ok := expect["body"]; ok {
		var got any
		if err := json.Unmarshal(body, &got); err != nil || !jsonEqual(got, want) {
			t.Errorf("%s: body %s, want %s", where, body, mustJSON(want))
		}
	}
	if want, ok := expect["content"].(string); ok && string(body) != want {
		t.Errorf("%s: content %q, want %q", where, body, want)
	}
	for name, text := range asMap(step["then_write_keys"]) {
		if err := os.WriteFile(filepath.Join(u.keyDir, name), []byte(text.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if files, ok := step["then_write_files"].(map[string]any); ok {
		writeFiles(t, u.root, files)
		u.filesChanged()
	}
	switch step["fail"] {
	case "connect":
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	case "timeout":
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}
	}
	return respond(req, step), nil
}

// respond builds the step's answer: a JSON body, or raw bytes for streams.
func respond(req *http.Request, step map[string]any) *http.Response {
	answer, ok := step["respond"].(map[string]any)
	if !ok {
		answer = map[string]any{"status": json.Number("200"), "body": map[string]any{}}
	}
	status := 200
	if n, ok := answer["status"].(json.Number); ok {
		i, _ := n.Int64()
		status = int(i)
	}
	h := http.Header{}
	for k, v := range asMap(answer["headers"]) {
		h.Set(k, v.(string))
	}
	var data []byte
	switch {
	case answer["chunks"] != nil:
		var chunks [][]byte
		for _, c := range answer["chunks"].([]any) {
			chunks = append(chunks, []byte(c.(string)))
		}
		return &http.Response{StatusCode: status, Header: h, Request: req,
			Body: &chunked{chunks: chunks}, ContentLength: -1}
	case answer["text"] != nil:
		data = []byte(answer["text"].(string))
	default:
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		b := answer["body"]
		if b == nil {
			b = map[string]any{}
		}
		data = mustJSON(b)
	}
	return &http.Response{StatusCode: status, Header: h, Request: req,
		Body: io.NopCloser(bytes.NewReader(data)), ContentLength: int64(len(data))}
}

// chunked is a response body sent in the vector's pieces, one per Read.
type chunked struct{ chunks [][]byte }

func (c *chunked) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

func (c *chunked) Close() error { return nil }

// writeFiles writes (or, for null, deletes) files relative to root, each by rename.
func writeFiles(t *testing.T, root string, files map[string]any) {
	for name, text := range files {
		path := filepath.Join(root, name)
		if text == nil {
			_ = os.Remove(path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".tmp", []byte(text.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func redact(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}

func jsonEqual(a, b any) bool {
	na, nb := normJSON(a), normJSON(b)
	return string(na) == string(nb)
}

func normJSON(v any) []byte {
	var x any
	_ = json.Unmarshal(mustJSON(v), &x)
	return mustJSON(x)
}

func decodeNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

func TestVectors(t *testing.T) {
	dir := vectorsDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no vectors in %s", dir)
	}
	results := map[string]any{}
	for _, path := range files {
		id := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(id, func(t *testing.T) {
			entry := runVector(t, path)
			if !t.Failed() { // a vector that failed is absent from the results
				results[id] = entry
			}
		})
	}
	out := os.Getenv("AIGW_RESULTS_DIR")
	if out == "" {
		out = os.Getenv("AIGW_SPEC_RESULTS")
	}
	if out == "" {
		if _, err := os.Stat("../../spec"); err == nil {
			out = "../../spec/results"
		}
	}
	if out != "" {
		doc := map[string]any{"format": "aigw-conformance-results/1", "runner": "go",
			"vectors": results}
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, "go.results.json"), resultsJSON(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
