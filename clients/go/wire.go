package aigw

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// The wire families: the request shape an alias's callers speak.
const (
	OpenAI    = "openai"
	Anthropic = "anthropic"
	// AnthropicVersion is what a caller gets when it sends no anthropic-version.
	AnthropicVersion        = "2023-06-01"
	bedrockAnthropicVersion = "bedrock-2023-05-31"
	bedrockService          = "bedrock"
	eventStreamType         = "application/vnd.amazon.eventstream"
)

// Wire is one wire API: its family, how its secret is stored and how it authenticates.
type Wire struct {
	Name   string
	Family string
	Secret string // "token": one key per file; "aws": an AWS credentials file
	Auth   string // "bearer", "x-api-key" or "sigv4"
}

// Bedrock reports a Bedrock InvokeModel API (model in the URL, event-stream answers).
func (w *Wire) Bedrock() bool { return strings.HasPrefix(w.Name, "bedrock") }

var wires = map[string]*Wire{
	"openai":          {"openai", OpenAI, "token", "bearer"},
	"anthropic":       {"anthropic", Anthropic, "token", "x-api-key"},
	"bedrock":         {"bedrock", Anthropic, "aws", "sigv4"},
	"bedrock-api-key": {"bedrock-api-key", Anthropic, "token", "bearer"},
}

// BedrockBaseURL is the Bedrock runtime endpoint of an AWS region.
func BedrockBaseURL(region string) string {
	return "https://bedrock-runtime." + region + ".amazonaws.com"
}

// Headers a caller's SDK sets that aigw replaces per route (canonical names).
var dropHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Authorization": true, "X-Api-Key": true,
	"Api-Key": true, "Connection": true, "X-Aigw-Alias": true, "X-Aigw-Session": true,
}

// errBadRequest: the request cannot be sent on this route.
type errBadRequest struct{ msg string }

func (e *errBadRequest) Error() string { return e.msg }

// prepared is what to send to one route for one call.
type prepared struct {
	url    string
	header http.Header
	body   []byte
}

func copyHeaders(in http.Header, drop func(string) bool) http.Header {
	out := make(http.Header, len(in)+2)
	for k, v := range in {
		if !drop(k) {
			out[k] = v
		}
	}
	return out
}

// prepare builds the URL, headers and body of call for route r with credential cred.
func prepare(r *Route, w *Wire, c *call, cred *credential) (prepared, error) {
	if w.Bedrock() {
		return prepareBedrock(r, w, c, cred)
	}
	h := copyHeaders(c.header, func(k string) bool {
		return dropHeaders[k] || (c.stream && k == "Accept-Encoding")
	})
	var body []byte
	switch {
	case c.isObject:
		body = withModel(c.body, r.modelJSON, r.Extra)
	case c.form != nil:
		body = c.form.withModel(r.Model)
	default:
		body = c.body
	}
	switch w.Auth {
	case "x-api-key":
		h["X-Api-Key"] = []string{cred.token}
		if _, ok := h["Anthropic-Version"]; !ok {
			h["Anthropic-Version"] = []string{AnthropicVersion}
		}
	case "bearer":
		h["Authorization"] = []string{cred.bearer}
	}
	return prepared{r.BaseURL + c.path, h, body}, nil
}

var bedrockDrop = map[string]bool{"Accept-Encoding": true, "Anthropic-Version": true,
	"Anthropic-Beta": true, "Content-Type": true, "Accept": true}

func prepareBedrock(r *Route, w *Wire, c *call, cred *credential) (prepared, error) {
	p := c.path
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if p != "/v1/messages" || c.method != http.MethodPost || !c.isObject {
		return prepared{}, &errBadRequest{"Bedrock serves only POST /v1/messages here, not " +
			c.method + " " + c.path}
	}
	body := withExtra(c.body, r.Extra)
	body = deleteKey(deleteKey(body, "model"), "stream")
	if !hasKey(body, "anthropic_version") {
		body = setKey(body, "anthropic_version", mustJSON(bedrockAnthropicVersion))
	}
	if betas := c.header.Values("Anthropic-Beta"); len(betas) > 0 && !hasKey(body, "anthropic_beta") {
		var list []string
		for _, v := range betas {
			for _, b := range strings.Split(v, ",") {
				list = append(list, strings.TrimSpace(b))
			}
		}
		body = setKey(body, "anthropic_beta", mustJSON(list))
	}
	action := "invoke"
	accept := "application/json"
	if c.stream {
		action, accept = "invoke-with-response-stream", eventStreamType
	}
	h := copyHeaders(c.header, func(k string) bool { return dropHeaders[k] || bedrockDrop[k] })
	h["Content-Type"] = []string{"application/json"}
	h["Accept"] = []string{accept}
	if w.Auth == "bearer" {
		h["Authorization"] = []string{cred.bearer}
	}
	url := r.BaseURL + "/model/" + escapeModel(r.Model) + "/" + action
	return prepared{url, h, body}, nil
}

// escapeModel percent-encodes a model id for a URL path segment, keeping ':' and ';'
// (as Python's urllib.parse.quote(model, safe=':;') does: '/' is encoded too).
func escapeModel(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.-~:;", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// mustJSON encodes v compactly as the Python client does (no HTML escaping of <, >, &).
func mustJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// errorBody is an error answer in the family's own shape, so its SDK raises its own error.
func errorBody(family string, status int, message string) []byte {
	kind := "api_error"
	switch status {
	case 400:
		kind = "invalid_request_error"
	case 404:
		kind = "not_found_error"
	}
	// Structs, not maps: the keys go in the order the Python client writes them
	// (vectors pin the bytes of these answers).
	if family == Anthropic {
		type detail struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		return mustJSON(struct {
			Type  string `json:"type"`
			Error detail `json:"error"`
		}{"error", detail{kind, message}})
	}
	code := kind
	if status == 404 {
		code = "model_not_found"
	}
	type detail struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   string `json:"param"`
		Code    string `json:"code"`
	}
	return mustJSON(struct {
		Error detail `json:"error"`
	}{detail{message, "invalid_request_error", "model", code}})
}
