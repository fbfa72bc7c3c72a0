# An example of a team rule: put your own rules in policies/ beside aigw.yaml.
# Any package under aigw.rules with a `deny` or `warn` set is a rule; its id is the
# package path below aigw.rules with _ written - (here: team.require-description).
# `aigw policy test` runs the *_test.rego files. Reference: aigw docs/governance.md
package aigw.rules.team.require_description

warn contains {
	"msg": sprintf("%s runs in production without a description: say what it does and who owns it", [name]),
	"path": ["services", name],
	"service": name,
} if {
	some name, svc in input.services
	svc.prod
	not described(name)
}

# A missing description is null in the input: `not null` would not be true in Rego.
described(name) if {
	text := input.catalog.services[name].description
	is_string(text)
	trim_space(text) != ""
}
