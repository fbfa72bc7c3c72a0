package aigw_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
)

// eventFrame is one AWS event-stream frame carrying a Messages stream event, as
// Bedrock's invoke-with-response-stream sends it.
func eventFrame(event string) []byte {
	header := func(name, value string) []byte {
		b := []byte{byte(len(name))}
		b = append(b, name...)
		b = append(b, 7, byte(len(value)>>8), byte(len(value)))
		return append(b, value...)
	}
	headers := append(append(header(":message-type", "event"), header(":event-type", "chunk")...),
		header(":content-type", "application/json")...)
	payload := []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(event)) + `"}`)
	total := 12 + len(headers) + len(payload) + 4
	out := make([]byte, 12, total)
	binary.BigEndian.PutUint32(out, uint32(total))
	binary.BigEndian.PutUint32(out[4:], uint32(len(headers)))
	binary.BigEndian.PutUint32(out[8:], crc32.ChecksumIEEE(out[:8]))
	out = append(append(out, headers...), payload...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out))
}

// A stand-in of Bedrock runtime (InvokeModel and its stream) on 127.0.0.1: the
// anthropic SDK reads its event-stream re-framed as SSE, and a SigV4 route signs.
func TestBedrockThroughTheAnthropicSDK(t *testing.T) {
	var mu sync.Mutex
	var auths, paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths, paths = append(auths, r.Header.Get("Authorization")), append(paths, r.URL.EscapedPath())
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/invoke-with-response-stream") {
			w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
			for _, ev := range anthropicEvents("bedrock", "claude-on-bedrock") {
				data := strings.TrimSpace(strings.SplitN(ev, "data: ", 2)[1])
				w.Write(eventFrame(data))
				w.(http.Flusher).Flush()
				slow("slow") // each frame on its own: the converter runs past the first event
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"m1","type":"message","role":"assistant","model":"claude-on-bedrock",` +
			`"content":[{"type":"text","text":"hi from bedrock"}],"stop_reason":"end_turn",` +
			`"usage":{"input_tokens":3,"output_tokens":4}}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	os.MkdirAll(keys, 0o700)
	os.WriteFile(filepath.Join(keys, "br.default.key"), []byte("[default]\naws_access_key_id = AKIDTEST\n"+
		"aws_secret_access_key = secret-test\n"), 0o600)
	os.WriteFile(filepath.Join(keys, "bk.default.key"), []byte("bedrock-api-key\n"), 0o600)
	r := func(provider, api string) map[string]any {
		return map[string]any{"provider": provider, "api": api, "base_url": srv.URL,
			"aws_region": "eu-central-1", "model": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
			"slot": "default", "key_file": provider + ".default.key", "timeout": 5, "retries": 0,
			"cooldown": 30, "extra": map[string]any{}}
	}
	path := writeConfig(t, dir, "r1", map[string]any{
		"iam": map[string]any{"family": "anthropic", "routes": []any{r("br", "bedrock")}},
		"key": map[string]any{"family": "anthropic", "routes": []any{r("bk", "bedrock-api-key")}}})
	c, reader := metricsClient(t, path)
	ant := anthropicClient(c)
	params := anthropic.MessageNewParams{Model: "iam", MaxTokens: 16,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	msg, err := ant.Messages.New(context.Background(), params)
	if err != nil || msg.Content[0].Text != "hi from bedrock" {
		t.Fatalf("%v %+v", err, msg)
	}
	params.Model = "key"
	stream := ant.Messages.NewStreaming(context.Background(), params)
	var text strings.Builder
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "content_block_delta" {
			text.WriteString(ev.Delta.Text)
		}
	}
	if err := stream.Err(); err != nil || text.String() != "hi from bedrock" {
		t.Fatalf("streamed %q (%v)", text.String(), err)
	}
	if !strings.HasPrefix(auths[0], "AWS4-HMAC-SHA256 Credential=AKIDTEST/") ||
		auths[1] != "Bearer bedrock-api-key" {
		t.Fatalf("auth headers %q", auths)
	}
	if paths[1] != "/model/eu.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke-with-response-stream" {
		t.Fatalf("paths %q", paths)
	}
	// Metrics: the answer's and the re-framed stream's usage, provider aws.bedrock.
	got, _ := collect(t, c, reader)
	sums := map[string]float64{}
	for _, p := range got["aigw.client.token.usage"] {
		if !strings.Contains(p.attrs, "gen_ai.provider.name=aws.bedrock") {
			t.Fatalf("attributes %s", p.attrs)
		}
		alias := strings.Fields(p.attrs)[0]
		_, kind, _ := strings.Cut(p.attrs, "aigw.token.type=")
		kind, _, _ = strings.Cut(kind, " ")
		sums[alias+" "+kind] += p.sum
	}
	if fmt.Sprint(sums) != "map[aigw.alias=iam input:3 aigw.alias=iam output:4 aigw.alias=key input:3 aigw.alias=key output:4]" {
		t.Fatalf("token classes %v", sums)
	}
}
