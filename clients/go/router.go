package aigw

import (
	"container/list"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// maxSessions bounds each alias's session-affinity map (least recently moved go first).
const maxSessions = 10_000

// routeState is a route plus what the client learned about it: key file, cooldown.
type routeState struct {
	route    *Route
	index    int
	key      *keyFile
	wire     *Wire
	usable   bool
	ident    string
	host     string
	cooldown atomic.Uint64 // math.Float64bits of the clock time the cooldown ends
	urls     sync.Map      // URL -> *http.Request template
}

func newRouteState(r *Route, index int, kf *keyFile, usable bool) *routeState {
	rs := &routeState{route: r, index: index, key: kf, wire: r.Wire(), ident: r.Identity()}
	rs.usable = usable && rs.wire != nil
	if u, err := url.Parse(r.BaseURL); err == nil {
		rs.host = u.Hostname()
	}
	return rs
}

func (rs *routeState) cooldownUntil() float64 { return math.Float64frombits(rs.cooldown.Load()) }

func (rs *routeState) setCooldown(until float64) { rs.cooldown.Store(math.Float64bits(until)) }

func (rs *routeState) coolDown(outcome string, now float64) {
	rs.setCooldown(now + rs.route.Cooldown)
	slog.Warn("aigw: route failed; cooling down", "provider", rs.route.Provider,
		"slot", rs.route.Slot, "model", rs.route.Model, "outcome", outcome,
		"cooldown_s", rs.route.Cooldown)
}

// template is a request to URL s, parsed once per route and URL; each attempt
// sends a shallow copy (never the template itself).
func (rs *routeState) template(s string) (*http.Request, error) {
	if r, ok := rs.urls.Load(s); ok {
		return r.(*http.Request), nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, err
	}
	r := &http.Request{URL: u, Host: u.Host, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}}
	rs.urls.Store(s, r)
	return r, nil
}

// sessions maps session ids to route identities, shared by an alias's routers
// across config swaps so that a swap keeps affinity.
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*list.Element
	order *list.List // of *sessionEntry, least recently moved first
}

type sessionEntry struct{ id, ident string }

func newSessions() *sessions {
	return &sessions{byID: map[string]*list.Element{}, order: list.New()}
}

func (s *sessions) get(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[id]; ok {
		return e.Value.(*sessionEntry).ident, true
	}
	return "", false
}

func (s *sessions) set(id, ident string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[id]; ok {
		if e.Value.(*sessionEntry).ident == ident {
			return
		}
		e.Value.(*sessionEntry).ident = ident
		s.order.MoveToBack(e)
		return
	}
	s.byID[id] = s.order.PushBack(&sessionEntry{id, ident})
	if s.order.Len() > maxSessions {
		first := s.order.Front()
		s.order.Remove(first)
		delete(s.byID, first.Value.(*sessionEntry).id)
	}
}

// forget drops the sessions whose route identity keep reports false.
func (s *sessions) forget(keep func(string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.order.Front(); e != nil; {
		next := e.Next()
		if ent := e.Value.(*sessionEntry); !keep(ent.ident) {
			s.order.Remove(e)
			delete(s.byID, ent.id)
		}
		e = next
	}
}

// aliasRouter is the routes of one alias (in one config revision) and the order to try them.
type aliasRouter struct {
	alias    string
	family   string
	routes   []*routeState
	revision string
	clock    func() float64
	draw     func() float64
	sessions *sessions
	byID     map[string]*routeState
	weighted []*routeState
}

func newAliasRouter(alias, family string, routes []*routeState, revision string,
	clock, draw func() float64, s *sessions) *aliasRouter {
	if s == nil {
		s = newSessions()
	}
	ar := &aliasRouter{alias: alias, family: family, routes: routes, revision: revision,
		clock: clock, draw: draw, sessions: s, byID: map[string]*routeState{}}
	for _, r := range routes {
		ar.byID[r.ident] = r
		if r.route.Weight != nil && *r.route.Weight > 0 && r.usable {
			ar.weighted = append(ar.weighted, r)
		}
	}
	return ar
}

// order is the routes to try, best first: healthy ones in fallback order (a
// session's route, else a weighted pick, first), then cooling ones as a last resort.
func (ar *aliasRouter) order(session string) []*routeState {
	now := ar.clock()
	routes := ar.routes
	if len(routes) == 1 {
		return routes
	}
	healthy := make([]*routeState, 0, len(routes))
	for _, r := range routes {
		if r.cooldownUntil() <= now {
			healthy = append(healthy, r)
		}
	}
	if len(healthy) > 0 {
		var first *routeState
		if session != "" {
			if ident, ok := ar.sessions.get(session); ok {
				if sticky := ar.byID[ident]; sticky != nil && sticky.cooldownUntil() <= now {
					first = sticky
				}
			}
		}
		if first == nil && ar.weighted != nil {
			first = ar.pick(now)
		}
		if first != nil && healthy[0] != first {
			out := make([]*routeState, 0, len(routes))
			out = append(out, first)
			for _, r := range healthy {
				if r != first {
					out = append(out, r)
				}
			}
			healthy = out
		}
	}
	for _, r := range routes {
		if r.cooldownUntil() > now {
			healthy = append(healthy, r)
		}
	}
	return healthy
}

// pick draws a healthy weighted route by weight (nil when none is healthy).
func (ar *aliasRouter) pick(now float64) *routeState {
	var live []*routeState
	total := 0
	for _, r := range ar.weighted {
		if r.cooldownUntil() <= now {
			live = append(live, r)
			total += *r.route.Weight
		}
	}
	switch len(live) {
	case 0:
		return nil
	case 1:
		return live[0]
	}
	x := ar.draw() * float64(total)
	for _, r := range live {
		x -= float64(*r.route.Weight)
		if x < 0 {
			return r
		}
	}
	return live[len(live)-1]
}

// served remembers that rs answered; a success also ends its cooldown.
func (ar *aliasRouter) served(rs *routeState, session string) {
	rs.setCooldown(0)
	if session != "" {
		ar.sessions.set(session, rs.ident)
	}
}
