package aigw

import (
	"context"
	"math/big"
	"strings"
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
// billed classes, summed) and aigw.client.cost ({currency}, only when the route's
// price names every class the call used). A call only puts one item on a bounded
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
	// gen_ai.provider.name: the conventions' well-known values, by host then wire API.
	providerByHost = map[string]string{"api.openai.com": "openai", "api.deepseek.com": "deepseek",
		"api.anthropic.com": "anthropic", "api.mistral.ai": "mistral_ai", "api.groq.com": "groq",
		"api.x.ai": "x_ai", "api.perplexity.ai": "perplexity", "api.cohere.com": "cohere",
		"generativelanguage.googleapis.com": "gcp.gemini"}
	providerByAPI = map[string]string{"anthropic": "anthropic", "bedrock": "aws.bedrock",
		"bedrock-api-key": "aws.bedrock"}
	// unsetMeters is otel's global meter provider before any SetMeterProvider.
	unsetMeters = otel.GetMeterProvider()
)

// providerName is a route's gen_ai.provider.name: a well-known value where one
// applies, else the catalog's provider name.
func providerName(api, host, provider string) string {
	if v, ok := providerByHost[host]; ok {
		return v
	}
	if strings.HasSuffix(host, ".openai.azure.com") {
		return "azure.ai.openai"
	}
	if v, ok := providerByAPI[api]; ok {
		return v
	}
	return provider
}

// metricsItem is one finished call, as the request path queues it.
type metricsItem struct {
	alias, operation, outcome string
	rs                        *routeState // nil: no route answered
	seconds                   float64
	body                      []byte   // a whole JSON answer
	stream                    bool     // a stream: its usage is in events
	events                    [][]byte // a stream's usage events
}

type baseKey struct {
	alias, operation string
	rs               *routeState
}

type modelKey struct {
	base  baseKey
	model string
}

type sumKey struct {
	modelKey
	class string // a token class, or a currency
}

type tokenSets struct {
	attrs   []attribute.KeyValue // base + gen_ai.response.model
	in, out metric.MeasurementOption
}

type tokenSum struct {
	n   int64
	set attribute.Set
}

// costSum is a batch's cost for one attribute set: num/denom (the price's integer
// form), plus extra for what did not fit it.
type costSum struct {
	num, denom int64
	extra      *big.Rat
	set        attribute.Set
}

// metricsRecorder is the bounded channel of finished calls and the goroutine that records them.
type metricsRecorder struct {
	service, environment string
	ch                   chan metricsItem
	quit                 chan struct{}
	gone                 chan struct{}
	queued, done         atomic.Int64
	dropped              atomic.Int64 // calls not queued (channel full)

	duration   metric.Float64Histogram
	tokens     metric.Int64Histogram
	classes    metric.Int64Counter
	cost       metric.Float64Counter
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
	}
}

// batch records it and every call queued behind it, then adds the counters once
// per attribute set.
func (r *metricsRecorder) batch(it metricsItem) {
	n := int64(0)
	for {
		r.one(it)
		n++
		select {
		case it = <-r.ch:
			continue
		default:
		}
		break
	}
	r.addSums()
	r.done.Add(n)
}

// addSums adds the batch's counter sums, once per attribute set.
func (r *metricsRecorder) addSums() {
	ctx := context.Background()
	for _, s := range r.classSums {
		r.classes.Add(ctx, s.n, metric.WithAttributeSet(s.set))
	}
	for _, s := range r.costSums {
		amount := new(big.Rat)
		if s.num != 0 {
			amount.SetFrac64(s.num, s.denom)
		}
		if s.extra != nil {
			amount.Add(amount, s.extra)
		}
		f, _ := amount.Float64()
		r.cost.Add(ctx, f, metric.WithAttributeSet(s.set))
	}
	r.classSums, r.costSums = map[sumKey]*tokenSum{}, map[sumKey]*costSum{}
}

func (r *metricsRecorder) one(it metricsItem) {
	defer func() { _ = recover() }() // a bug here must not stop the goroutine
	ctx := context.Background()
	key := baseKey{it.alias, it.operation, it.rs}
	attrs, ok := r.base[key]
	if !ok {
		if len(r.base) > attrCacheMax {
			r.resetCaches()
		}
		attrs = r.baseAttrs(key)
		r.base[key] = attrs
		r.baseSets[key] = metric.WithAttributeSet(attribute.NewSet(attrs...))
	}
	success := it.outcome == "ok" || it.outcome == "closed"
	if success {
		r.duration.Record(ctx, it.seconds, r.baseSets[key])
	} else {
		errs := r.errSets[key]
		if errs == nil {
			errs = map[string]metric.MeasurementOption{}
			r.errSets[key] = errs
		}
		opt, ok := errs[it.outcome]
		if !ok {
			opt = metric.WithAttributeSet(attribute.NewSet(append(attrs[:len(attrs):len(attrs)],
				attribute.String("error.type", it.outcome))...))
			errs[it.outcome] = opt
		}
		r.duration.Record(ctx, it.seconds, opt)
	}
	if it.rs == nil || (!success && it.outcome != "interrupted") {
		return
	}
	family := OpenAI
	if it.rs.wire != nil {
		family = it.rs.wire.Family
	}
	var t tokens
	var model string
	if it.stream {
		t, model, ok = usageFromEvents(it.events, family)
	} else {
		t, model, ok = usageFromBody(it.body, family)
	}
	if !ok {
		return
	}
	mk := modelKey{key, model}
	ts := r.tokenAttrs[mk]
	if ts == nil {
		a := attrs[:len(attrs):len(attrs)]
		if model != "" {
			a = append(a, attribute.String("gen_ai.response.model", model))
		}
		ts = &tokenSets{attrs: a,
			in: metric.WithAttributeSet(attribute.NewSet(append(a[:len(a):len(a)],
				attribute.String("gen_ai.token.type", "input"))...)),
			out: metric.WithAttributeSet(attribute.NewSet(append(a[:len(a):len(a)],
				attribute.String("gen_ai.token.type", "output"))...))}
		r.tokenAttrs[mk] = ts
	}
	r.tokens.Record(ctx, t.inputTotal(), ts.in)
	r.tokens.Record(ctx, t.outputTotal(), ts.out)
	for i, n := range t {
		if n == 0 && i != classInput && i != classOutput {
			continue
		}
		sk := sumKey{mk, tokenClasses[i]}
		s := r.classSums[sk]
		if s == nil {
			s = &tokenSum{set: attribute.NewSet(append(ts.attrs[:len(ts.attrs):len(ts.attrs)],
				attribute.String("aigw.token.type", tokenClasses[i]))...)}
			r.classSums[sk] = s
		}
		s.n += n
	}
	price := it.rs.route.Price
	num, exact := costScaled(t, price)
	var amount *big.Rat
	if !exact {
		if amount, ok = cost(t, price); !ok {
			return // no price, no cost
		}
	}
	sk := sumKey{mk, "\x00" + price.Currency}
	s := r.costSums[sk]
	if s == nil {
		s = &costSum{denom: price.denom, set: attribute.NewSet(append(
			ts.attrs[:len(ts.attrs):len(ts.attrs)], attribute.String("aigw.currency", price.Currency))...)}
		r.costSums[sk] = s
	}
	if exact && s.denom == price.denom && s.num <= 1<<62-num {
		s.num += num
		return
	}
	if amount == nil {
		amount = new(big.Rat).SetFrac64(num, price.denom)
	}
	if s.extra == nil {
		s.extra = new(big.Rat)
	}
	s.extra.Add(s.extra, amount)
}

// baseAttrs are the attributes every instrument carries for a call of key.
func (r *metricsRecorder) baseAttrs(key baseKey) []attribute.KeyValue {
	attrs := []attribute.KeyValue{attribute.String("gen_ai.operation.name", key.operation),
		attribute.String("aigw.service", r.service), attribute.String("aigw.environment", r.environment),
		attribute.String("aigw.alias", key.alias)}
	rs := key.rs
	if rs == nil {
		return attrs
	}
	rt := rs.route
	attrs = append(attrs, attribute.String("gen_ai.provider.name", providerName(rt.API, rs.host, rt.Provider)),
		attribute.String("aigw.provider", rt.Provider), attribute.String("gen_ai.request.model", rt.Model),
		attribute.String("aigw.slot", rt.Slot), attribute.Int("aigw.route", rs.index))
	if rs.host != "" && !(rs.wire != nil && rs.wire.Bedrock() && rt.BaseURL == BedrockBaseURL(rt.AWSRegion)) {
		attrs = append(attrs, attribute.String("server.address", rs.host))
	}
	return attrs
}
