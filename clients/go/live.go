package aigw

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Live config: the client follows its aigw-client.json as the agent replaces it.
// A changed file is parsed and swapped in as one new snapshot (calls in flight
// finish on theirs; unchanged routes keep cooldown and affinity), or rejected:
// the old config keeps serving and one warning says why. Bytes already served or
// rejected are never parsed again.

// ConfigStatus is what Client.ConfigStatus reports about following the config file.
type ConfigStatus struct {
	Revision  string    // the revision serving now ("" when the file has none)
	Rejection string    // why the last rejected file was rejected ("" if none yet)
	Rejected  int       // how many changed files were rejected
	Reloads   int       // how many new configs were swapped in
	LoadedAt  time.Time // when the serving config came in
	Following bool      // false when the client reads its config only once
}

type follower struct {
	c         *Client
	path      string
	interval  time.Duration
	nextCheck atomic.Int64
	mu        sync.Mutex
	sig       string
	serving   [32]byte
	refused   [32]byte
	missing   bool
	rejected  int
	rejection string
}

func newFollower(c *Client, cfg *Config) *follower {
	f := &follower{c: c, path: cfg.Path, interval: c.opts.ConfigCheckInterval, serving: cfg.sha}
	f.nextCheck.Store(nowNanos() + int64(f.interval))
	return f
}

// poll runs from the request path once the deadline passed, unless a check runs.
func (f *follower) poll() {
	if !f.mu.TryLock() {
		return // another goroutine is checking; keep serving the current snapshot
	}
	defer f.mu.Unlock()
	f.check()
}

// checkNow waits for a running check (the watcher, ReloadConfig).
func (f *follower) checkNow() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.check()
}

func (f *follower) check() {
	defer func() { f.nextCheck.Store(nowNanos() + int64(f.interval)) }()
	sig, ok := statSig([]string{f.path})
	if !ok {
		if !f.missing {
			f.missing = true
			f.reject(f.path + ": missing")
		}
		f.sig = ""
		return
	}
	f.missing = false
	if sig == f.sig {
		return
	}
	f.sig = sig
	data, err := readConfigFile(f.path)
	if err != nil {
		f.refused = [32]byte{}
		f.reject(err.Error())
		return
	}
	digest := sha256.Sum256(data)
	if digest == f.serving || digest == f.refused {
		return
	}
	if err := f.c.apply(data); err != nil {
		f.refused = digest
		f.reject(err.Error())
		return
	}
	f.serving, f.refused = digest, [32]byte{}
}

func (f *follower) reject(reason string) {
	f.rejected++
	f.rejection = reason
	slog.Warn(fmt.Sprintf("aigw config %s: rejected %s; the old config keeps serving",
		f.c.Config().Service, reason))
}

// apply swaps in the config in data, or returns why not (the old one keeps serving).
func (c *Client) apply(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil { // never let a new file break calls or the watcher
			err = fmt.Errorf("%s: cannot use it (%v)", c.Config().Path, r)
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	cfg, err := ConfigFromBytes(data, old.config.Path)
	if err != nil {
		return err
	}
	if cfg.Service != old.config.Service {
		return cfgErr("%s: service: %q is not this client's %q (a config for another service)",
			cfg.Path, cfg.Service, old.config.Service)
	}
	if cfg.Environment != old.config.Environment {
		return cfgErr("%s: environment: %q is not this client's %q (a config for another environment)",
			cfg.Path, cfg.Environment, old.config.Environment)
	}
	for alias, family := range cfg.Families {
		if was, ok := old.config.Families[alias]; ok && was != family {
			slog.Warn("aigw config: alias now speaks another family", "alias", alias,
				"family", family, "was", was)
		}
	}
	previous := c.keyFiles
	snap := c.build(cfg, old)
	for path, kf := range c.keyFiles {
		if previous[path] == nil && kf.get() == nil {
			slog.Warn("aigw: key file is missing or empty; its routes fail over until it appears",
				"path", path)
		}
	}
	c.snap.Store(snap) // the swap: calls from now on use the new snapshot
	c.reloads.Add(1)
	c.loadedAt.Store(time.Now().UnixNano())
	for _, r := range snap.routers {
		r.sessions.forget(func(ident string) bool { return r.byID[ident] != nil })
	}
	if c.watcher != nil {
		c.watcher.update()
	}
	c.acks.loaded(snap)
	slog.Info(fmt.Sprintf("aigw config %s: revision %s -> %s (%d aliases)", cfg.Service,
		describeRevision(old.config.Revision), describeRevision(cfg.Revision), len(snap.routers)))
	return nil
}

// ConfigStatus says which revision serves and what became of the files seen since.
func (c *Client) ConfigStatus() ConfigStatus {
	st := ConfigStatus{Revision: c.Revision(), Reloads: int(c.reloads.Load()),
		LoadedAt: time.Unix(0, c.loadedAt.Load()), Following: c.follower != nil}
	if f := c.follower; f != nil {
		f.mu.Lock()
		st.Rejected, st.Rejection = f.rejected, f.rejection
		f.mu.Unlock()
	}
	return st
}

// ReloadConfig looks at the config file now (as the poll and the watcher do).
func (c *Client) ReloadConfig() ConfigStatus {
	if c.follower != nil {
		c.follower.checkNow()
	}
	return c.ConfigStatus()
}
