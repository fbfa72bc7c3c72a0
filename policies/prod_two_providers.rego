# prod-two-providers (deny): every alias a production service uses has at least two
# routes on at least two different providers, so one provider's outage (or a revoked
# key) does not take the service down.
package aigw.rules.prod_two_providers

import data.aigw.lib

deny contains {
	"msg": sprintf(
		"alias %s serves %s in production with %d route(s) on %d provider(s) (%s): production aliases need at least two routes on two different providers",
		[alias, d.service, count(routes), count(providers), concat(", ", sort(providers))],
	),
	"path": ["models", alias, "routes"],
	"service": d.service,
} if {
	some d in input.deployments
	d.prod
	some alias, routes in d.aliases
	providers := lib.providers_of(routes)
	too_thin(routes, providers)
}

too_thin(routes, _) if count(routes) < 2

too_thin(_, providers) if count(providers) < 2
