package aigw.rules.residency_test

import data.aigw.rules.residency

dep(regions, route_region) := {
	"catalog": {"services": {"bot": {"regions": regions}}},
	"services": {"bot": {"prod": true, "regions_used": [route_region]}},
	"deployments": [{
		"service": "bot", "environment": "prod", "prod": true, "regions": regions,
		"aliases": {"chat": [{"index": 0, "provider": "p", "region": route_region}]},
	}],
}

test_route_outside_regions_denied if {
	some f in residency.deny with input as dep(["eu"], "cn")
	f.service == "bot"
	f.path == ["models", "chat", "routes", 0, "provider"]
	contains(f.msg, "region cn) is outside bot's regions [eu]")
}

test_route_inside_regions_pass if {
	count(residency.deny) == 0 with input as dep(["eu", "cn"], "cn")
	count(residency.warn) == 0 with input as dep(["eu", "cn"], "cn")
}

test_prod_without_regions_warned if {
	count(residency.deny) == 0 with input as dep(null, "cn")
	some f in residency.warn with input as dep(null, "cn")
	f.path == ["services", "bot"]
}
