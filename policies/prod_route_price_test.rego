package aigw.rules.prod_route_price_test

import data.aigw.rules.prod_route_price

dep(prod, priced) := {"deployments": [{
	"service": "bot", "environment": "prod", "prod": prod,
	"aliases": {"chat": [{"index": 0, "provider": "openai", "model": "gpt-4o", "priced": priced}]},
}]}

test_unpriced_prod_route_denied if {
	some f in prod_route_price.deny with input as dep(true, false)
	f.service == "bot"
	f.path == ["models", "chat", "routes", 0, "model"]
	contains(f.msg, "without a price: add providers.openai.prices.gpt-4o")
}

test_priced_prod_route_passes if {
	count(prod_route_price.deny) == 0 with input as dep(true, true)
}

test_unpriced_staging_route_passes if {
	count(prod_route_price.deny) == 0 with input as dep(false, false)
}
