# key-max-age (deny): no provider key lives longer than 90 days (`rotation.max_age`).
package aigw.rules.key_max_age

max_age_seconds := 90 * 86400

deny contains {
	"msg": sprintf(
		"provider %s keys may live %s (rotation.max_age): at most 90d",
		[name, prov.max_age],
	),
	"path": ["providers", name, "rotation", "max_age"],
	"service": null,
	"provider": name,
} if {
	some name, prov in input.providers
	prov.max_age_seconds > max_age_seconds
}
