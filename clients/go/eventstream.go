package aigw

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
)

// AWS event-stream frames (Bedrock invoke-with-response-stream) as Anthropic SSE.
//
// A frame is total length (4) | headers length (4) | prelude CRC32 (4) | headers |
// payload | message CRC32 (4), big-endian. Event frames carry
// {"bytes": base64(<one Messages stream event>)}; exception frames an error.

const maxFrame = 16 * 1024 * 1024

// eventStreamError: the bytes are not a well-formed event stream.
type eventStreamError struct{ msg string }

func (e *eventStreamError) Error() string { return e.msg }

var fixedHeaderSize = map[byte]int{0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}

type frame struct {
	headers map[string]string
	payload []byte
}

func frameHeaders(data []byte) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(data); {
		n := int(data[i])
		if i+1+n+1 > len(data) {
			return nil, &eventStreamError{"bad header"}
		}
		name := string(data[i+1 : i+1+n])
		i += 1 + n
		kind := data[i]
		i++
		switch {
		case kind == 6 || kind == 7:
			if i+2 > len(data) {
				return nil, &eventStreamError{"bad header"}
			}
			size := int(binary.BigEndian.Uint16(data[i:]))
			if i+2+size > len(data) {
				return nil, &eventStreamError{"bad header"}
			}
			v := data[i+2 : i+2+size]
			if kind == 7 {
				out[name] = string(v)
			} else {
				out[name] = hex.EncodeToString(v)
			}
			i += 2 + size
		default:
			size, ok := fixedHeaderSize[kind]
			if !ok {
				return nil, &eventStreamError{fmt.Sprintf("unknown header type %d", kind)}
			}
			i += size
		}
	}
	return out, nil
}

// eventStreamDecoder: feed bytes, get the frames completed so far (CRCs checked).
type eventStreamDecoder struct{ buf []byte }

func (d *eventStreamDecoder) feed(data []byte) ([]frame, error) {
	d.buf = append(d.buf, data...)
	var frames []frame
	for len(d.buf) >= 12 {
		total := binary.BigEndian.Uint32(d.buf)
		hlen := binary.BigEndian.Uint32(d.buf[4:])
		if total < 16 || total > maxFrame || hlen > total-16 {
			return nil, &eventStreamError{"bad frame length"}
		}
		if crc32.ChecksumIEEE(d.buf[:8]) != binary.BigEndian.Uint32(d.buf[8:]) {
			return nil, &eventStreamError{"bad prelude checksum"}
		}
		if uint32(len(d.buf)) < total {
			break
		}
		f := d.buf[:total]
		if crc32.ChecksumIEEE(f[:total-4]) != binary.BigEndian.Uint32(f[total-4:]) {
			return nil, &eventStreamError{"bad message checksum"}
		}
		h, err := frameHeaders(f[12 : 12+hlen])
		if err != nil {
			return nil, err
		}
		frames = append(frames, frame{h, append([]byte(nil), f[12+hlen:total-4]...)})
		d.buf = d.buf[total:]
	}
	return frames, nil
}

// frameToSSE is the SSE bytes of one frame, and whether it reports an error.
func frameToSSE(f frame) ([]byte, bool, error) {
	kind := f.headers[":message-type"]
	if kind == "" {
		kind = "event"
	}
	if kind != "event" {
		errType := f.headers[":exception-type"]
		if errType == "" {
			errType = f.headers[":error-code"]
		}
		if errType == "" {
			errType = "api_error"
		}
		var m map[string]any
		message := ""
		if json.Unmarshal(f.payload, &m) == nil {
			if s, ok := m["message"]; ok && s != nil {
				message = fmt.Sprint(s)
			}
		} else {
			message = string(f.payload)
			if len(message) > 500 {
				message = message[:500]
			}
		}
		data := mustJSON(map[string]any{"type": "error",
			"error": map[string]any{"type": errType, "message": message}})
		return append(append([]byte("event: error\ndata: "), data...), "\n\n"...), true, nil
	}
	if et := f.headers[":event-type"]; et != "" && et != "chunk" {
		return nil, false, nil
	}
	var chunk struct {
		Bytes *string `json:"bytes"`
	}
	if err := json.Unmarshal(f.payload, &chunk); err != nil || chunk.Bytes == nil {
		return nil, false, &eventStreamError{"chunk is not a base64 JSON event"}
	}
	raw, err := base64.StdEncoding.DecodeString(*chunk.Bytes)
	if err != nil {
		return nil, false, &eventStreamError{"chunk is not a base64 JSON event"}
	}
	var event map[string]any
	if err := json.Unmarshal(raw, &event); err != nil {
		return nil, false, &eventStreamError{"chunk is not a base64 JSON event"}
	}
	name, ok := event["type"].(string)
	if !ok {
		return nil, false, nil
	}
	for _, b := range raw {
		if b == '\n' || b == '\r' { // one SSE data line must hold the whole event
			raw = mustJSON(event)
			break
		}
	}
	out := append([]byte("event: "+name+"\ndata: "), raw...)
	return append(out, "\n\n"...), name == "error", nil
}

// eventStreamToSSE: Bedrock event-stream bytes in, Anthropic SSE bytes out.
// Before the first event an error (frame or framing) is a badResponse.
type eventStreamToSSE struct {
	dec     eventStreamDecoder
	started bool
}

func (c *eventStreamToSSE) feed(chunk []byte) ([]byte, error) {
	frames, err := c.dec.feed(chunk)
	var out []byte
	for _, f := range frames {
		sse, isErr, ferr := frameToSSE(f)
		if ferr != nil {
			err = ferr
			break
		}
		if isErr && !c.started {
			return nil, &badResponse{"Bedrock stream opened with an exception"}
		}
		if len(sse) > 0 {
			c.started = true
			out = append(out, sse...)
		}
	}
	if err != nil {
		if !c.started {
			return nil, &badResponse{err.Error()}
		}
		return out, err
	}
	return out, nil
}

func (c *eventStreamToSSE) pending() bool { return len(c.dec.buf) > 0 }
