package aigw.rules.team.require_description_test

import data.aigw.rules.team.require_description

catalog(description) := {
	"services": {"bot": {"prod": true}},
	"catalog": {"services": {"bot": {"description": description}}},
}

test_missing_description_warned if {
	some f in require_description.warn with input as catalog(null)
	f.service == "bot"
}

test_description_pass if {
	count(require_description.warn) == 0 with input as catalog("Answers customers")
}
