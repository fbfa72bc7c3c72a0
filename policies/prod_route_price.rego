# prod-route-price (deny): every route a production service calls has a price in the
# catalog (`providers.<p>.prices.<model>`), so its cost is counted and no model is
# silently free: the runtime records no cost for an unpriced model (never a wrong one),
# and a budget cannot see spend it has no price for. Waive it with a reason for a model
# that is really free (self-hosted) or priced elsewhere.
package aigw.rules.prod_route_price

deny contains {
	"msg": sprintf(
		"%s calls %s model %s (alias %s, route %d) in production without a price: add providers.%s.prices.%s (per million tokens, currency, as_of) so its cost is counted",
		[d.service, r.provider, r.model, alias, r.index, r.provider, r.model],
	),
	"path": ["models", alias, "routes", r.index, "model"],
	"service": d.service,
} if {
	some d in input.deployments
	d.prod
	some alias, routes in d.aliases
	some r in routes
	not r.priced
}
