# budget-shared-slot (warn): a service with a budget calls through key slots another
# service uses too. The provider reports spend per key, so those slots' spend cannot be
# attributed to one service: the budget sees the whole slot (or nothing of it).
package aigw.rules.budget_shared_slot

warn contains {
	"msg": sprintf(
		"%s has a budget but shares key slot(s) %s in %s with other services: spend on a shared key cannot be attributed to one service (use `keys: per-service`)",
		[d.service, concat(", ", sort(shared)), d.environment],
	),
	"path": ["services", d.service, "budget"],
	"service": d.service,
} if {
	some d in input.deployments
	input.catalog.services[d.service].budget != null
	shared := {sprintf("%s/%s (with %s)", [r.provider, r.slot, concat(", ", sort(others))]) |
		some routes in d.aliases
		some r in routes
		others := users(d, r)
		count(others) > 0
	}
	count(shared) > 0
}

# The other services of d's environment that use route r's slot.
users(d, r) := {o.service |
	some o in input.deployments
	o.environment == d.environment
	o.service != d.service
	some ors in o.aliases
	some x in ors
	x.provider == r.provider
	x.slot == r.slot
}
