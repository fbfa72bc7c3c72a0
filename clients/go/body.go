package aigw

import (
	"bytes"
	"mime"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// The request body is rewritten in place, never decoded and encoded again: the
// route's model replaces the bytes of the top-level "model" value (a full JSON
// re-encode cost more than everything else the transport does per call).

func hasKey(body []byte, key string) bool { return gjson.GetBytes(body, gjson.Escape(key)).Exists() }

func setKey(body []byte, key string, raw []byte) []byte {
	out, err := sjson.SetRawBytes(body, gjson.Escape(key), raw)
	if err != nil {
		return body
	}
	return out
}

func deleteKey(body []byte, key string) []byte {
	out, err := sjson.DeleteBytes(body, gjson.Escape(key))
	if err != nil {
		return body
	}
	return out
}

// withExtra: the route's extra fills the keys the caller did not set.
func withExtra(body []byte, extra map[string]any) []byte {
	if len(extra) == 0 {
		return body
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := append([]byte(nil), body...)
	for _, k := range keys {
		if k != "model" && !hasKey(out, k) {
			out = setKey(out, k, mustJSON(extra[k]))
		}
	}
	return out
}

// withModel is body (a JSON object) with "model" set to model and extra merged.
func withModel(body []byte, quoted []byte, extra map[string]any) []byte {
	body = withExtra(body, extra)
	v := gjson.GetBytes(body, "model")
	if v.Exists() && v.Index > 0 {
		out := make([]byte, 0, len(body)+len(quoted))
		out = append(out, body[:v.Index]...)
		out = append(out, quoted...)
		return append(out, body[v.Index+len(v.Raw):]...)
	}
	return setKey(body, "model", quoted)
}

// form is a multipart/form-data body whose "model" field names the alias.
type form struct {
	body       []byte
	start, end int // the model field's value: body[start:end]
}

// parseForm finds the "model" field of a multipart body (nil when it has none).
func parseForm(ctype string, body []byte) *form {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil
	}
	delim := []byte("--" + params["boundary"])
	pos := 0
	for {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			return nil
		}
		partStart := pos + i + len(delim)
		if bytes.HasPrefix(body[partStart:], []byte("--")) {
			return nil // the closing delimiter
		}
		headEnd := bytes.Index(body[partStart:], []byte("\r\n\r\n"))
		if headEnd < 0 {
			return nil
		}
		head := string(body[partStart : partStart+headEnd])
		valStart := partStart + headEnd + 4
		next := bytes.Index(body[valStart:], append([]byte("\r\n"), delim...))
		if next < 0 {
			return nil
		}
		if isModelField(head) {
			if !utf8.Valid(body[valStart : valStart+next]) {
				return nil // (not a model name: the request names no alias)
			}
			return &form{body, valStart, valStart + next}
		}
		pos = valStart + next
	}
}

func isModelField(head string) bool {
	for _, line := range strings.Split(head, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "Content-Disposition") {
			continue
		}
		_, params, err := mime.ParseMediaType(strings.TrimSpace(value))
		_, hasFile := params["filename"]
		return err == nil && params["name"] == "model" && !hasFile
	}
	return false
}

func (f *form) model() string { return string(f.body[f.start:f.end]) }

func (f *form) withModel(model string) []byte {
	out := make([]byte, 0, len(f.body)+len(model))
	out = append(out, f.body[:f.start]...)
	out = append(out, model...)
	return append(out, f.body[f.end:]...)
}
