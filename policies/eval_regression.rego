# eval-regression (deny): a change to an alias a production service uses may not
# lower its eval score by more than the alias's declared `eval.max_drop`, nor leave
# it below `eval.floor`. The scores come from `aigw eval` (input.evals: null when no
# results file describes this catalog). Waive for one service with a reason.
package aigw.rules.eval_regression

prod_users(alias) := {d.service |
	some d in input.deployments
	d.prod
	d.aliases[alias]
}

deny contains {
	"msg": sprintf(
		"alias %s serves %s in production and its eval score fell from %.2f to %.2f (set %s), more than the allowed %.2f: fix the change, or waive with a reason",
		[alias, service, r.base.score, r.head.score, r.set, r.max_drop],
	),
	"path": ["models", alias, "eval"],
	"service": service,
} if {
	some alias, r in input.evals.aliases
	is_number(r.base.score)
	is_number(r.head.score)
	r.base.score - r.head.score > r.max_drop
	some service in prod_users(alias)
}

deny contains {
	"msg": sprintf(
		"alias %s serves %s in production and its eval score %.2f is below the floor %.2f (set %s)",
		[alias, service, r.head.score, r.floor, r.set],
	),
	"path": ["models", alias, "eval"],
	"service": service,
} if {
	some alias, r in input.evals.aliases
	is_number(r.floor)
	is_number(r.head.score)
	r.head.score < r.floor
	some service in prod_users(alias)
}
