package aigw

import (
	"context"
	"math/big"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// The metrics goroutine's work per drained batch (metrics.go queues the calls):
// each call's duration and token histograms, its classes and cost summed per
// attribute set, and the sums added once per batch. Attribute sets are built
// once per route and response model (metricattrs.go).

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
	r.addDropped()
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
