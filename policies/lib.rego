# Helpers shared by aigw's governance rules (and usable by your own).
# Input shape: docs/governance.md ("The input document").
package aigw.lib

# Names of the services deployed in at least one production environment.
prod_services contains name if {
	some name, svc in input.services
	svc.prod
}

# Names of the providers that serve at least one production deployment.
prod_providers contains name if {
	some name, prov in input.providers
	prov.prod
}

# The production environments a service runs in, comma-separated.
prod_envs_of(service) := concat(", ", sort([env |
	some env in input.services[service].environments
	env in input.prod_environments
]))

# "deepseek, volcengine": the distinct providers of a list of resolved routes.
providers_of(routes) := {r.provider | some r in routes}

# The catalog as environment ENV sees it: its overrides merged in (`input.views`
# holds the environments that have overrides; the others see `input.catalog`).
view(env) := input.views[env] if {
	input.views[env]
} else := input.catalog

# Where a value of ENV's view is written: at the environment's override when one
# sets it (["environments", env, "overrides", "services", name, "keys"]), else PATH.
override_path(env, path) := full if {
	full := array.concat(["environments", env, "overrides"], path)
	object.get(input.catalog, full, null) != null
} else := path
