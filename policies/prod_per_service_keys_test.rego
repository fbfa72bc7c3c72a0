package aigw.rules.prod_per_service_keys_test

import data.aigw.rules.prod_per_service_keys

svc(envs, keys) := {
	"catalog": {"services": {"bot": {"keys": keys}}},
	"prod_environments": ["prod"],
	"services": {"bot": {"environments": envs, "prod": "prod" in envs}},
}

test_prod_shared_keys_denied if {
	some f in prod_per_service_keys.deny with input as svc(["staging", "prod"], "shared")
	f.service == "bot"
	f.path == ["services", "bot", "keys"]
	contains(f.msg, "runs in prod with shared keys")
}

test_prod_per_service_keys_pass if {
	count(prod_per_service_keys.deny) == 0 with input as svc(["prod"], "per-service")
}

test_staging_shared_keys_pass if {
	count(prod_per_service_keys.deny) == 0 with input as svc(["staging"], "shared")
}

# The merged prod view decides: per-service keys set only by prod's override pass...
test_prod_override_per_service_keys_pass if {
	count(prod_per_service_keys.deny) == 0 with input as object.union(svc(["staging", "prod"], "shared"), {
		"views": {"prod": {"services": {"bot": {"keys": "per-service"}}}},
	})
}

# ...and shared keys set only by prod's override are denied, at the override.
test_prod_override_shared_keys_denied if {
	inp := object.union(svc(["staging", "prod"], "per-service"), {
		"catalog": {"environments": {"prod": {"overrides": {"services": {"bot": {"keys": "shared"}}}}}},
		"views": {"prod": {"services": {"bot": {"keys": "shared"}}}},
	})
	some f in prod_per_service_keys.deny with input as inp
	f.path == ["environments", "prod", "overrides", "services", "bot", "keys"]
}
