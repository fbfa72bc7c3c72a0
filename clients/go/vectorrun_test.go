package aigw

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// runVector runs one vector file and returns its results entry ({"calls": [...]}).
func runVector(t *testing.T, path string) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vector map[string]any
	if err := decodeNumbers(data, &vector); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tmp := t.TempDir()
	keyDir := filepath.Join(tmp, "keys")
	if err := os.Mkdir(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, text := range asMap(vector["keys"]) {
		if err := os.WriteFile(filepath.Join(keyDir, name), []byte(text.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	raw := map[string]any{"version": json.Number("1"), "service": "vectors",
		"environment": "test", "key_dir": keyDir}
	for k, v := range asMap(vector["config"]) {
		raw[k] = v
	}
	cfg, err := ParseConfig(raw, tmp)
	if err != nil {
		t.Fatalf("%s: config: %v", path, err)
	}
	up := &upstream{t: t, keyDir: keyDir}
	clock := &vecClock{now: 1000}
	client, err := New(cfg, Options{Base: up, Clock: func() float64 { return clock.now },
		NoWatch: true, NoFollow: true, KeyCheckInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	calls := []any{}
	name := filepath.Base(path)
	for i, c := range vector["calls"].([]any) {
		cl := c.(map[string]any)
		up.where = fmt.Sprintf("%s call %d", name, i+1)
		up.steps = nil
		for _, s := range cl["upstream"].([]any) {
			up.steps = append(up.steps, s.(map[string]any))
		}
		if adv, ok := cl["advance"].(json.Number); ok {
			f, _ := adv.Float64()
			clock.now += f
		}
		calls = append(calls, runCall(t, client, up, asMap(cl["request"]), asMap(cl["expect"])))
		if len(up.steps) > 0 {
			t.Errorf("%s: %d upstream requests not made", up.where, len(up.steps))
		}
	}
	return map[string]any{"calls": calls}
}

func runCall(t *testing.T, client *Client, up *upstream, r, want map[string]any) map[string]any {
	method, _ := r["method"].(string)
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	if b, ok := r["body"]; ok && b != nil {
		body = bytes.NewReader(mustJSON(b))
	}
	req, err := http.NewRequest(method, "http://aigw.invalid"+r["path"].(string), body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range asMap(r["headers"]) {
		req.Header.Set(k, v.(string))
	}
	via, _ := r["via"].(string)
	resp, err := client.Transport(via).RoundTrip(req)
	out := map[string]any{"status": nil, "raises": nil, "served": nil}
	var attempts []Attempt
	if err != nil {
		var failed *AllRoutesFailedError
		kind := "error"
		if errors.As(err, &failed) {
			kind = "connect_error"
			if failed.Timeout() {
				kind = "timeout"
			}
		}
		out["raises"] = kind
		attempts = AttemptsOf(err)
		if w, ok := want["raises"]; ok && w != kind {
			t.Errorf("%s: raised %s, want %v", up.where, kind, w)
		} else if !ok {
			t.Errorf("%s: raised %v", up.where, err)
		}
	} else {
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out["status"] = resp.StatusCode
		attempts = AttemptsOf(resp)
		if w, ok := want["status"].(json.Number); ok && w.String() != fmt.Sprint(resp.StatusCode) {
			t.Errorf("%s: status %d, want %s (%s)", up.where, resp.StatusCode, w, text)
		}
		if _, ok := want["raises"]; ok {
			t.Errorf("%s: answered %d, want it to raise %v", up.where, resp.StatusCode, want["raises"])
		}
		if wb, ok := want["body"]; ok {
			var got any
			if json.Unmarshal(text, &got) != nil || !jsonEqual(got, wb) {
				t.Errorf("%s: body %s, want %s", up.where, text, mustJSON(wb))
			}
		}
		if list, ok := want["error_contains"].([]any); ok {
			for _, s := range list {
				if !strings.Contains(string(text), s.(string)) {
					t.Errorf("%s: answer %s lacks %q", up.where, text, s)
				}
			}
		}
	}
	pairs := []any{}
	for _, a := range attempts {
		pairs = append(pairs, []any{a.Provider, a.Outcome})
	}
	if n := len(attempts); n > 0 && attempts[n-1].Outcome == "ok" {
		out["served"] = attempts[n-1].Provider + "/" + attempts[n-1].Slot
	}
	out["attempts"] = pairs
	if w, ok := want["attempts"]; ok && !jsonEqual(pairs, w) {
		t.Errorf("%s: attempts %s, want %s", up.where, mustJSON(pairs), mustJSON(w))
	}
	return out
}

// resultsJSON serializes as Python's json.dumps(obj, indent=2, sort_keys=True) + "\n":
// sorted keys, 2-space indent, non-ASCII as \uXXXX.
func resultsJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	var out bytes.Buffer
	for b := buf.Bytes(); len(b) > 0; {
		r, n := utf8.DecodeRune(b)
		switch {
		case r < 0x80:
			out.WriteByte(b[0])
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&out, "\\u%04x\\u%04x", 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&out, "\\u%04x", r)
		}
		b = b[n:]
	}
	return out.Bytes()
}
