# prod-service-limits (warn): a production service with its own keys (`keys: per-service`)
# at a provider that enforces rate limits through an API (OpenAI project rate limits,
# Anthropic workspace rate limits: `input.limit_apis`, from aigw.catalog.limits) declares
# `limits`, so the provider itself caps it: no proxy to bypass, no per-replica counter.
# Judged per production environment on its merged view (lib.view). Waive it for a
# service whose provider limits are managed elsewhere.
package aigw.rules.prod_service_limits

import data.aigw.lib

warn contains {
	"msg": sprintf(
		"%s runs in %s with per-service keys at %s (%s) but declares no `limits`: add e.g. `limits: {%s: {%s: 500}}` so the provider enforces its rate limits (docs/limits.md)",
		[name, concat(", ", sort(envs)), concat(", ", sort(provs)), concat("; ", sort(whats)), alias, field],
	),
	"path": ["services", name],
	"service": name,
} if {
	some name in lib.prod_services
	hits := [h | some h in bare; h.service == name]
	count(hits) > 0
	envs := {h.environment | some h in hits}
	provs := {h.provider | some h in hits}
	whats := {input.limit_apis[h.api].what | some h in hits}
	alias := min({h.alias | some h in hits})
	field := input.limit_apis[min({h.api | some h in hits; h.alias == alias})].fields[0]
}

# Each route at a provider with a limit API, of a production deployment with per-service
# keys whose environment's view sets no limit.
bare contains {
	"service": d.service, "environment": d.environment, "alias": alias,
	"provider": r.provider, "api": r.limit_api,
} if {
	some d in input.deployments
	d.prod
	d.keys == "per-service"
	not has_limits(d.environment, d.service)
	some alias, routes in d.aliases
	some r in routes
	r.limit_api != null
}

has_limits(env, name) if {
	some v in lib.view(env).services[name].limits
	v != null
}
