package aigw

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// send makes one attempt on route rs: builds the outgoing request, sends it with
// the route's timeout, and reads the answer (a stream up to its first event).
func (c *Client) send(ctx context.Context, cl *call, rs *routeState, cred *credential, span *callSpan) result {
	p, err := prepare(rs.route, rs.wire, cl, cred)
	if err != nil {
		return result{outcome: "bad_request", msg: err.Error()}
	}
	tmpl, err := rs.template(p.url)
	if err != nil {
		return result{outcome: "bad_request", msg: "route URL " + err.Error()}
	}
	t0 := time.Now()
	actx, cancel := context.WithCancel(ctx)
	tm := newAttemptTimer(time.Duration(rs.route.Timeout*float64(time.Second)), cancel)
	body := p.body
	req := tmpl.WithContext(actx) // (a shallow copy of the route's request for this URL)
	req.Method, req.Header, req.ContentLength = cl.method, p.header, int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
	} else if cl.method != http.MethodGet && cl.method != http.MethodHead {
		req.Body = http.NoBody
	}
	if rs.wire.Auth == "sigv4" {
		if err := signSigV4(req, body, cred, rs.route.AWSRegion, t0); err != nil {
			tm.stop()
			return result{outcome: "bad_request", msg: err.Error()}
		}
	}
	resp, err := c.opts.Base.RoundTrip(req)
	failed := func(err error) result {
		tm.stop()
		if ctx.Err() != nil {
			return result{fatal: ctx.Err()}
		}
		return result{outcome: classify(err, tm.fired()), latency: time.Since(t0)}
	}
	if err != nil {
		return failed(err)
	}
	if resp.Request == nil {
		resp.Request = req // (AttemptsOf reads the call's attempts through it)
	}
	if cl.stream && resp.StatusCode < 400 {
		if stream, convert := isStream(rs, resp); stream {
			head, conv, err := peek(resp.Body, convert, tm)
			if err != nil {
				resp.Body.Close()
				if _, bad := err.(*badResponse); bad {
					tm.stop()
					return result{outcome: "bad_response", latency: time.Since(t0)}
				}
				return failed(err)
			}
			onEnd, tap := span.streamEnd(rs)
			resp.Body = &replay{head: head, rest: resp.Body, conv: conv, tm: tm,
				onEnd: onEnd, tap: tap}
			if conv != nil {
				resp.Header = resp.Header.Clone()
				resp.Header.Del("Content-Length")
				resp.Header.Set("Content-Type", "text/event-stream")
				resp.ContentLength = -1
			}
			return result{status: resp.StatusCode, resp: resp, outcome: "ok", latency: time.Since(t0)}
		}
	}
	data, err := readAll(&timedReader{resp.Body, tm}, resp.ContentLength)
	resp.Body.Close()
	if err != nil {
		return failed(err)
	}
	tm.stop()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	outcome := "ok"
	if resp.StatusCode >= 400 {
		outcome = "http_" + itoa(resp.StatusCode)
	}
	return result{status: resp.StatusCode, resp: resp, outcome: outcome, latency: time.Since(t0),
		body: data}
}

// isStream: (read this answer as a stream, convert it from Bedrock event-stream).
func isStream(rs *routeState, resp *http.Response) (bool, bool) {
	ctype := resp.Header.Get("Content-Type")
	convert := rs.wire.Bedrock() && strings.Contains(ctype, eventStreamType)
	return convert || strings.Contains(ctype, "text/event-stream"), convert
}

// classify is the outcome of a send that failed with err.
func classify(err error, timedOut bool) string {
	var ne net.Error
	if timedOut || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timeout"
	}
	var op *net.OpError
	if errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial") {
		return "connect_error"
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "connect_error"
	}
	return "transport_error"
}

// attemptTimer cancels an attempt when no byte came for the route's timeout (as
// httpx's per-operation timeouts do); each read resets it.
type attemptTimer struct {
	d      time.Duration
	cancel context.CancelFunc
	mu     sync.Mutex
	t      *time.Timer
	hit    bool
}

func newAttemptTimer(d time.Duration, cancel context.CancelFunc) *attemptTimer {
	at := &attemptTimer{d: d, cancel: cancel}
	at.t = time.AfterFunc(d, func() {
		at.mu.Lock()
		at.hit = true
		at.mu.Unlock()
		cancel()
	})
	return at
}

func (at *attemptTimer) reset() { at.t.Reset(at.d) }

func (at *attemptTimer) fired() bool {
	at.mu.Lock()
	defer at.mu.Unlock()
	return at.hit
}

// stop ends the timer and releases the attempt's context (its body is read or closed).
func (at *attemptTimer) stop() {
	at.t.Stop()
	at.cancel()
}

type timedReader struct {
	r  io.Reader
	tm *attemptTimer
}

func (tr *timedReader) Read(p []byte) (int, error) {
	n, err := tr.r.Read(p)
	if n > 0 {
		tr.tm.reset()
	}
	return n, err
}

func itoa(n int) string { return strconv.Itoa(n) }
