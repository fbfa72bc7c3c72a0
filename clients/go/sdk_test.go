package aigw_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	aigw "github.com/aigw-dev/aigw/clients/go"
)

// openaiClient is openai-go over aigw, as docs/client-go.md shows it.
func openaiClient(c *aigw.Client) openai.Client {
	return openai.NewClient(option.WithHTTPClient(c.HTTPClient(aigw.OpenAI)),
		option.WithBaseURL(aigw.SDKBaseURL), option.WithAPIKey(aigw.PlaceholderKey),
		option.WithMaxRetries(0))
}

func anthropicClient(c *aigw.Client) anthropic.Client {
	return anthropic.NewClient(aopt.WithHTTPClient(c.HTTPClient(aigw.Anthropic)),
		aopt.WithBaseURL(aigw.SDKBaseURL), aopt.WithAPIKey(aigw.PlaceholderKey),
		aopt.WithMaxRetries(0))
}

type attemptLog struct {
	mu   sync.Mutex
	list []aigw.Attempt
}

func (l *attemptLog) add(a aigw.Attempt) { l.mu.Lock(); l.list = append(l.list, a); l.mu.Unlock() }

func (l *attemptLog) pairs() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, a := range l.list {
		out = append(out, a.Provider+":"+a.Outcome)
	}
	return out
}

func chat(ctx context.Context, oai openai.Client, alias string) (*openai.ChatCompletion, error) {
	return oai.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: alias,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
}

func newClient(t *testing.T, path string, log *attemptLog) *aigw.Client {
	t.Helper()
	opts := aigw.Options{}
	if log != nil {
		opts.OnAttempt = log.add
	}
	c, err := aigw.FromFile(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestOpenAIFallback(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := newFake(t, "p1", "sk-p1"), newFake(t, "p2", "sk-p2")
	p1.set("status:503")
	writeKey(t, dir, p1, "sk-p1")
	writeKey(t, dir, p2, "sk-p2")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 5, 30), route(p2, "openai", "p2-model", 0, 5, 30)}}})
	var log attemptLog
	oai := openaiClient(newClient(t, path, &log))
	resp, err := chat(context.Background(), oai, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "hi from p2" || resp.Model != "p2-model" {
		t.Fatalf("answer %q from model %q", resp.Choices[0].Message.Content, resp.Model)
	}
	if got := strings.Join(log.pairs(), " "); got != "p1:http_503 p2:ok" {
		t.Fatalf("attempts %s", got)
	}
	if c := p2.calls(); c[0].Key != "sk-p2" || c[0].Model != "p2-model" {
		t.Fatalf("p2 got %+v", c[0])
	}
	// The SDK's own error for an unknown alias (404 in the family's shape).
	_, err = chat(context.Background(), oai, "nope")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("unknown alias: %v", err)
	}
}

func TestOpenAIStreamFailsOverBeforeFirstEvent(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := newFake(t, "p1", "sk-p1"), newFake(t, "p2", "sk-p2")
	p1.set("stream-error")
	writeKey(t, dir, p1, "sk-p1")
	writeKey(t, dir, p2, "sk-p2")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 5, 30), route(p2, "openai", "p2-model", 0, 5, 30)}}})
	var log attemptLog
	oai := openaiClient(newClient(t, path, &log))
	stream := oai.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	var text strings.Builder
	for stream.Next() {
		if ch := stream.Current().Choices; len(ch) > 0 {
			text.WriteString(ch[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != "hello from p2" {
		t.Fatalf("streamed %q", text.String())
	}
	if got := strings.Join(log.pairs(), " "); got != "p1:bad_response p2:ok" {
		t.Fatalf("attempts %s", got)
	}
}

func TestOpenAIMultipartTranscription(t *testing.T) {
	dir := t.TempDir()
	p1 := newFake(t, "p1", "sk-p1")
	writeKey(t, dir, p1, "sk-p1")
	path := writeConfig(t, dir, "r1", map[string]any{"stt": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "whisper-route", 0, 5, 30)}}})
	oai := openaiClient(newClient(t, path, nil))
	tr, err := oai.Audio.Transcriptions.New(context.Background(), openai.AudioTranscriptionNewParams{
		File: openai.File(bytes.NewReader([]byte("RIFF....WAVE")), "a.wav", "audio/wav"), Model: "stt"})
	if err != nil {
		t.Fatal(err)
	}
	got := p1.calls()[0]
	if tr.Text != "heard by p1" || got.Model != "whisper-route" || got.Path != "/v1/audio/transcriptions" ||
		!strings.HasPrefix(got.ContentType, "multipart/form-data") {
		t.Fatalf("transcription %q, upstream saw %+v", tr.Text, got)
	}
}

func TestAnthropicFallbackAndStream(t *testing.T) {
	dir := t.TempDir()
	a1, a2 := newFake(t, "a1", "sk-a1"), newFake(t, "a2", "sk-a2")
	a1.set("status:529")
	writeKey(t, dir, a1, "sk-a1")
	writeKey(t, dir, a2, "sk-a2")
	path := writeConfig(t, dir, "r1", map[string]any{"claude": map[string]any{"family": "anthropic",
		"routes": []any{route(a1, "anthropic", "a1-model", 0, 5, 30), route(a2, "anthropic", "a2-model", 0, 5, 30)}}})
	var log attemptLog
	ant := anthropicClient(newClient(t, path, &log))
	params := anthropic.MessageNewParams{Model: "claude", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	msg, err := ant.Messages.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Content[0].Text != "hi from a2" || string(msg.Model) != "a2-model" {
		t.Fatalf("message %+v", msg)
	}
	stream := ant.Messages.NewStreaming(context.Background(), params)
	var text strings.Builder
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "content_block_delta" {
			text.WriteString(ev.Delta.Text)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if text.String() != "hi from a2" {
		t.Fatalf("streamed %q", text.String())
	}
	if c := a2.calls(); c[0].Key != "sk-a2" {
		t.Fatalf("a2 got key %q", c[0].Key)
	}
	// a1 cools down after its 529: the stream went to a2 at once.
	if got := strings.Join(log.pairs(), " "); got != "a1:http_529 a2:ok a2:ok" {
		t.Fatalf("attempts %s", got)
	}
}

func TestHungPrimaryCostsOneTimeoutThenCoolsDown(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := newFake(t, "p1", "sk-p1"), newFake(t, "p2", "sk-p2")
	p1.set("hang")
	writeKey(t, dir, p1, "sk-p1")
	writeKey(t, dir, p2, "sk-p2")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 0.3, 30), route(p2, "openai", "p2-model", 0, 5, 30)}}})
	var log attemptLog
	oai := openaiClient(newClient(t, path, &log))
	for i := 0; i < 5; i++ {
		if _, err := chat(context.Background(), oai, "chat"); err != nil {
			t.Fatal(err)
		}
	}
	want := "p1:timeout p2:ok p2:ok p2:ok p2:ok p2:ok"
	if got := strings.Join(log.pairs(), " "); got != want {
		t.Fatalf("attempts %s, want %s", got, want)
	}
	if n := len(p1.calls()); n != 1 {
		t.Fatalf("the hung primary got %d calls during its cooldown, want 1", n)
	}
}

// load calls alias from workers goroutines until stop closes; it returns the
// number of calls and of failed calls.
func load(oai openai.Client, alias string, workers int, stop chan struct{}) func() (int64, int64, []error) {
	var calls, failed atomic.Int64
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				if _, err := chat(context.Background(), oai, alias); err != nil {
					failed.Add(1)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	return func() (int64, int64, []error) { wg.Wait(); return calls.Load(), failed.Load(), errs }
}

func TestKeyRotatedOnDiskMidLoad(t *testing.T) {
	dir := t.TempDir()
	p1 := newFake(t, "p1", "sk-old")
	writeKey(t, dir, p1, "sk-old")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 5, 30)}}})
	oai := openaiClient(newClient(t, path, nil))
	stop := make(chan struct{})
	wait := load(oai, "chat", 4, stop)
	time.Sleep(200 * time.Millisecond)
	p1.set("", "sk-old", "sk-new") // promote: both valid
	writeKey(t, dir, p1, "sk-new")
	time.Sleep(300 * time.Millisecond)
	p1.set("", "sk-new") // finish: the old key is revoked
	time.Sleep(300 * time.Millisecond)
	close(stop)
	calls, failed, errs := wait()
	if failed != 0 || calls < 10 {
		t.Fatalf("%d of %d calls failed: %v", failed, calls, errs)
	}
	last := p1.calls()
	if last[len(last)-1].Key != "sk-new" {
		t.Fatal("the new key is not in use")
	}
}

func TestConfigSwappedOnDiskMidLoad(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := newFake(t, "p1", "sk-p1"), newFake(t, "p2", "sk-p2")
	writeKey(t, dir, p1, "sk-p1")
	writeKey(t, dir, p2, "sk-p2")
	path := writeConfig(t, dir, "r1", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p1, "openai", "p1-model", 0, 5, 30)}}})
	c := newClient(t, path, nil)
	oai := openaiClient(c)
	stop := make(chan struct{})
	wait := load(oai, "chat", 4, stop)
	time.Sleep(200 * time.Millisecond)
	writeConfig(t, dir, "r2", map[string]any{"chat": map[string]any{"family": "openai",
		"routes": []any{route(p2, "openai", "p2-model", 0, 5, 30)}}})
	deadline := time.Now().Add(30 * time.Second) // generous: a loaded machine is slow, not broken
	for c.Revision() != "r2" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := len(p2.calls())
	time.Sleep(200 * time.Millisecond)
	close(stop)
	calls, failed, errs := wait()
	if failed != 0 || c.Revision() != "r2" || c.ConfigStatus().Reloads != 1 {
		t.Fatalf("%d of %d calls failed (%v); revision %q, status %+v", failed, calls, errs,
			c.Revision(), c.ConfigStatus())
	}
	if len(p2.calls()) <= before {
		t.Fatal("no call reached the new route after the swap")
	}
	// A broken file is rejected; the old config keeps serving.
	replaceFile(t, path, `{"version": 1, "service": "go-test", "environ`)
	st := c.ReloadConfig()
	if st.Revision != "r2" || st.Rejected != 1 || !strings.Contains(st.Rejection, "not valid JSON") {
		t.Fatalf("status after a broken file: %+v", st)
	}
	if _, err := chat(context.Background(), oai, "chat"); err != nil {
		t.Fatal(err)
	}
	_ = slog.Default()
}
