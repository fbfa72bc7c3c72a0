package aigw

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// SDKBaseURL is the base URL to give an SDK: the transport replaces it with each route's.
const SDKBaseURL = "http://aigw.invalid/"

// PlaceholderKey is the API key to give an SDK: the transport drops it and sets the route's.
const PlaceholderKey = "aigw-routes-set-the-key"

// call is one request addressed to a model alias, as the transport sends it on.
type call struct {
	alias     string
	method    string
	path      string // path and query, as the SDK sent them
	header    http.Header
	body      []byte
	isObject  bool  // body is a JSON object (its "model" is rewritten per route)
	form      *form // a multipart body with a "model" field
	stream    bool
	session   string
	operation string
}

// reject is a request the transport answers itself, without calling a provider.
type reject struct {
	status int
	msg    string
}

func (r *reject) Error() string { return r.msg }

var operations = map[string]string{"completions": "chat", "messages": "chat",
	"responses": "responses", "embeddings": "embeddings"}

func operationOf(path string) string {
	p, _, _ := strings.Cut(path, "?")
	p = strings.TrimRight(p, "/")
	tail := p[strings.LastIndexByte(p, '/')+1:]
	if op, ok := operations[tail]; ok {
		return op
	}
	if tail == "" {
		return "request"
	}
	return tail
}

// readCall reads an SDK's request: the alias from the body's model (JSON or a
// multipart form field) or the x-aigw-alias header. It closes req.Body.
func readCall(req *http.Request) (*call, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = readAll(req.Body, req.ContentLength)
		req.Body.Close()
		if err != nil {
			return nil, &reject{400, "aigw: cannot read the request body"}
		}
	}
	path := req.URL.EscapedPath()
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	c := &call{method: req.Method, path: path, header: req.Header, body: body,
		alias:   req.Header.Get("X-Aigw-Alias"),
		session: req.Header.Get("X-Aigw-Session"), operation: operationOf(path)}
	ctype := req.Header.Get("Content-Type")
	if ctype == "" {
		ctype = "application/json"
	}
	switch {
	case len(body) > 0 && strings.HasPrefix(ctype, "application/json"):
		if !gjson.ValidBytes(body) {
			return nil, &reject{400, "aigw: the request body is not valid JSON"}
		}
		if i := firstNonSpace(body); i >= 0 && body[i] == '{' {
			c.isObject = true
			if c.alias == "" {
				if m := gjson.GetBytes(body, "model"); m.Type == gjson.String {
					c.alias = m.Str
				}
			}
			c.stream = gjson.GetBytes(body, "stream").Type == gjson.True
		}
	case len(body) > 0 && strings.HasPrefix(ctype, "multipart/form-data"):
		if f := parseForm(ctype, body); f != nil {
			c.form = f
			if c.alias == "" {
				c.alias = f.model()
			}
		}
	}
	if c.alias == "" {
		return nil, &reject{400, "aigw: the request names no model alias (pass the alias as " +
			"`model`, or send the x-aigw-alias header)"}
	}
	return c, nil
}

func firstNonSpace(b []byte) int {
	for i, ch := range b {
		if !bytes.ContainsRune([]byte(" \t\r\n"), rune(ch)) {
			return i
		}
	}
	return -1
}
