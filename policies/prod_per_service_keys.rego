# prod-per-service-keys (deny): a service deployed to production uses its own key slots.
#
# `keys: per-service` gives each service its own key per provider: its own cost
# attribution, a leak limited to one service, and rotation on its own schedule.
# Judged on what each production environment really gets: its merged view, with
# `environments.<e>.overrides` applied (lib.view).
package aigw.rules.prod_per_service_keys

import data.aigw.lib

deny contains {
	"msg": sprintf(
		"%s runs in %s with shared keys: production services need `keys: per-service` (own key, own cost attribution, rotated on its own)",
		[name, concat(", ", shared)],
	),
	"path": lib.override_path(shared[0], ["services", name, "keys"]),
	"service": name,
} if {
	some name in lib.prod_services
	shared := sort([env |
		some env in input.services[name].environments
		env in input.prod_environments
		lib.view(env).services[name].keys != "per-service"
	])
	count(shared) > 0
}
