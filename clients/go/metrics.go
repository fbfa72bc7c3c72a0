package aigw

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// OpenTelemetry GenAI client metrics, recorded off the request path
// (spec/metrics.md, the same names, units, attributes and values as the Python
// client): gen_ai.client.operation.duration (s), gen_ai.client.token.usage
// ({token}, input/output totals), aigw.client.token.usage ({token}, the disjoint
// billed classes, summed), aigw.client.cost ({currency}, only when the route's
// price names every class the call used) and aigw.client.metrics.dropped ({call},
// aigw.service and aigw.environment only). A call only puts one item on a bounded
// channel (dropped, and counted, when full: never a wait); one goroutine drains it
// every 50 ms, parses the usage and records. Without a meter provider (none given, and otel's
// global one never set) a call does no metrics work at all.

const (
	meterName       = "aigw.client"
	semconvSchema   = "https://opentelemetry.io/schemas/1.44.0"
	metricsQueueLen = 4096
	metricsPoll     = 50 * time.Millisecond // the goroutine drains the channel this often
	attrCacheMax    = 4096                  // attribute sets kept (old revisions' routes are dropped past it)
)

var (
	durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12,
		10.24, 20.48, 40.96, 81.92}
	tokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576,
		4194304, 16777216, 67108864}
	// unsetMeters is otel's global meter provider before any SetMeterProvider.
	unsetMeters = otel.GetMeterProvider()
)

// metricsItem is one finished call, as the request path queues it.
type metricsItem struct {
	alias, operation, outcome string
	rs                        *routeState // nil: no route answered
	seconds                   float64
	body                      []byte   // a whole JSON answer
	stream                    bool     // a stream: its usage is in events
	events                    [][]byte // a stream's usage events
}

// metricsRecorder is the bounded channel of finished calls and the goroutine that records them.
type metricsRecorder struct {
	service, environment string
	ch                   chan metricsItem
	quit                 chan struct{}
	gone                 chan struct{}
	queued, done         atomic.Int64
	dropped              atomic.Int64 // calls not queued (channel full)
	droppedAdded         int64        // of which the drops counter has seen (the goroutine's)

	duration   metric.Float64Histogram
	tokens     metric.Int64Histogram
	classes    metric.Int64Counter
	cost       metric.Float64Counter
	drops      metric.Int64Counter
	scope      metric.MeasurementOption         // aigw.service, aigw.environment
	base       map[baseKey][]attribute.KeyValue // the goroutine's own caches
	baseSets   map[baseKey]metric.MeasurementOption
	errSets    map[baseKey]map[string]metric.MeasurementOption
	tokenAttrs map[modelKey]*tokenSets
	classSums  map[sumKey]*tokenSum
	costSums   map[sumKey]*costSum
}

func newMetricsRecorder(mp metric.MeterProvider, service, env string, queue int) (*metricsRecorder, error) {
	m := mp.Meter(meterName, metric.WithSchemaURL(semconvSchema))
	r := &metricsRecorder{service: service, environment: env, ch: make(chan metricsItem, queue),
		quit: make(chan struct{}), gone: make(chan struct{})}
	var err error
	if r.duration, err = m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("GenAI operation duration"),
		metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		return nil, err
	}
	if r.tokens, err = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used"),
		metric.WithExplicitBucketBoundaries(tokenBuckets...)); err != nil {
		return nil, err
	}
	if r.classes, err = m.Int64Counter("aigw.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Tokens by billed class (aigw.token.type)")); err != nil {
		return nil, err
	}
	if r.cost, err = m.Float64Counter("aigw.client.cost", metric.WithUnit("{currency}"),
		metric.WithDescription("Cost of calls at the catalog's prices")); err != nil {
		return nil, err
	}
	if r.drops, err = m.Int64Counter("aigw.client.metrics.dropped", metric.WithUnit("{call}"),
		metric.WithDescription("Calls whose metrics were dropped (the recording queue was full)")); err != nil {
		return nil, err
	}
	r.scope = metric.WithAttributeSet(attribute.NewSet(
		attribute.String("aigw.service", service), attribute.String("aigw.environment", env)))
	r.resetCaches()
	r.classSums, r.costSums = map[sumKey]*tokenSum{}, map[sumKey]*costSum{}
	go r.run()
	return r, nil
}

func (r *metricsRecorder) resetCaches() {
	r.base = map[baseKey][]attribute.KeyValue{}
	r.baseSets = map[baseKey]metric.MeasurementOption{}
	r.errSets = map[baseKey]map[string]metric.MeasurementOption{}
	r.tokenAttrs = map[modelKey]*tokenSets{}
}

// record queues one finished call; it never blocks.
func (r *metricsRecorder) record(it metricsItem) {
	select {
	case r.ch <- it:
		r.queued.Add(1)
	default:
		r.dropped.Add(1)
	}
}

// flush waits (up to timeout) until every queued call is recorded.
func (r *metricsRecorder) flush(timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for r.done.Load() < r.queued.Load() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// stop records what is queued, then ends the goroutine.
func (r *metricsRecorder) stop() {
	r.flush(2 * time.Second)
	close(r.quit)
	<-r.gone
}

// run drains the channel every metricsPoll (and once more when stopped). It
// polls rather than blocks on the channel: a receiver parked on it would be woken
// by each call's send, and that wake-up (a futex call when a P is idle) would be
// the request path's cost.
func (r *metricsRecorder) run() {
	defer close(r.gone)
	tick := time.NewTicker(metricsPoll)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			r.drain()
		case <-r.quit:
			r.drain()
			return
		}
	}
}

func (r *metricsRecorder) drain() {
	select {
	case it := <-r.ch:
		r.batch(it)
	default:
		r.addDropped()
	}
}

// addDropped adds the calls dropped since the last time to aigw.client.metrics.dropped.
func (r *metricsRecorder) addDropped() {
	if d := r.dropped.Load() - r.droppedAdded; d > 0 {
		r.droppedAdded += d
		r.drops.Add(context.Background(), d, r.scope)
	}
}
