package aigw

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Transport is an http.RoundTripper that sends each request to its alias's routes.
// Give it to an official SDK with option.WithHTTPClient(&http.Client{Transport: t}),
// option.WithBaseURL(aigw.SDKBaseURL) and option.WithMaxRetries(0).
type Transport struct {
	client *Client
	family string // "openai", "anthropic", or "" (any)
}

// Transport returns the RoundTripper for callers of one family (OpenAI or
// Anthropic; "" accepts either).
func (c *Client) Transport(family string) *Transport { return &Transport{c, family} }

// HTTPClient is an *http.Client over Transport(family), for option.WithHTTPClient.
func (c *Client) HTTPClient(family string) *http.Client {
	return &http.Client{Transport: c.Transport(family)}
}

var transientStatus = map[int]bool{408: true, 409: true, 425: true, 429: true}

// RoundTrip sends req to its alias's routes, in the order the rules give, and
// returns the deciding answer: a 2xx, a 4xx that blames the request, or, when
// every route failed, the last HTTP answer (an *AllRoutesFailedError when no
// route answered at all). The caller's request is never modified.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, err := readCall(req)
	if err != nil {
		var rj *reject
		if errors.As(err, &rj) {
			return t.answer(req, rj.status, rj.msg), nil
		}
		return nil, err
	}
	router, err := t.client.router(c.alias, t.family)
	if err != nil {
		var unknown *UnknownAliasError
		if errors.As(err, &unknown) {
			return t.answer(req, 404, "aigw: "+err.Error()), nil
		}
		return t.answer(req, 400, "aigw: "+err.Error()), nil
	}
	return t.client.run(req, router, c, t)
}

// answer is a response in the family's own error shape, so its SDK raises its own error.
func (t *Transport) answer(req *http.Request, status int, msg string) *http.Response {
	body := errorBody(t.family, status, msg)
	return &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: req}
}

// result is what one send gave.
type result struct {
	status  int // 0: no HTTP answer
	resp    *http.Response
	outcome string
	latency time.Duration
	fatal   error // the caller's context ended: the call ends
	msg     string
	body    []byte // a whole answer's bytes (not a stream's)
}

// run is the failover plan: routes in order, retries, the key re-read on
// 401/403, cooldowns, and the deciding answer.
func (c *Client) run(req *http.Request, router *aliasRouter, cl *call, t *Transport) (*http.Response, error) {
	session := cl.session
	if c.opts.NoSessionAffinity {
		session = ""
	}
	holder := &attemptsHolder{}
	span := c.telemetry.start(context.WithValue(req.Context(), attemptsKey{}, holder), cl.alias,
		cl.operation, router.revision)
	ctx := span.ctx
	var attempts []Attempt
	var last *http.Response
	record := func(rs *routeState, r result, fp string) {
		a := Attempt{router.alias, rs.route.Provider, rs.route.Slot, rs.index, r.outcome,
			r.latency, fp, r.status, router.revision}
		attempts = append(attempts, a)
		span.attempt(a)
		if c.opts.OnAttempt != nil {
			c.opts.OnAttempt(a)
		}
	}
	for _, rs := range router.order(session) {
		var cred *credential
		if rs.usable {
			cred = rs.key.get()
		}
		if cred == nil {
			outcome := "no_key"
			if rs.wire == nil {
				outcome = "unsupported_api"
			} else if !rs.usable {
				outcome = "wrong_family"
			}
			record(rs, result{outcome: outcome}, "")
			continue
		}
		reloaded, retries := false, rs.route.Retries
		for {
			r := c.send(ctx, cl, rs, cred, span)
			if r.fatal != nil {
				closeResp(last)
				span.finish(nil, "error", nil)
				return nil, r.fatal
			}
			if r.outcome == "bad_request" {
				closeResp(last)
				span.finish(rs, "bad_request", nil)
				return t.answer(req, 400, "aigw: "+r.msg), nil
			}
			record(rs, r, cred.fingerprint)
			if r.status != 0 {
				closeResp(last)
				last = r.resp
			}
			if r.status != 0 && r.status < 400 {
				router.served(rs, session)
				c.acks.used(rs.route, cred.fingerprint)
				holder.attempts = attempts
				span.decided(rs, r)
				return r.resp, nil
			}
			if r.status == 401 || r.status == 403 {
				// Re-read the key once; retry only with a different key.
				if !reloaded {
					reloaded = true
					if fresh := rs.key.reload(); fresh != nil && !fresh.sameSecret(cred) {
						cred = fresh
						continue
					}
				}
				break
			}
			if r.status != 0 && r.status < 500 && !transientStatus[r.status] {
				holder.attempts = attempts
				span.finish(rs, r.outcome, nil)
				return r.resp, nil // the request, not the route, is at fault
			}
			if retries > 0 {
				retries--
				continue
			}
			rs.coolDown(r.outcome, c.opts.Clock())
			break
		}
	}
	span.finish(nil, "all_routes_failed", nil)
	failed := &AllRoutesFailedError{router.alias, attempts}
	if last != nil {
		holder.attempts = attempts
		return last, nil
	}
	return nil, failed
}

func (a *credential) sameSecret(b *credential) bool {
	return a.token == b.token && a.awsKeyID == b.awsKeyID && a.awsSecret == b.awsSecret &&
		a.awsSession == b.awsSession
}

func closeResp(r *http.Response) {
	if r != nil && r.Body != nil {
		r.Body.Close()
	}
}
