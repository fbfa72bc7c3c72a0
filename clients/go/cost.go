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
