package aigw_test

// A local stand-in of an OpenAI-compatible (and Anthropic Messages) provider on
// 127.0.0.1, started and stopped by each test: it checks the key against the
// keys valid now, answers chat, messages, embeddings and transcriptions, can
// stream SSE, fail with a status or hang, and records what it got. Providers
// are the one thing the tests fake (the SDKs and HTTP are real).

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type seen struct {
	Path, Key, Model, ContentType string
}

type fakeProvider struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	keys map[string]bool
	mode string // "" ok, "status:503", "hang", "stream-error", "slow" (streams), "cut" (a stream drops)
	got  []seen
	hang chan struct{}
}

func newFake(t *testing.T, name string, keys ...string) *fakeProvider {
	f := &fakeProvider{name: name, keys: map[string]bool{}, hang: make(chan struct{})}
	for _, k := range keys {
		f.keys[k] = true
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.mu.Lock()
		select {
		case <-f.hang:
		default:
			close(f.hang)
		}
		f.mu.Unlock()
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeProvider) set(mode string, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = mode
	if keys != nil {
		f.keys = map[string]bool{}
		for _, k := range keys {
			f.keys[k] = true
		}
	}
}

func (f *fakeProvider) calls() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.got...)
}

func (f *fakeProvider) serve(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if key == "" {
		key = r.Header.Get("X-Api-Key")
	}
	body, _ := io.ReadAll(r.Body)
	s := seen{Path: r.URL.Path, Key: key, ContentType: r.Header.Get("Content-Type")}
	var req map[string]any
	stream := false
	if mt, params, _ := mime.ParseMediaType(s.ContentType); mt == "multipart/form-data" {
		mr := multipart.NewReader(strings.NewReader(string(body)), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if p.FormName() == "model" {
				v, _ := io.ReadAll(p)
				s.Model = string(v)
			}
		}
	} else if json.Unmarshal(body, &req) == nil {
		s.Model, _ = req["model"].(string)
		stream, _ = req["stream"].(bool)
	}
	f.mu.Lock()
	f.got = append(f.got, s)
	mode, ok := f.mode, f.keys[key]
	f.mu.Unlock()
	switch {
	case mode == "hang":
		select {
		case <-f.hang:
		case <-r.Context().Done():
		}
		return
	case strings.HasPrefix(mode, "status:"):
		code := 0
		fmt.Sscanf(mode, "status:%d", &code)
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"message":"%s says %d"}}`, f.name, code)
		return
	case !ok:
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"message":"invalid key"}}`)
		return
	}
	w.Header().Set("X-Provider", f.name)
	switch {
	case stream && mode == "stream-error":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"error\":{\"message\":\"overloaded\"}}\n\n")
	case stream && strings.HasSuffix(r.URL.Path, "/messages"):
		w.Header().Set("Content-Type", "text/event-stream")
		for i, ev := range anthropicEvents(f.name, s.Model) {
			if mode == "cut" && i == 3 {
				panic(http.ErrAbortHandler) // the connection drops mid-stream
			}
			fmt.Fprint(w, ev)
			w.(http.Flusher).Flush()
			slow(mode)
		}
	case stream:
		w.Header().Set("Content-Type", "text/event-stream")
		for _, word := range []string{"hello ", "from ", f.name} {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,"+
				"\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", s.Model, word)
			w.(http.Flusher).Flush()
			slow(mode)
		}
		if so, _ := req["stream_options"].(map[string]any); so["include_usage"] == true {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,"+
				"\"model\":%q,\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"+
				"\"total_tokens\":7}}\n\n", s.Model)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	case strings.HasSuffix(r.URL.Path, "/messages"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"m1","type":"message","role":"assistant","model":%q,`+
			`"content":[{"type":"text","text":"hi from %s"}],"stop_reason":"end_turn",`+
			`"usage":{"input_tokens":3,"output_tokens":4}}`, s.Model, f.name)
	case strings.HasSuffix(r.URL.Path, "/audio/transcriptions"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"text":"heard by %s"}`, f.name)
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":%q,`+
			`"choices":[{"index":0,"message":{"role":"assistant","content":"hi from %s"},`+
			`"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
			s.Model, f.name)
	}
}

// slow spaces a stream's events in mode "slow" (so each reaches the client on its own).
func slow(mode string) {
	if mode == "slow" {
		time.Sleep(15 * time.Millisecond)
	}
}

func anthropicEvents(name, model string) []string {
	ev := func(kind, data string) string { return "event: " + kind + "\ndata: " + data + "\n\n" }
	return []string{
		ev("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":"m1","type":"message",`+
			`"role":"assistant","model":%q,"content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":0}}}`, model)),
		ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`),
		ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi from %s"}}`, name)),
		ev("content_block_stop", `{"type":"content_block_stop","index":0}`),
		ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}`),
		ev("message_stop", `{"type":"message_stop"}`),
	}
}

// route is one route of a test config.
func route(f *fakeProvider, api, model string, retries int, timeout, cooldown float64) map[string]any {
	base := f.srv.URL + "/v1"
	if api == "anthropic" {
		base = f.srv.URL
	}
	return map[string]any{"provider": f.name, "api": api, "base_url": base, "model": model,
		"slot": "default", "key_file": f.name + ".default.key", "timeout": timeout,
		"retries": retries, "cooldown": cooldown, "extra": map[string]any{}}
}

// writeConfig writes aigw-client.json (and its keys folder) into dir; returns its path.
func writeConfig(t *testing.T, dir, revision string, aliases map[string]any) string {
	t.Helper()
	doc := map[string]any{"version": 1, "service": "go-test", "environment": "test",
		"key_dir": "keys", "revision": revision, "aliases": aliases}
	data, _ := json.MarshalIndent(doc, "", "  ")
	path := filepath.Join(dir, "aigw-client.json")
	replaceFile(t, path, string(data))
	return path
}

// replaceFile writes path by rename, as an agent does.
func replaceFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t *testing.T, dir string, f *fakeProvider, key string) {
	replaceFile(t, filepath.Join(dir, "keys", f.name+".default.key"), key+"\n")
}
