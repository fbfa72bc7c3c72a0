package aigw.rules.prod_two_providers_test

import data.aigw.rules.prod_two_providers

dep(env, routes) := {"deployments": [{
	"service": "bot", "environment": env, "prod": env == "prod",
	"aliases": {"chat": routes},
}]}

r(provider) := {"provider": provider, "model": "m"}

test_one_route_denied if {
	some f in prod_two_providers.deny with input as dep("prod", [r("a")])
	f.service == "bot"
	f.path == ["models", "chat", "routes"]
	contains(f.msg, "1 route(s) on 1 provider(s) (a)")
}

test_two_routes_one_provider_denied if {
	count(prod_two_providers.deny) == 1 with input as dep("prod", [r("a"), r("a")])
}

test_two_providers_pass if {
	count(prod_two_providers.deny) == 0 with input as dep("prod", [r("a"), r("b")])
}

test_staging_single_route_pass if {
	count(prod_two_providers.deny) == 0 with input as dep("staging", [r("a")])
}
