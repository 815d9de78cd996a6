package mlspec.canary_test

import data.mlspec.canary
import rego.v1

canary_tenants(deployment_spec) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": {},
	"deployments": {"scorer": {
		"kind": "Deployment", "name": "scorer", "tenant": "fraud",
		"source": {"pointer": "/deployments/scorer"}, "spec": deployment_spec,
	}},
	"pipelines": {}, "models": {}, "monitors": {},
}]

canary_deny_for(spec) := result if {
	ts := canary_tenants(spec)
	result := canary.deny_traffic with input.tenants as ts
}

test_half_the_traffic_passes if {
	count(canary_deny_for({"version": 7, "canary": {"version": 8, "traffic": 50}})) == 0
}

test_no_canary_passes if {
	count(canary_deny_for({"version": 7})) == 0
}

test_over_half_is_denied_at_traffic if {
	results := canary_deny_for({"version": 7, "canary": {"version": 8, "traffic": 51}})
	count(results) == 1
	some result in results
	result.object == "/deployments/scorer"
	result.field == ["canary", "traffic"]
}
