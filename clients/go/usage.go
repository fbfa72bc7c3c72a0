package aigw

import (
	"bytes"
	"strings"

	"github.com/tidwall/gjson"
)

// Token usage as providers report it, in aigw's disjoint billed classes
// (spec/metrics.md; the Python client's client/usage.py reads the same shapes):
// input (neither read from nor written to a cache), cache_read, cache_write,
// output (not reasoning), reasoning. OpenAI Chat Completions (prompt_tokens and
// its details, DeepSeek's prompt_cache_hit_tokens), the Responses API
// (input_tokens including cached), Anthropic Messages (input_tokens excluding the
// cache), also as Bedrock returns it. Read on the metrics goroutine, never on the
// request path.

const (
	classInput = iota
	classCacheRead
	classCacheWrite
	classOutput
	classReasoning
	numClasses
)

// tokenClasses are the aigw.token.type values, indexed by the class constants.
var tokenClasses = [numClasses]string{"input", "cache_read", "cache_write", "output", "reasoning"}

// tokens counts a call's tokens by billed class.
type tokens [numClasses]int64

// inputTotal is input as the conventions count it (cached tokens included).
func (t tokens) inputTotal() int64 { return t[classInput] + t[classCacheRead] + t[classCacheWrite] }

// outputTotal is output as the conventions count it (reasoning included).
func (t tokens) outputTotal() int64 { return t[classOutput] + t[classReasoning] }

// count is a JSON whole number > 0 as int64, else 0 (as the Python client's _int).
func count(v gjson.Result) int64 {
	if v.Type != gjson.Number || strings.ContainsAny(v.Raw, ".eE") || v.Num <= 0 {
		return 0
	}
	return v.Int()
}

// lookup reads a usage field; a dotted path reads inside a details object.
type lookup func(path string) gjson.Result

// tokensOf reads the disjoint classes of one usage object; false when it holds no
// counts. family is the route's wire family: an Anthropic input_tokens excludes
// cached tokens, an OpenAI one includes them.
func tokensOf(get lookup, family string) (tokens, bool) {
	var t tokens
	has := func(k string) bool { return get(k).Exists() }
	if family == Anthropic || has("cache_read_input_tokens") || has("cache_creation_input_tokens") {
		if !has("input_tokens") && !has("output_tokens") {
			return t, false
		}
		t[classInput] = count(get("input_tokens"))
		t[classCacheRead] = count(get("cache_read_input_tokens"))
		t[classCacheWrite] = count(get("cache_creation_input_tokens"))
		t[classOutput] = count(get("output_tokens"))
		return t, true
	}
	var totalIn, totalOut int64
	var inD, outD string
	switch {
	case has("prompt_tokens") || has("completion_tokens"):
		totalIn, totalOut = count(get("prompt_tokens")), count(get("completion_tokens"))
		inD, outD = "prompt_tokens_details", "completion_tokens_details"
	case has("input_tokens") || has("output_tokens"): // the Responses API
		totalIn, totalOut = count(get("input_tokens")), count(get("output_tokens"))
		inD, outD = "input_tokens_details", "output_tokens_details"
	default:
		return t, false
	}
	cacheRead := count(get(inD + ".cached_tokens"))
	if cacheRead == 0 {
		cacheRead = count(get("prompt_cache_hit_tokens"))
	}
	cacheWrite := count(get(inD + ".cache_write_tokens"))
	reasoning := count(get(outD + ".reasoning_tokens"))
	cacheRead = min(cacheRead, totalIn)
	cacheWrite = min(cacheWrite, totalIn-cacheRead)
	reasoning = min(reasoning, totalOut)
	t[classInput] = totalIn - cacheRead - cacheWrite
	t[classCacheRead], t[classCacheWrite] = cacheRead, cacheWrite
	t[classOutput], t[classReasoning] = totalOut-reasoning, reasoning
	return t, true
}

// usageFromBody reads (classes, response model) of a whole JSON answer.
func usageFromBody(body []byte, family string) (tokens, string, bool) {
	if len(body) == 0 || !gjson.ValidBytes(body) {
		return tokens{}, "", false
	}
	doc := gjson.ParseBytes(body)
	if !doc.IsObject() {
		return tokens{}, "", false
	}
	model := ""
	if m := doc.Get("model"); m.Type == gjson.String {
		model = m.Str
	}
	u := doc.Get("usage")
	if !u.IsObject() {
		return tokens{}, model, false
	}
	t, ok := tokensOf(simpleLookup(u), family)
	return t, model, ok
}

// simpleLookup reads "field" or "details.field" inside obj (field names hold no dots).
func simpleLookup(obj gjson.Result) lookup {
	return func(path string) gjson.Result { return obj.Get(path) }
}

// usageFromEvents reads (classes, response model) from the SSE events of a
// stream that carry usage: OpenAI's last chunk, the Responses response.completed
// event, Anthropic's message_start updated by message_delta (later counts win).
func usageFromEvents(blocks [][]byte, family string) (tokens, string, bool) {
	merged := map[string]gjson.Result{}
	model := ""
	for _, block := range blocks {
		for _, line := range bytes.Split(block, []byte("\n")) {
			line = bytes.TrimSuffix(line, []byte("\r"))
			if !bytes.HasPrefix(line, []byte("data:")) {
				continue
			}
			data := line[5:]
			if !gjson.ValidBytes(data) {
				continue
			}
			doc := gjson.ParseBytes(data)
			if !doc.IsObject() {
				continue
			}
			inner := doc.Get("message")
			if !inner.IsObject() {
				inner = doc.Get("response")
			}
			if !inner.IsObject() {
				inner = doc
			}
			if m := inner.Get("model"); m.Type == gjson.String {
				model = m.Str
			}
			if u := inner.Get("usage"); u.IsObject() {
				u.ForEach(func(k, v gjson.Result) bool {
					if v.Type != gjson.Null {
						merged[k.Str] = v
					}
					return true
				})
			}
		}
	}
	if len(merged) == 0 {
		return tokens{}, model, false
	}
	t, ok := tokensOf(func(path string) gjson.Result {
		head, rest, dotted := strings.Cut(path, ".")
		v := merged[head]
		if dotted {
			return v.Get(rest)
		}
		return v
	}, family)
	return t, model, ok
}

// streamTap keeps the SSE events of a stream that mention "usage", as the bytes
// pass to the caller: per chunk one search; an event split across chunks is
// joined first. At most tapKeep events (usage comes in the first and last ones).
type streamTap struct {
	blocks [][]byte
	tail   []byte
}

const tapKeep = 4

var usageMark = []byte(`"usage"`)

func (s *streamTap) feed(chunk []byte) {
	if len(chunk) == 0 {
		return
	}
	data := chunk
	if len(s.tail) > 0 {
		data = append(s.tail, chunk...)
	}
	end := bytes.LastIndex(data, []byte("\n\n"))
	if end < 0 {
		if len(data) > 65536 {
			data = data[len(data)-65536:]
		}
		s.tail = append([]byte(nil), data...)
		return
	}
	if bytes.Contains(data[:end], usageMark) {
		if len(s.blocks) >= tapKeep {
			s.blocks = append(s.blocks[:1], s.blocks[2:]...) // keep the first and the latest
		}
		s.blocks = append(s.blocks, append([]byte(nil), data[:end]...))
	}
	if rest := data[end+2:]; len(rest) > 0 {
		s.tail = append(s.tail[:0:0], rest...)
	} else {
		s.tail = nil
	}
}
