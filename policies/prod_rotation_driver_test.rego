package aigw.rules.prod_rotation_driver_test

import data.aigw.rules.prod_rotation_driver

prov(driver, prod) := {"providers": {"p": {"driver": driver, "prod": prod, "prod_services": ["bot"]}}}

test_manual_in_prod_warned if {
	some f in prod_rotation_driver.warn with input as prov("manual", true)
	f.provider == "p"
	f.path == ["providers", "p", "rotation", "driver"]
}

test_automatic_in_prod_pass if {
	count(prod_rotation_driver.warn) == 0 with input as prov("aws-iam", true)
}

test_manual_outside_prod_pass if {
	count(prod_rotation_driver.warn) == 0 with input as prov("manual", false)
}
