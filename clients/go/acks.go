package aigw

import (
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Acknowledgements v2 (spec/README.md, docs/rotation.md#acknowledgements): per slot,
// the fingerprint of the key this instance has loaded from its key file and of the
// key it last used in a successful call, with its config revision. A goroutine
// writes them to OpenBao (acks_write.go) with the service's own token, off the
// request path: the hot path is one map lookup and, when something changed, a
// non-blocking channel send (dropped when full). Never a key value.

const (
	ackInterval  = 10 * time.Second  // at most one write per slot per interval
	ackRefresh   = 600 * time.Second // a heartbeat rewrite when nothing changed
	ackQueueSize = 256
)

type slotKey struct{ provider, slot string }

type ackNote struct {
	key             slotKey
	kind, fp, revis string
}

type ackSeen struct {
	fp, rev string
	at      time.Time
}

type ackWritten struct {
	state [3]string // used, loaded, revision
	at    time.Time
}

type ackRecorder struct {
	on                              bool
	service, address, mount, folder string
	tokenFiles                      []string
	interval, refresh               time.Duration
	revision                        string
	instance                        string
	source                          func() map[slotKey]string
	ch                              chan ackNote

	seenMu sync.Mutex
	seen   map[slotKey]ackSeen

	mu      sync.Mutex // the writer's state
	state   map[slotKey]*[3]string
	pending map[slotKey]bool
	written map[slotKey]ackWritten
	tried   map[slotKey]time.Time
	logged  map[string]time.Time

	stopOnce sync.Once
	done     chan struct{}
}

func newAcks(service, revision string) *ackRecorder {
	host, _ := os.Hostname()
	return &ackRecorder{on: true, service: service, revision: revision, interval: ackInterval,
		refresh: ackRefresh, instance: host + ":" + itoa(os.Getpid()),
		ch: make(chan ackNote, ackQueueSize), seen: map[slotKey]ackSeen{},
		state: map[slotKey]*[3]string{}, pending: map[slotKey]bool{},
		written: map[slotKey]ackWritten{}, tried: map[slotKey]time.Time{},
		logged: map[string]time.Time{}, done: make(chan struct{})}
}

// newAckRecorder is the recorder of the config's acks block (off without one, or
// without an OpenBao address).
func newAckRecorder(c *Client, cfg *Config) *ackRecorder {
	off := &ackRecorder{}
	b := cfg.Acks
	if b == nil {
		return off
	}
	address, _ := b["address"].(string)
	if address == "" {
		address = os.Getenv("BAO_ADDR")
	}
	if address == "" {
		address = os.Getenv("VAULT_ADDR")
	}
	mount, _ := b["mount"].(string)
	folder, _ := b["path"].(string)
	if address == "" || mount == "" || folder == "" {
		slog.Info("aigw: key acknowledgements off: no OpenBao address (BAO_ADDR)", "service", cfg.Service)
		return off
	}
	a := newAcks(cfg.Service, cfg.Revision)
	a.address, a.mount, a.folder = strings.TrimRight(address, "/"), mount, strings.Trim(folder, "/")
	if list, ok := b["token_files"].([]any); ok {
		for _, f := range list {
			if s, ok := f.(string); ok {
				if !filepath.IsAbs(s) {
					s = filepath.Join(cfg.KeyDir, s)
				}
				a.tokenFiles = append(a.tokenFiles, s)
			}
		}
	}
	if v := seconds(b["interval"]); v > 0 {
		a.interval = v
	}
	if v := seconds(b["refresh"]); v > 0 {
		a.refresh = v
	}
	a.source = c.loadedKeys
	go a.run()
	return a
}

// used notes a successful call with the key of fingerprint (the key sent); cheap,
// never blocks.
func (a *ackRecorder) used(r *Route, fingerprint string) {
	if !a.on {
		return
	}
	key := slotKey{r.Provider, r.Slot}
	rev := a.revision
	now := time.Now()
	a.seenMu.Lock()
	s, ok := a.seen[key]
	if ok && s.fp == fingerprint && s.rev == rev && now.Sub(s.at) < a.refresh {
		a.seenMu.Unlock()
		return
	}
	a.seen[key] = ackSeen{fingerprint, rev, now}
	a.seenMu.Unlock()
	select {
	case a.ch <- ackNote{key, "used", fingerprint, rev}:
	default: // full: noted again by a later use
		a.seenMu.Lock()
		delete(a.seen, key)
		a.seenMu.Unlock()
	}
}

// loaded: a new config serves; the next poll reports its loaded keys and revision.
func (a *ackRecorder) loaded(s *snapshot) {
	if a.on {
		a.seenMu.Lock()
		a.revision = s.config.Revision
		a.seen = map[slotKey]ackSeen{}
		a.seenMu.Unlock()
	}
}

// note folds one report into the slot's state (kind: used or loaded).
func (a *ackRecorder) note(n ackNote) {
	st := a.state[n.key]
	if st == nil {
		st = &[3]string{"", "", a.revision}
		a.state[n.key] = st
	}
	next := *st
	if n.kind == "used" {
		next[0] = n.fp
		next[2] = n.revis
		if next[2] == "" {
			next[2] = a.revision
		}
	} else {
		next[1] = n.fp
	}
	if _, ok := a.written[n.key]; next != *st || !ok {
		*st = next
		a.pending[n.key] = true
	}
}

// poll folds in the loaded keys and marks slots due for a heartbeat.
func (a *ackRecorder) poll(now time.Time) {
	if a.source != nil {
		loaded := a.source()
		keys := make([]slotKey, 0, len(loaded))
		for k := range loaded {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].provider+"/"+keys[i].slot < keys[j].provider+"/"+keys[j].slot })
		for _, k := range keys {
			a.note(ackNote{k, "loaded", loaded[k], ""})
		}
	}
	for k, w := range a.written {
		if now.Sub(w.at) >= a.refresh {
			a.pending[k] = true
		}
	}
}

func (a *ackRecorder) drain() {
	for {
		select {
		case n := <-a.ch:
			a.note(n)
		default:
			return
		}
	}
}

func (a *ackRecorder) stop() {
	if a.on {
		a.stopOnce.Do(func() { close(a.done) })
	}
}

// loadedKeys is (provider, slot) -> the fingerprint of the key loaded now ("" none),
// for every route this client can call: what `loaded` acknowledgements report.
func (c *Client) loadedKeys() map[slotKey]string {
	out := map[slotKey]string{}
	for _, r := range c.snap.Load().routers {
		for _, rs := range r.routes {
			if rs.usable {
				out[slotKey{rs.route.Provider, rs.route.Slot}] = fp(rs.key.get())
			}
		}
	}
	return out
}

func seconds(v any) time.Duration {
	switch x := v.(type) {
	case interface{ Float64() (float64, error) }:
		f, _ := x.Float64()
		return time.Duration(f * float64(time.Second))
	case float64:
		return time.Duration(x * float64(time.Second))
	}
	return 0
}
