package aigw

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Cost = tokens x price, over the golden cases of the Python client's
// tests/client/test_cost.py, ported as the same literal decimals (worked by hand,
// not computed by the code under test), from the usage JSON each provider documents.

func price(currency string, kv ...string) *Price {
	p := &Price{Currency: currency, AsOf: "2026-11-01", PerMillion: map[string]*big.Rat{}}
	for i := 0; i < len(kv); i += 2 {
		r, _ := new(big.Rat).SetString(kv[i+1])
		p.PerMillion[kv[i]] = r
	}
	p.prepare()
	return p
}

var (
	gpt4o       = price("USD", "input", "2.50", "cache_read", "1.25", "output", "10.00")
	claudeP     = price("USD", "input", "3", "cache_read", "0.30", "cache_write", "3.75", "output", "15")
	o3          = price("USD", "input", "2", "cache_read", "0.50", "output", "8")
	apart       = price("USD", "input", "1", "output", "4", "reasoning", "2")
	deepseekCNY = price("CNY", "input", "2", "cache_read", "0.5", "output", "8")
	qwenCNY     = price("CNY", "input", "0.8", "output", "2")
	mistralEUR  = price("EUR", "input", "0.25", "output", "1.00")
	inputOnly   = price("USD", "input", "1")
)

func chatUsage(prompt, completion, cached, reasoning int) string {
	u := map[string]any{"prompt_tokens": prompt, "completion_tokens": completion,
		"total_tokens": prompt + completion}
	if cached != 0 {
		u["prompt_tokens_details"] = map[string]any{"cached_tokens": cached}
	}
	if reasoning != 0 {
		u["completion_tokens_details"] = map[string]any{"reasoning_tokens": reasoning}
	}
	b, _ := json.Marshal(u)
	return string(b)
}

func claudeUsage(i, o, read, write int) string {
	b, _ := json.Marshal(map[string]any{"input_tokens": i, "output_tokens": o,
		"cache_read_input_tokens": read, "cache_creation_input_tokens": write})
	return string(b)
}

var costCases = []struct {
	id, usage, family string
	price             *Price
	want, currency    string // want "": no cost
}{
	{"chat-plain", chatUsage(1000, 500, 0, 0), "openai", gpt4o, "0.0075", "USD"},
	{"chat-cached", chatUsage(1000, 500, 400, 0), "openai", gpt4o, "0.007", "USD"},
	{"chat-one-each", chatUsage(1, 1, 0, 0), "openai", gpt4o, "0.0000125", "USD"},
	{"chat-zero", chatUsage(0, 0, 0, 0), "openai", gpt4o, "0", "USD"},
	{"chat-large", chatUsage(128000, 16384, 0, 0), "openai", gpt4o, "0.48384", "USD"},
	{"chat-all-cached", chatUsage(7, 3, 7, 0), "openai", gpt4o, "0.00003875", "USD"},
	{"claude-all-classes", claudeUsage(100, 300, 2000, 500), "anthropic", claudeP, "0.007275", "USD"},
	{"claude-plain", claudeUsage(10, 20, 0, 0), "anthropic", claudeP, "0.00033", "USD"},
	{"claude-cache-write", claudeUsage(0, 1, 0, 10000), "anthropic", claudeP, "0.037515", "USD"},
	{"claude-cache-read", claudeUsage(5, 50, 100000, 0), "anthropic", claudeP, "0.030765", "USD"},
	{"claude-input-only", claudeUsage(1000, 0, 0, 0), "anthropic", claudeP, "0.003", "USD"},
	{"o3-reasoning-as-output", chatUsage(2000, 3000, 0, 2500), "openai", o3, "0.028", "USD"},
	{"o3-reasoning-cached", chatUsage(2000, 3000, 1000, 2500), "openai", o3, "0.0265", "USD"},
	{"responses-api", `{"input_tokens": 1500, "output_tokens": 700,
		"input_tokens_details": {"cached_tokens": 500},
		"output_tokens_details": {"reasoning_tokens": 200}}`, "openai", gpt4o, "0.010125", "USD"},
	{"reasoning-billed-apart", chatUsage(100, 300, 0, 200), "openai", apart, "0.0009", "USD"},
	{"deepseek-cny-cache-hit", `{"prompt_tokens": 1000, "completion_tokens": 200,
		"prompt_cache_hit_tokens": 600, "prompt_cache_miss_tokens": 400}`, "openai", deepseekCNY,
		"0.0027", "CNY"},
	{"deepseek-cny-small", chatUsage(3, 7, 0, 0), "openai", deepseekCNY, "0.000062", "CNY"},
	{"bailian-cny-million", chatUsage(1000000, 1000000, 0, 0), "openai", qwenCNY, "2.8", "CNY"},
	{"mistral-eur", chatUsage(400, 100, 0, 0), "openai", mistralEUR, "0.0002", "EUR"},
	{"mistral-eur-odd", chatUsage(1234567, 7654321, 0, 0), "openai", mistralEUR, "7.96296275", "EUR"},
	// No price for a class the call used: no cost, never a partial one.
	{"cache-read-unpriced", chatUsage(1000, 10, 100, 0), "openai", mistralEUR, "", "EUR"},
	{"cache-write-unpriced", claudeUsage(1, 1, 0, 5), "anthropic", gpt4o, "", "USD"},
	{"output-unpriced", chatUsage(10, 5, 0, 0), "openai", inputOnly, "", "USD"},
	{"reasoning-unpriced", chatUsage(10, 5, 0, 5), "openai", inputOnly, "", "USD"},
	{"no-price", chatUsage(10, 5, 0, 0), "openai", nil, "", ""},
}

func TestGoldenCost(t *testing.T) {
	if len(costCases) != 25 {
		t.Fatalf("%d cases; tests/client/test_cost.py has 25", len(costCases))
	}
	for _, c := range costCases {
		t.Run(c.id, func(t *testing.T) {
			toks, ok := tokensOf(simpleLookup(gjson.Parse(c.usage)), c.family)
			if !ok {
				t.Fatal("no tokens read")
			}
			got, ok := cost(toks, c.price)
			if c.want == "" {
				if _, exact := costScaled(toks, c.price); ok || exact {
					t.Fatalf("cost %v, want none", got)
				}
				return
			}
			want, _ := new(big.Rat).SetString(c.want)
			if !ok || got.Cmp(want) != 0 {
				t.Fatalf("cost %v (%v), want %s", got, ok, c.want)
			}
			if c.price.Currency != c.currency {
				t.Fatalf("currency %s", c.price.Currency)
			}
			// The metrics goroutine's integer form gives the same exact value.
			num, exact := costScaled(toks, c.price)
			if !exact || new(big.Rat).SetFrac64(num, c.price.denom).Cmp(want) != 0 {
				t.Fatalf("scaled cost %d/%d (%v), want %s", num, c.price.denom, exact, c.want)
			}
		})
	}
}

func TestPriceFromClientJSON(t *testing.T) {
	var doc any
	d := json.NewDecoder(strings.NewReader(`{"currency": "USD", "as_of": "2026-11-01",
		"per_million": {"input": "0.15", "output": "0.60"}}`))
	d.UseNumber()
	_ = d.Decode(&doc)
	p := priceFromJSON(doc)
	got, ok := cost(tokens{classInput: 3, classOutput: 7}, p)
	want, _ := new(big.Rat).SetString("0.00000465")
	if !ok || got.Cmp(want) != 0 {
		t.Fatalf("cost %v", got)
	}
	if priceFromJSON(obj{"currency": "USD", "per_million": obj{"input": "x"}}) != nil ||
		priceFromJSON(nil) != nil {
		t.Fatal("a malformed price must read as none")
	}
}

// A stream's usage events, as the caller's reads cut them (split across chunks).
func TestStreamTapUsage(t *testing.T) {
	anthropicStream := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\"," +
		"\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":90,\"cache_creation_input_tokens\":5,\"output_tokens\":1}}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":42}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	openaiStream := "data: {\"model\":\"gpt-x\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n" +
		"data: {\"model\":\"gpt-x\",\"choices\":[],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":50," +
		"\"prompt_tokens_details\":{\"cached_tokens\":60},\"completion_tokens_details\":{\"reasoning_tokens\":20}}}\n\n" +
		"data: [DONE]\n\n"
	responsesStream := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-r\",\"usage\":null}}\n\n" +
		"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-r\"," +
		"\"usage\":{\"input_tokens\":30,\"output_tokens\":9,\"input_tokens_details\":{\"cached_tokens\":10}," +
		"\"output_tokens_details\":{\"reasoning_tokens\":4}}}}\n\n"
	for _, c := range []struct {
		name, stream, family, model string
		want                        tokens
	}{
		{"anthropic", anthropicStream, Anthropic, "claude-x", tokens{10, 90, 5, 42, 0}},
		{"openai", openaiStream, OpenAI, "gpt-x", tokens{40, 60, 0, 30, 20}},
		{"responses", responsesStream, OpenAI, "gpt-r", tokens{20, 10, 0, 5, 4}},
	} {
		for _, size := range []int{1, 7, 64, 1 << 20} {
			var tap streamTap
			for i := 0; i < len(c.stream); i += size {
				tap.feed([]byte(c.stream[i:min(i+size, len(c.stream))]))
			}
			got, model, ok := usageFromEvents(tap.blocks, c.family)
			if !ok || got != c.want || model != c.model {
				t.Fatalf("%s in chunks of %d: %v %q %v, want %v", c.name, size, got, model, ok, c.want)
			}
		}
	}
	var tap streamTap // a stream without usage keeps nothing
	tap.feed([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"))
	if _, _, ok := usageFromEvents(tap.blocks, OpenAI); ok || len(tap.blocks) != 0 {
		t.Fatal("no usage event: no counts")
	}
}

// A full queue drops the call's metrics (and counts it); it never waits.
func TestMetricsQueueFullDrops(t *testing.T) {
	r := &metricsRecorder{ch: make(chan metricsItem, 2)} // no goroutine drains it
	for i := 0; i < 5; i++ {
		r.record(metricsItem{alias: "chat", outcome: "ok"})
	}
	if r.queued.Load() != 2 || r.dropped.Load() != 3 {
		t.Fatalf("queued %d dropped %d, want 2 and 3", r.queued.Load(), r.dropped.Load())
	}
}

// The drops reach aigw.client.metrics.dropped ({call}; the service and environment
// only), each once, when the goroutine next drains.
func TestMetricsDroppedCounter(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	r, err := newMetricsRecorder(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		"svc", "prod", 2)
	if err != nil {
		t.Fatal(err)
	}
	r.stop() // the test drains by hand
	dropped := func() (int64, string, attribute.Set) {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "aigw.client.metrics.dropped" {
					if len(sum.DataPoints) != 1 || !sum.IsMonotonic {
						t.Fatalf("dropped: %+v", sum)
					}
					return sum.DataPoints[0].Value, m.Unit, sum.DataPoints[0].Attributes
				}
			}
		}
		return 0, "", attribute.Set{}
	}
	for i := 0; i < 5; i++ {
		r.record(metricsItem{alias: "chat", outcome: "ok"})
	}
	r.drain()
	n, unit, attrs := dropped()
	want := attribute.NewSet(attribute.String("aigw.service", "svc"),
		attribute.String("aigw.environment", "prod"))
	if n != 3 || unit != "{call}" || !attrs.Equals(&want) {
		t.Fatalf("dropped %d %q %v, want 3 {call} %v", n, unit, attrs.ToSlice(), want.ToSlice())
	}
	r.drain() // nothing new dropped: not counted again
	if n, _, _ = dropped(); n != 3 {
		t.Fatalf("dropped %d after an empty drain, want 3", n)
	}
	for i := 0; i < 3; i++ {
		r.record(metricsItem{alias: "chat", outcome: "ok"})
	}
	r.drain()
	if n, _, _ = dropped(); n != 4 {
		t.Fatalf("dropped %d, want 4", n)
	}
}

func TestProviderName(t *testing.T) {
	for _, c := range [][4]string{
		{"openai", "api.openai.com", "openai-proj", "openai"},
		{"openai", "api.deepseek.com", "deepseek", "deepseek"},
		{"openai", "x.openai.azure.com", "azure", "azure.ai.openai"},
		{"bedrock", "bedrock-runtime.us-east-1.amazonaws.com", "bedrock-us", "aws.bedrock"},
		{"anthropic", "proxy.example", "anthropic-eu", "anthropic"},
		{"openai", "ark.cn-beijing.volces.com", "volcengine", "volcengine"},
	} {
		if got := providerName(c[0], c[1], c[2]); got != c[3] {
			t.Fatalf("providerName%v = %s", c[:3], got)
		}
	}
}
