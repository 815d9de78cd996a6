# A canary takes at most half of the traffic: past that it is the stable version.
package mlspec.canary

import rego.v1

max_traffic := 50

deny_traffic := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	deployment := input.tenants[i].deployments[name]
	traffic := deployment.spec.canary.traffic
	traffic > max_traffic
	result := {
		"msg": sprintf("the canary of deployment %s takes %d%% of the traffic, over %d%%", [name, traffic, max_traffic]),
		"object": deployment.source.pointer,
		"field": ["canary", "traffic"],
		"hint": "promote the canary version to `version:` instead",
	}
]
