# prod-per-service-keys (deny): a service deployed to production uses its own key slots.
#
# `keys: per-service` gives each service its own key per provider: its own cost
# attribution, a leak limited to one service, and rotation on its own schedule.
package aigw.rules.prod_per_service_keys

import data.aigw.lib

deny contains {
	"msg": sprintf(
		"%s runs in %s with shared keys: production services need `keys: per-service` (own key, own cost attribution, rotated on its own)",
		[name, lib.prod_envs_of(name)],
	),
	"path": ["services", name, "keys"],
	"service": name,
} if {
	some name in lib.prod_services
	input.catalog.services[name].keys != "per-service"
}
