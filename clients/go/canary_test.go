package aigw_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	aigw "github.com/aigw-dev/aigw/clients/go"
)

// No key value reaches an error, a log line or a span: canary keys go through
// failover, a rejected key, a rotation and a dead route, and every error text,
// every log line (debug level) and every span attribute and event is searched.
func TestCanaryKeysNeverLeak(t *testing.T) {
	const oldKey, newKey = "sk-CANARY-old-7f3a", "sk-CANARY-new-91bc"
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	dir := t.TempDir()
	p1, p2 := newFake(t, "p1"), newFake(t, "p2", oldKey) // p1 refuses every key
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	writeKey(t, dir, p1, oldKey)
	writeKey(t, dir, p2, oldKey)
	deadRoute := route(p1, "openai", "dead-model", 0, 5, 30)
	deadRoute["provider"], deadRoute["base_url"] = "dead", "http://"+dead+"/v1"
	path := writeConfig(t, dir, "r1", map[string]any{
		"chat": map[string]any{"family": "openai", "routes": []any{
			route(p1, "openai", "p1-model", 0, 5, 30), route(p2, "openai", "p2-model", 0, 5, 30)}},
		"down": map[string]any{"family": "openai", "routes": []any{deadRoute}}})
	c, err := aigw.FromFile(path, aigw.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	oai := openaiClient(c)
	var texts []string
	if _, err := chat(context.Background(), oai, "chat"); err != nil {
		t.Fatal(err) // p1 401 (re-read: same key), p2 ok
	}
	writeKey(t, dir, p2, newKey) // rotated on disk; p2 now refuses both keys
	p2.set("status:401")
	if _, err := chat(context.Background(), oai, "chat"); err != nil {
		texts = append(texts, err.Error(), fmt.Sprintf("%+v", err))
	} else {
		t.Fatal("every route refuses: the call must fail")
	}
	_, err = chat(context.Background(), oai, "down")
	if err == nil {
		t.Fatal("a dead route must fail")
	}
	texts = append(texts, err.Error(), fmt.Sprintf("%#v", err))
	texts = append(texts, logs.String())
	for _, s := range spans.Ended() {
		texts = append(texts, s.Name(), fmt.Sprint(s.Attributes()))
		for _, ev := range s.Events() {
			texts = append(texts, fmt.Sprint(ev.Attributes))
		}
	}
	if len(spans.Ended()) != 3 {
		t.Fatalf("%d spans, want one per call (3)", len(spans.Ended()))
	}
	all := strings.Join(texts, "\n")
	for _, k := range []string{oldKey, newKey, "CANARY"} {
		if strings.Contains(all, k) {
			t.Fatalf("a key value leaked:\n%s", all)
		}
	}
	// The span of the first call says what happened, with the Python client's names.
	first := fmt.Sprint(spans.Ended()[0].Attributes())
	for _, want := range []string{"aigw.alias", "aigw.outcome", "aigw.config.revision", "gen_ai.request.model"} {
		if !strings.Contains(first, want) {
			t.Fatalf("span attributes %s lack %s", first, want)
		}
	}
	if !strings.Contains(logs.String(), aigw.Fingerprint(newKey)) {
		t.Fatal("the log names a rotated key by its fingerprint")
	}
	_ = openai.ChatCompletion{}
}
