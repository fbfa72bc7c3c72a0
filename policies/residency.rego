# residency: no route leaves a service's allowed regions (deny), and a production
# service declares its regions so that residency is checked at all (warn).
#
# `aigw validate` refuses a catalog breaking the first part too; the rule keeps the
# guarantee in the governance report and holds for rules that widen `input`.
package aigw.rules.residency

deny contains {
	"msg": sprintf(
		"models.%s.routes[%d] (%s, region %s) is outside %s's regions [%s]",
		[alias, r.index, r.provider, r.region, d.service, concat(", ", d.regions)],
	),
	"path": ["models", alias, "routes", r.index, "provider"],
	"service": d.service,
} if {
	some d in input.deployments
	d.regions != null
	some alias, routes in d.aliases
	some r in routes
	not r.region in d.regions
}

warn contains {
	"msg": sprintf(
		"%s runs in production without `regions:`: declare where its data may be processed so residency is checked (it uses %s)",
		[name, concat(", ", svc.regions_used)],
	),
	"path": ["services", name],
	"service": name,
} if {
	some name, svc in input.services
	svc.prod
	input.catalog.services[name].regions == null
}
