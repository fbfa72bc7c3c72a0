package aigw.rules.prod_service_budget_test

import data.aigw.rules.prod_service_budget

svc(budget) := {
	"catalog": {"services": {"bot": {"budget": budget}}},
	"prod_environments": ["prod"],
	"services": {"bot": {"environments": ["prod"], "prod": true}},
}

test_prod_service_without_budget_warned if {
	some f in prod_service_budget.warn with input as svc(null)
	f.service == "bot"
	contains(f.msg, "runs in prod without a budget")
}

test_prod_service_with_budget_passes if {
	count(prod_service_budget.warn) == 0 with input as svc({"monthly": "500", "currency": "USD"})
}
