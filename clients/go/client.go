// Package aigw is the Go runtime of aigw: an http.RoundTripper that sends each
// request of an official SDK (openai-go, anthropic-sdk-go) to a model alias's
// routes, with failover, cooldown, key files re-read on change, and the config
// file followed live. The rules are aigw's spec (spec/README.md); this package
// implements them and runs its vectors.
package aigw

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// EnvConfig names the environment variable with the config's path (as aigw.env writes it).
const EnvConfig = "AIGW_CLIENT_CONFIG"

// Options tune a Client; the zero value is the production default.
type Options struct {
	// Base sends the requests to providers (default: a clone of http.DefaultTransport).
	Base http.RoundTripper
	// OnAttempt is called with every Attempt (never a key value).
	OnAttempt func(Attempt)
	// NoSessionAffinity turns off the x-aigw-session header's effect.
	NoSessionAffinity bool
	// KeyCheckInterval bounds how often a key file is stat'ed (default 100 ms).
	KeyCheckInterval time.Duration
	// NoWatch turns off the fsnotify watcher of key and config files (polling stays).
	NoWatch bool
	// NoFollow reads the config file once instead of following it.
	NoFollow bool
	// ConfigCheckInterval bounds how often the config file is stat'ed (default 100 ms).
	ConfigCheckInterval time.Duration
	// Clock gives seconds on a monotonic scale, for cooldowns (default: the process clock).
	Clock func() float64
	// Rand draws weighted first routes, in [0, 1) (default: math/rand/v2).
	Rand func() float64
	// TracerProvider for spans (default: otel's global one).
	TracerProvider trace.TracerProvider
	// MeterProvider for the metrics of spec/metrics.md (default: otel's global one;
	// without one set, calls do no metrics work).
	MeterProvider metric.MeterProvider

	acks *ackRecorder // the vector runner's recorder (no goroutine, no OpenBao)
}

// snapshot is what one config revision serves with: swapped in whole, never changed after.
type snapshot struct {
	config  *Config
	routers map[string]*aliasRouter
}

// Client holds a service's config, routers, key files, watcher and telemetry.
// It is safe for concurrent use.
type Client struct {
	opts      Options
	snap      atomic.Pointer[snapshot]
	mu        sync.Mutex // builds and swaps
	keyFiles  map[string]*keyFile
	follower  *follower
	watcher   *watcher
	telemetry *telemetry
	acks      *ackRecorder
	reloads   atomic.Int64
	loadedAt  atomic.Int64
	closed    atomic.Bool
}

// New builds a Client from a parsed config. A config read from a file (Path set)
// is followed live unless opts.NoFollow.
func New(cfg *Config, opts Options) (*Client, error) {
	if opts.KeyCheckInterval <= 0 {
		opts.KeyCheckInterval = 100 * time.Millisecond
	}
	if opts.ConfigCheckInterval <= 0 {
		opts.ConfigCheckInterval = 100 * time.Millisecond
	}
	if opts.Clock == nil {
		opts.Clock = func() float64 { return float64(nowNanos()) / 1e9 }
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Base == nil {
		opts.Base = http.DefaultTransport.(*http.Transport).Clone()
	}
	c := &Client{opts: opts, keyFiles: map[string]*keyFile{}}
	c.snap.Store(c.build(cfg, nil))
	c.loadedAt.Store(time.Now().UnixNano())
	for _, kf := range c.keyFiles {
		if kf.get() == nil {
			slog.Warn("aigw: key file is missing or empty; its routes fail over until it appears",
				"path", kf.path)
		}
	}
	c.telemetry = newTelemetry(cfg.Service, cfg.Environment, opts.TracerProvider, opts.MeterProvider)
	if opts.acks != nil {
		c.acks = opts.acks
		c.acks.source = c.loadedKeys
	} else {
		c.acks = newAckRecorder(c, cfg)
	}
	if cfg.Path != "" && !opts.NoFollow {
		c.follower = newFollower(c, cfg)
	}
	slog.Info("aigw config: revision - -> "+describeRevision(cfg.Revision), "service",
		cfg.Service, "aliases", len(cfg.Aliases))
	if !opts.NoWatch {
		c.watcher = startWatcher(c)
	}
	return c, nil
}

// FromFile loads aigw-client.json at path and follows it.
func FromFile(path string, opts Options) (*Client, error) {
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts)
}

// FromEnv loads the config named by AIGW_CLIENT_CONFIG.
func FromEnv(opts Options) (*Client, error) {
	path := os.Getenv(EnvConfig)
	if path == "" {
		return nil, &ConfigError{EnvConfig + " is not set"}
	}
	return FromFile(path, opts)
}

// Close stops the file watcher and the acknowledgement writer, and records the
// metrics of calls still queued.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.watcher != nil {
		c.watcher.stop()
	}
	c.acks.stop()
	c.telemetry.stop()
	return nil
}

// FlushMetrics waits (up to timeout) until the metrics of every finished call are
// recorded; false on timeout. A no-op without a meter provider.
func (c *Client) FlushMetrics(timeout time.Duration) bool {
	if r := c.telemetry.rec.Load(); r != nil {
		return r.flush(timeout)
	}
	return true
}

// Config is the config serving now.
func (c *Client) Config() *Config { return c.snap.Load().config }

// Revision is the revision of the config serving now ("" when its file has none).
func (c *Client) Revision() string { return c.snap.Load().config.Revision }

// Aliases are the model aliases this service may call, sorted.
func (c *Client) Aliases() []string {
	snap := c.snap.Load()
	out := make([]string, 0, len(snap.routers))
	for a := range snap.routers {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// router is the alias's router, or an *UnknownAliasError / *WrongFamilyError.
func (c *Client) router(alias, family string) (*aliasRouter, error) {
	if f := c.follower; f != nil && nowNanos() >= f.nextCheck.Load() {
		f.poll() // the hot path's only addition: a clock comparison
	}
	snap := c.snap.Load()
	r := snap.routers[alias]
	if r == nil {
		return nil, &UnknownAliasError{alias, snap.config.Service, c.Aliases()}
	}
	if family != "" && r.family != family {
		return nil, &WrongFamilyError{alias, r.family, family}
	}
	return r, nil
}

// build makes the snapshot of cfg; unchanged routes of old keep their state.
func (c *Client) build(cfg *Config, old *snapshot) *snapshot {
	kept := map[string]*routeState{}
	sess := map[string]*sessions{}
	if old != nil {
		for alias, r := range old.routers {
			sess[alias] = r.sessions
			for _, rs := range r.routes {
				kept[alias+"\x01"+rs.ident] = rs
			}
		}
	}
	keyFiles := map[string]*keyFile{}
	routers := map[string]*aliasRouter{}
	for alias, routes := range cfg.Aliases {
		family := cfg.Families[alias]
		states := make([]*routeState, len(routes))
		for i, r := range routes {
			states[i] = c.state(alias, family, i, r, keyFiles, kept)
		}
		routers[alias] = newAliasRouter(alias, family, states, cfg.Revision, c.opts.Clock,
			c.opts.Rand, sess[alias])
	}
	c.keyFiles = keyFiles
	return &snapshot{cfg, routers}
}

func (c *Client) state(alias, family string, index int, r *Route, keyFiles map[string]*keyFile,
	kept map[string]*routeState) *routeState {
	w := r.Wire()
	kf := keyFiles[r.KeyFile]
	if kf == nil {
		kf = c.keyFiles[r.KeyFile]
	}
	if kf == nil {
		kf = newKeyFile(r.KeyFile, c.opts.KeyCheckInterval, w != nil && w.Secret == "aws")
	}
	keyFiles[r.KeyFile] = kf
	usable := w != nil && w.Family == family
	old := kept[alias+"\x01"+r.Identity()]
	if old != nil && old.route.same(r) && old.index == index && old.key == kf && old.usable == usable {
		return old // the very same route: in-flight and new calls share its state
	}
	rs := newRouteState(r, index, kf, usable)
	if old != nil {
		rs.setCooldown(old.cooldownUntil())
	}
	return rs
}

func describeRevision(r string) string {
	if r == "" {
		return "-"
	}
	return r
}
