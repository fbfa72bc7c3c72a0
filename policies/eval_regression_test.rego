package aigw.rules.eval_regression_test

import data.aigw.rules.eval_regression

doc(env, base, head, floor) := {
	"deployments": [{
		"service": "bot", "environment": env, "prod": env == "prod",
		"aliases": {"chat": [{"provider": "a"}]},
	}],
	"evals": {"aliases": {"chat": {
		"set": "qa", "floor": floor, "max_drop": 0.05,
		"base": {"score": base}, "head": {"score": head},
	}}},
}

test_drop_in_prod_denied if {
	some f in eval_regression.deny with input as doc("prod", 0.9, 0.6, null)
	f.service == "bot"
	f.path == ["models", "chat", "eval"]
	contains(f.msg, "fell from 0.90 to 0.60")
}

test_small_drop_passes if {
	count(eval_regression.deny) == 0 with input as doc("prod", 0.9, 0.88, null)
}

test_below_floor_denied if {
	some f in eval_regression.deny with input as doc("prod", 0.7, 0.72, 0.8)
	contains(f.msg, "below the floor 0.80")
}

test_staging_passes if {
	count(eval_regression.deny) == 0 with input as doc("staging", 0.9, 0.1, 0.8)
}

test_no_results_pass if {
	count(eval_regression.deny) == 0 with input as {"deployments": [], "evals": null}
}

test_new_alias_checked_against_floor_only if {
	count(eval_regression.deny) == 1 with input as doc("prod", null, 0.5, 0.8)
}
