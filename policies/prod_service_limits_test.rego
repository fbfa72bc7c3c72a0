package aigw.rules.prod_service_limits_test

import data.aigw.rules.prod_service_limits

apis := {"openai": {"what": "OpenAI project rate limits", "fields": ["rpm", "tpm", "rpd"]}}

doc(keys, limits, api) := {
	"catalog": {"services": {"bot": {"limits": limits}}},
	"limit_apis": apis,
	"prod_environments": ["prod"],
	"services": {"bot": {"environments": ["prod"], "prod": true}},
	"deployments": [{
		"service": "bot", "environment": "prod", "prod": true, "keys": keys,
		"aliases": {"chat": [{"index": 0, "provider": "openai", "model": "gpt-4o", "limit_api": api}]},
	}],
}

test_per_service_keys_without_limits_warned if {
	some f in prod_service_limits.warn with input as doc("per-service", null, "openai")
	f.service == "bot"
	f.path == ["services", "bot"]
	contains(f.msg, "bot runs in prod with per-service keys at openai (OpenAI project rate limits) but declares no `limits`")
	contains(f.msg, "`limits: {chat: {rpm: 500}}`")
}

test_limits_declared_passes if {
	count(prod_service_limits.warn) == 0 with input as doc("per-service", {"chat": {"rpm": 5}}, "openai")
}

test_only_removed_limits_warned if {
	count(prod_service_limits.warn) == 1 with input as doc("per-service", {"chat": null}, "openai")
}

test_shared_keys_pass if {
	count(prod_service_limits.warn) == 0 with input as doc("shared", null, "openai")
}

test_provider_without_limit_api_passes if {
	count(prod_service_limits.warn) == 0 with input as doc("per-service", null, null)
}
