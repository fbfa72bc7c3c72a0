package aigw.rules.key_max_age_test

import data.aigw.rules.key_max_age

prov(seconds, text) := {"providers": {"p": {"max_age_seconds": seconds, "max_age": text}}}

test_longer_than_90_days_denied if {
	some f in key_max_age.deny with input as prov(91 * 86400, "91d")
	f.provider == "p"
	f.path == ["providers", "p", "rotation", "max_age"]
}

test_90_days_pass if {
	count(key_max_age.deny) == 0 with input as prov(90 * 86400, "90d")
}

test_an_override_longer_than_90_days_denied_there if {
	path := ["environments", "staging", "overrides", "providers", "p", "rotation", "max_age"]
	inp := object.union(prov(30 * 86400, "30d"), {
		"catalog": {"environments": {"staging": {"overrides": {"providers": {"p": {"rotation": {"max_age": 200 * 86400}}}}}}},
		"views": {"staging": {"providers": {"p": {"rotation": {"max_age": 200 * 86400}}}}},
	})
	some f in key_max_age.deny with input as inp
	f.path == path
	contains(f.msg, "200d in staging")
}
