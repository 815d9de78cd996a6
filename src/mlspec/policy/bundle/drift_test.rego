package mlspec.drift_test

import data.mlspec.drift
import rego.v1

drift_tenants(drift_spec) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": {},
	"monitors": {"health": {
		"kind": "Monitor", "name": "health", "tenant": "fraud",
		"source": {"pointer": "/monitors/health"},
		"spec": {"deployment": "scorer", "drift": drift_spec},
	}},
	"pipelines": {}, "models": {}, "deployments": {},
}]

drift_results(drift_spec) := {"deny": deny, "warn": warn} if {
	ts := drift_tenants(drift_spec)
	deny := drift.deny_incomplete with input.tenants as ts
	warn := drift.warn_unreachable with input.tenants as ts
}

complete := {"reference": "s3://d/ref.parquet", "threshold": 0.2, "method": "psi"}

test_threshold_and_reference_pass if {
	spec := complete
	r := drift_results(spec)
	count(r.deny) == 0
	count(r.warn) == 0
}

test_missing_threshold_is_denied_at_drift_threshold if {
	r := drift_results({"reference": "s3://d/ref.parquet", "method": "psi"})
	count(r.deny) == 1
	some result in r.deny
	result.object == "/monitors/health"
	result.field == ["drift", "threshold"]
}

test_missing_reference_is_denied if {
	r := drift_results({"threshold": 0.2, "method": "psi"})
	count(r.deny) == 1
	some result in r.deny
	result.field == ["drift", "reference"]
}

test_unreachable_ks_threshold_is_a_warning if {
	r := drift_results({"reference": "s3://d/ref.parquet", "threshold": 1, "method": "ks"})
	count(r.deny) == 0
	count(r.warn) == 1
}

test_psi_is_unbounded if {
	r := drift_results({"reference": "s3://d/ref.parquet", "threshold": 1.5, "method": "psi"})
	count(r.warn) == 0
}
