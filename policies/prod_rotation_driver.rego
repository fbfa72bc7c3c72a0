# prod-rotation-driver (warn): a provider serving production rotates its keys with an
# automatic driver (openai-admin, aws-iam; anthropic-admin, which retires old keys
# through Anthropic's Admin API), or is waived with a reason.
#
# A warning, not a deny: several providers (DeepSeek, Volcengine, Bailian) have no
# documented key-management API, so `manual` is the only driver they can have
# (docs/rotation.md#key-management-per-provider). The warning keeps that visible in
# every PR until a waiver records the decision.
package aigw.rules.prod_rotation_driver

import data.aigw.lib

warn contains {
	"msg": sprintf(
		"provider %s serves production (%s) with rotation driver manual: someone must paste every new key; use an automatic driver where the provider has a key API, or waive this rule for it with a reason",
		[name, concat(", ", prov.prod_services)],
	),
	"path": lib.override_path(object.get(prov, "view_env", null), ["providers", name, "rotation", "driver"]),
	"service": null,
	"provider": name,
} if {
	some name, prov in input.providers
	prov.prod
	prov.driver == "manual"
}
