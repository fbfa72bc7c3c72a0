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

// runVector plays one vector file as spec/README.md#vectors says and returns its
// results entry ({"calls": [...]}, plus "acks" when the vector has them).
func runVector(t *testing.T, path string) map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vector map[string]any
	if err := decodeNumbers(data, &vector); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	root := t.TempDir()
	config := map[string]any{"version": json.Number("1"), "service": "vectors",
		"environment": "test", "key_dir": "keys"}
	for k, v := range asMap(vector["config"]) {
		config[k] = v
	}
	configPath := "aigw-client.json"
	if p, ok := vector["config_path"].(string); ok {
		configPath = p
	}
	configPath = filepath.Join(root, configPath)
	writeFiles(t, root, asMap(vector["files"]))
	keyDir := filepath.Join(filepath.Dir(configPath), config["key_dir"].(string))
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, text := range asMap(vector["keys"]) {
		if err := os.WriteFile(filepath.Join(keyDir, name), []byte(text.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(configPath, mustJSON(config), 0o600); err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(path)
	up := &upstream{t: t, keyDir: keyDir, root: root}
	clock := &vecClock{now: 1000}
	var draws []float64
	if list, ok := vector["random"].([]any); ok {
		for _, n := range list {
			f, _ := n.(json.Number).Float64()
			draws = append(draws, f)
		}
	}
	acks := newAcks("vectors", "")
	client, err := FromFile(configPath, Options{Base: up, Clock: func() float64 { return clock.now },
		NoWatch: true, KeyCheckInterval: time.Hour, ConfigCheckInterval: time.Hour, acks: acks,
		Rand: func() float64 {
			if len(draws) == 0 {
				t.Errorf("%s: the client drew more numbers than `random` has", name)
				return 0
			}
			r := draws[0]
			draws = draws[1:]
			return r
		}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer client.Close()
	filesChanged := func() {
		for _, kf := range client.keyFiles {
			kf.markDirty()
		}
	}
	up.filesChanged = filesChanged
	calls := []any{}
	for i, c := range vector["calls"].([]any) {
		cl := c.(map[string]any)
		up.where = fmt.Sprintf("%s call %d", name, i+1)
		up.steps = nil
		for _, s := range asList(cl["upstream"]) {
			up.steps = append(up.steps, s.(map[string]any))
		}
		if adv, ok := cl["advance"].(json.Number); ok {
			f, _ := adv.Float64()
			clock.now += f
		}
		if files, ok := cl["files"].(map[string]any); ok {
			writeFiles(t, root, files)
			filesChanged()
		}
		reload := cl["reload_config"] == true
		if reload {
			client.ReloadConfig()
		}
		result := runCall(t, client, up, asMap(cl["request"]), asMap(cl["expect"]))
		if len(up.steps) > 0 {
			t.Errorf("%s: %d upstream requests not made", up.where, len(up.steps))
		}
		if reload {
			st := client.ConfigStatus()
			result["revision"], result["rejected"] = st.Revision, st.Rejected
			want := asMap(cl["expect"])
			if w, ok := want["revision"]; ok && w != st.Revision {
				t.Errorf("%s: revision %q, want %v", up.where, st.Revision, w)
			}
			if w, ok := want["rejected"].(json.Number); ok && w.String() != itoa(st.Rejected) {
				t.Errorf("%s: rejected %d, want %s (%s)", up.where, st.Rejected, w, st.Rejection)
			}
		}
		calls = append(calls, result)
	}
	entry := map[string]any{"calls": calls}
	if want, ok := vector["acks"]; ok {
		filesChanged()
		got := settle(acks)
		entry["acks"] = got
		if !jsonEqual(got, want) {
			t.Errorf("%s: acks %s, want %s", name, mustJSON(got), mustJSON(want))
		}
	}
	return entry
}

// settle does the acknowledgement goroutine's work now: what the client would
// acknowledge, per "<provider>/<slot>" it can call.
func settle(a *ackRecorder) map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drain()
	a.poll(time.Now())
	out := map[string]any{}
	for k, st := range a.state {
		entry := map[string]any{"loaded": nil, "used": nil}
		if st[1] != "" {
			entry["loaded"] = st[1]
		}
		if st[0] != "" {
			entry["used"] = st[0]
		}
		out[k.provider+"/"+k.slot] = entry
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func runCall(t *testing.T, client *Client, up *upstream, r, want map[string]any) map[string]any {
	method, _ := r["method"].(string)
	if method == "" {
		method = http.MethodPost
	}
	var body io.Reader
	jsonBody := false
	if c, ok := r["content"].(string); ok {
		body = strings.NewReader(c)
	} else if b, ok := r["body"]; ok && b != nil {
		body, jsonBody = bytes.NewReader(mustJSON(b)), true
	}
	req, err := http.NewRequest(method, "http://aigw.invalid"+r["path"].(string), body)
	if err != nil {
		t.Fatal(err)
	}
	if jsonBody {
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
		if w := want["raises"]; w != kind {
			t.Errorf("%s: raised %s (%v), want %v", up.where, kind, err, w)
		}
	} else {
		text, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out["status"] = resp.StatusCode
		attempts = AttemptsOf(resp)
		if w, ok := want["status"].(json.Number); ok && w.String() != fmt.Sprint(resp.StatusCode) {
			t.Errorf("%s: status %d, want %s (%s)", up.where, resp.StatusCode, w, text)
		}
		if want["raises"] != nil {
			t.Errorf("%s: answered %d, want it to raise %v", up.where, resp.StatusCode, want["raises"])
		}
		if wb, ok := want["body"]; ok {
			var got any
			if json.Unmarshal(text, &got) != nil || !jsonEqual(got, wb) {
				t.Errorf("%s: body %s, want %s", up.where, text, mustJSON(wb))
			}
		}
		if w, ok := want["stream"].(string); ok && w != string(text) {
			t.Errorf("%s: stream %q, want %q", up.where, text, w)
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
	status, _ := out["status"].(int)
	if n := len(attempts); n > 0 && attempts[n-1].Outcome == "ok" && status >= 200 && status < 300 {
		out["served"] = attempts[n-1].Provider + "/" + attempts[n-1].Slot
	}
	out["attempts"] = pairs
	if w, ok := want["served"]; ok && w != out["served"] {
		t.Errorf("%s: served %v, want %v", up.where, out["served"], w)
	}
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
