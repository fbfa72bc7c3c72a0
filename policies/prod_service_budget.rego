# prod-service-budget (warn): a service deployed to production declares a monthly
# budget (`services.<s>.budget: {monthly, currency}`), so `aigw usage --check-budgets`
# can tell when it is over, or on track to be.
package aigw.rules.prod_service_budget

import data.aigw.lib

warn contains {
	"msg": sprintf(
		"%s runs in %s without a budget: add `budget: {monthly: \"500\", currency: USD}` so the scheduled `aigw usage --check-budgets` alerts before the bill does",
		[name, lib.prod_envs_of(name)],
	),
	"path": ["services", name],
	"service": name,
} if {
	some name in lib.prod_services
	input.catalog.services[name].budget == null
}
