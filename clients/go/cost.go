package aigw

import (
	"encoding/json"
	"math/big"
)

// What a call cost: tokens by billed class times the route's price, per million
// tokens, in the price's currency (spec/metrics.md "Cost"; the Python client's
// client/cost.py). The price is the route's "price" in aigw-client.json, rendered
// from the catalog's prices. Arithmetic is exact (big.Rat over the decimal strings).
// reasoning without a price of its own is billed at the output price; any other
// class with tokens but no price makes the cost unknown: no price, no cost.

// Price is one model's per-million-token prices by billed class, in Currency.
type Price struct {
	Currency   string
	AsOf       string
	PerMillion map[string]*big.Rat

	// The same prices as integers over one denominator (per token), for the
	// metrics goroutine: no big.Rat per call. Set by prepare when they fit.
	scaled [numClasses]int64
	priced [numClasses]bool
	denom  int64 // 0: not prepared (use cost)
}

// scaledLimit bounds a scaled price so tokens x price stays far inside int64.
const scaledLimit = 1 << 32

// prepare sets the integer form of p's prices when every denominator fits.
func (p *Price) prepare() {
	lcm := big.NewInt(1)
	var g big.Int
	for i := range tokenClasses {
		if r := p.of(tokenClasses[i]); r != nil {
			d := r.Denom()
			lcm.Mul(lcm, new(big.Int).Quo(d, g.GCD(nil, nil, lcm, d)))
		}
	}
	denom := new(big.Int).Mul(lcm, big.NewInt(1_000_000))
	if !denom.IsInt64() {
		return
	}
	for i := range tokenClasses {
		r := p.of(tokenClasses[i])
		if r == nil {
			continue
		}
		n := new(big.Int).Mul(r.Num(), new(big.Int).Quo(lcm, r.Denom()))
		if !n.IsInt64() || n.Int64() > scaledLimit || n.Int64() < 0 {
			return
		}
		p.scaled[i], p.priced[i] = n.Int64(), true
	}
	p.denom = denom.Int64()
}

// costScaled is cost(t, p) as a numerator over p.denom; false when a class with
// tokens has no price, p is not prepared, or the sum could overflow.
func costScaled(t tokens, p *Price) (int64, bool) {
	if p == nil || p.denom == 0 {
		return 0, false
	}
	var sum int64
	for i, n := range t {
		if n == 0 {
			continue
		}
		if !p.priced[i] || n > scaledLimit {
			return 0, false
		}
		sum += n * p.scaled[i]
		if sum < 0 || sum > 1<<62 {
			return 0, false
		}
	}
	return sum, true
}

var million = big.NewRat(1_000_000, 1)

// of is the price of class per million tokens, nil when it has none.
func (p *Price) of(class string) *big.Rat {
	if v := p.PerMillion[class]; v != nil {
		return v
	}
	if class == "reasoning" {
		return p.PerMillion["output"]
	}
	return nil
}

// cost of t at p; false when p is nil or a class with tokens has no price.
func cost(t tokens, p *Price) (*big.Rat, bool) {
	if p == nil {
		return nil, false
	}
	total := new(big.Rat)
	var term big.Rat
	for i, n := range t {
		if n == 0 {
			continue
		}
		per := p.of(tokenClasses[i])
		if per == nil {
			return nil, false
		}
		total.Add(total, term.Mul(per, new(big.Rat).SetInt64(n)))
	}
	return total.Quo(total, million), true
}

// priceFromJSON reads a route's "price" ({"currency", "as_of", "per_million":
// {class: "decimal string"}}); nil when absent or malformed (the route is then unpriced).
func priceFromJSON(v any) *Price {
	m, ok := v.(obj)
	if !ok {
		return nil
	}
	cur, ok := m["currency"].(string)
	if !ok {
		return nil
	}
	raw, ok := m["per_million"].(obj)
	if !ok {
		return nil
	}
	p := &Price{Currency: cur, PerMillion: make(map[string]*big.Rat, len(raw))}
	if s, ok := m["as_of"].(string); ok {
		p.AsOf = s
	}
	for class, x := range raw {
		var s string
		switch y := x.(type) {
		case string:
			s = y
		case json.Number:
			s = string(y)
		default:
			return nil
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return nil
		}
		p.PerMillion[class] = r
	}
	p.prepare()
	return p
}

// samePrice: a and b price every class the same (a config reload keeps a route's
// state only when its price did not change).
func samePrice(a, b *Price) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Currency != b.Currency || a.AsOf != b.AsOf || len(a.PerMillion) != len(b.PerMillion) {
		return false
	}
	for k, v := range a.PerMillion {
		if w := b.PerMillion[k]; w == nil || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}
