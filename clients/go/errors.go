package aigw

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Attempt is one try of one route, as reported to OnAttempt and in errors.
// It never holds a key value: at most the key's fingerprint (sha256[:12]).
//
// Outcome is "ok", "timeout", "connect_error", "transport_error", "http_<status>",
// "bad_response" (a 2xx stream that failed before its first event), "no_key",
// "unsupported_api" or "wrong_family".
type Attempt struct {
	Alias          string
	Provider       string
	Slot           string
	Route          int
	Outcome        string
	Latency        time.Duration
	KeyFingerprint string
	Status         int // 0 when no HTTP answer
	Revision       string
}

// UnknownAliasError: the model alias is not in this service's config.
type UnknownAliasError struct {
	Alias, Service string
	Known          []string
}

func (e *UnknownAliasError) Error() string {
	return fmt.Sprintf("model alias %s is not configured for service %s (known: %s)",
		pyRepr(e.Alias), pyRepr(e.Service), strings.Join(e.Known, ", "))
}

// WrongFamilyError: the alias speaks another wire family than the API it was called through.
type WrongFamilyError struct{ Alias, Family, CalledAs string }

func (e *WrongFamilyError) Error() string {
	via := map[string]string{OpenAI: "Client.openai() or client.chat.completions",
		Anthropic: "Client.anthropic()"}[e.Family]
	if via == "" {
		via = e.Family
	}
	// The text is the spec's (errors-wrong-family-* vectors pin it in every language).
	return fmt.Sprintf("model alias %s speaks the %s family, not %s; call it through %s",
		pyRepr(e.Alias), e.Family, e.CalledAs, via)
}

// AllRoutesFailedError: every route of an alias was tried and none answered.
// Timeout reports whether every route that was tried timed out (an SDK then sees
// a timeout; otherwise a connection error).
type AllRoutesFailedError struct {
	Alias    string
	Attempts []Attempt
}

func (e *AllRoutesFailedError) Error() string {
	tried := make([]string, len(e.Attempts))
	for i, a := range e.Attempts {
		tried[i] = a.Provider + "/" + a.Slot + ": " + a.Outcome
	}
	return fmt.Sprintf("aigw: all routes for %s failed (%d attempts): %s", pyRepr(e.Alias),
		len(e.Attempts), strings.Join(tried, "; "))
}

// Timeout is true when every attempt that reached the network timed out.
func (e *AllRoutesFailedError) Timeout() bool {
	n := 0
	for _, a := range e.Attempts {
		if skipped[a.Outcome] {
			continue
		}
		if a.Outcome != "timeout" {
			return false
		}
		n++
	}
	return n > 0
}

// Temporary is part of the net.Error interface (deprecated there, kept for it).
func (e *AllRoutesFailedError) Temporary() bool { return true }

// Attempts that never reached a provider.
var skipped = map[string]bool{"no_key": true, "unsupported_api": true, "wrong_family": true}

type attemptsKey struct{}

// AttemptsOf returns the attempts behind a response the transport returned
// (resp.Request carries them), or behind an error it returned (an
// *AllRoutesFailedError anywhere in the chain). nil when there are none.
func AttemptsOf(v any) []Attempt {
	switch x := v.(type) {
	case *http.Response:
		if x != nil && x.Request != nil {
			if h, ok := x.Request.Context().Value(attemptsKey{}).(*attemptsHolder); ok {
				return h.attempts
			}
		}
	case error:
		var failed *AllRoutesFailedError
		if asError(x, &failed) {
			return failed.Attempts
		}
	}
	return nil
}

// attemptsHolder rides in the context of every outgoing request of a call (one
// context value per call); the call's attempts are put in it when it ends.
type attemptsHolder struct{ attempts []Attempt }

// pyRepr quotes a name as the Python client's messages do ('name'), so both
// clients' error texts match.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, "\"") {
		return "\"" + s + "\""
	}
	return "'" + strings.ReplaceAll(s, "'", "\\'") + "'"
}
