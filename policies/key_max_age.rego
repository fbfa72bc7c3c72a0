# key-max-age (deny): no provider key lives longer than 90 days (`rotation.max_age`).
package aigw.rules.key_max_age

import data.aigw.lib

max_age_seconds := 90 * 86400

deny contains {
	"msg": sprintf(
		"provider %s keys may live %s (rotation.max_age): at most 90d",
		[name, prov.max_age],
	),
	"path": lib.override_path(object.get(prov, "view_env", null), ["providers", name, "rotation", "max_age"]),
	"service": null,
	"provider": name,
} if {
	some name, prov in input.providers
	prov.max_age_seconds > max_age_seconds
}

# An environment's override that lets keys live longer (judged on its merged view).
deny contains {
	"msg": sprintf(
		"provider %s keys may live %vd in %s (rotation.max_age): at most 90d",
		[name, round(prov.rotation.max_age / 86400), env],
	),
	"path": path,
	"service": null,
	"provider": name,
} if {
	some env, view in input.views
	some name, prov in view.providers
	prov.rotation.max_age > max_age_seconds
	path := ["environments", env, "overrides", "providers", name, "rotation", "max_age"]
	object.get(input.catalog, path, null) != null
}
