package aigw

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
)

// Streams fail over until their first event has arrived; after it the bytes are
// the provider's (Bedrock event-stream frames re-framed as Anthropic SSE).

// badResponse: a 2xx stream that failed before its first event.
type badResponse struct{ msg string }

func (e *badResponse) Error() string { return e.msg }

var errEndedEarly = &badResponse{"stream ended before its first event"}

// firstEventOK: true for a data event, false for a block without data; an error
// for an error event or a stream's end marker.
func firstEventOK(block []byte) (bool, error) {
	event := ""
	var data []string
	for _, line := range strings.Split(string(block), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.HasPrefix(line, "event:") {
			event = strings.TrimSpace(line[6:])
		} else if strings.HasPrefix(line, "data:") {
			data = append(data, strings.TrimSpace(line[5:]))
		}
	}
	if len(data) == 0 {
		return false, nil
	}
	text := strings.Join(data, "\n")
	if text == "[DONE]" {
		return false, errEndedEarly
	}
	var obj any
	if err := json.Unmarshal([]byte(text), &obj); err != nil {
		return false, &badResponse{"first stream event is not JSON"}
	}
	m, isObj := obj.(map[string]any)
	_, hasChoices := m["choices"]
	if event == "error" || isObj && (m["type"] == "error" || truthy(m["error"]) && !hasChoices) {
		return false, &badResponse{"stream opened with an error event"}
	}
	return true, nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case map[string]any:
		return len(x) > 0
	case []any:
		return len(x) > 0
	case json.Number:
		return x != "0"
	case float64:
		return x != 0
	}
	return true
}

// sseFirst is fed SSE bytes until the first event that carries data has arrived.
type sseFirst struct{ buf []byte }

func (s *sseFirst) feed(chunk []byte) (bool, error) {
	s.buf = append(s.buf, chunk...)
	for {
		buf := bytes.ReplaceAll(s.buf, []byte("\r\n"), []byte("\n"))
		end := bytes.Index(buf, []byte("\n\n"))
		if end < 0 {
			return false, nil
		}
		s.buf = buf[end+2:]
		ok, err := firstEventOK(buf[:end])
		if err != nil || ok {
			return ok, err
		}
	}
}

// peek reads body up to its first event: the bytes to replay, and the Bedrock
// converter when convert. Each read resets the attempt's timer.
func peek(body io.Reader, convert bool, tm *attemptTimer) ([]byte, *eventStreamToSSE, error) {
	var head []byte
	var sse sseFirst
	var conv *eventStreamToSSE
	if convert {
		conv = &eventStreamToSSE{}
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			tm.reset()
			chunk := buf[:n]
			if conv != nil {
				out, cerr := conv.feed(chunk)
				if cerr != nil {
					return nil, nil, cerr
				}
				head = append(head, out...)
				if conv.started {
					return head, conv, nil
				}
			} else {
				head = append(head, chunk...)
				ok, ferr := sse.feed(chunk)
				if ferr != nil {
					return nil, nil, ferr
				}
				if ok {
					return head, nil, nil
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil, nil, errEndedEarly
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

// replay is the body handed to the caller of a stream that started: the peeked
// bytes, then the rest (converted from Bedrock frames when conv is set).
type replay struct {
	head  []byte
	rest  io.ReadCloser
	conv  *eventStreamToSSE
	tm    *attemptTimer
	onEnd func(outcome string)
	tap   *streamTap // notes the usage events as they pass (nil: not wanted)
	once  sync.Once
	out   []byte
	done  bool
}

func (r *replay) end(outcome string) {
	r.once.Do(func() {
		r.tm.stop()
		if r.onEnd != nil {
			r.onEnd(outcome)
		}
	})
}

// note feeds the tap the bytes the caller gets (before the stream's end is reported).
func (r *replay) note(b []byte) {
	if r.tap != nil {
		r.tap.feed(b)
	}
}

func (r *replay) Read(p []byte) (int, error) {
	for {
		if len(r.head) > 0 {
			n := copy(p, r.head)
			r.head = r.head[n:]
			r.note(p[:n])
			return n, nil
		}
		if len(r.out) > 0 {
			n := copy(p, r.out)
			r.out = r.out[n:]
			return n, nil
		}
		if r.done {
			return 0, io.EOF
		}
		if r.conv == nil {
			n, err := r.rest.Read(p)
			if n > 0 {
				r.tm.reset()
				r.note(p[:n])
			}
			r.finish(err)
			return n, err
		}
		buf := make([]byte, len(p))
		n, err := r.rest.Read(buf)
		if n > 0 {
			r.tm.reset()
			out, cerr := r.conv.feed(buf[:n])
			if cerr != nil {
				r.end("interrupted")
				return 0, cerr
			}
			r.out = out
			r.note(out) // (noted as converted: the end may come before the caller reads it)
		}
		if errors.Is(err, io.EOF) {
			if r.conv.pending() {
				r.end("interrupted")
				return 0, &badResponse{"stream ended inside a frame"}
			}
			r.done = true
			r.end("ok")
			continue
		}
		if err != nil {
			r.end("interrupted")
			return 0, err
		}
	}
}

func (r *replay) finish(err error) {
	if errors.Is(err, io.EOF) {
		r.end("ok")
	} else if err != nil {
		r.end("interrupted")
	}
}

func (r *replay) Close() error {
	err := r.rest.Close()
	r.end("closed")
	return err
}
