package aigw.rules.budget_shared_slot_test

import data.aigw.rules.budget_shared_slot

dep(service, slot) := {"service": service, "environment": "prod", "aliases": {"chat": [{"provider": "openai", "slot": slot}]}}

doc(bot_slot) := {
	"catalog": {"services": {"bot": {"budget": {"monthly": "5", "currency": "USD"}}, "other": {"budget": null}}},
	"deployments": [dep("bot", bot_slot), dep("other", "default")],
}

test_budget_on_shared_slot_warned if {
	some f in budget_shared_slot.warn with input as doc("default")
	f.service == "bot"
	contains(f.msg, "shares key slot(s) openai/default (with other) in prod")
}

test_budget_on_own_slot_passes if {
	count(budget_shared_slot.warn) == 0 with input as doc("svc-bot")
}
