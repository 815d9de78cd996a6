package mlspec.production_test

import data.mlspec.production
import rego.v1

production_tenants(min_replicas, monitor_spec) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": {},
	"deployments": {"scorer": {
		"kind": "Deployment", "name": "scorer", "tenant": "fraud",
		"source": {"pointer": "/deployments/scorer"},
		"spec": {"replicas": {"min": min_replicas, "max": 4}},
	}},
	"monitors": {"health": {
		"kind": "Monitor", "name": "health", "tenant": "fraud",
		"source": {"pointer": "/monitors/health"}, "spec": monitor_spec,
	}},
	"pipelines": {}, "models": {},
}]

slo_monitor := {"deployment": "scorer", "slo": {"latencyP99": "150ms"}}

production_results(env, min_replicas, monitor_spec) := {"deny": deny, "warn": warn} if {
	ts := production_tenants(min_replicas, monitor_spec)
	e := {"name": env}
	deny := production.deny_unmonitored with input.tenants as ts with input.environment as e
	warn := production.warn_replicas with input.tenants as ts with input.environment as e
}

test_two_replicas_and_an_slo_pass_in_prod if {
	m := slo_monitor
	r := production_results("prod", 2, m)
	count(r.deny) == 0
	count(r.warn) == 0
}

test_one_replica_is_a_warning_at_replicas_min if {
	m := slo_monitor
	r := production_results("prod", 1, m)
	count(r.deny) == 0
	count(r.warn) == 1
	some result in r.warn
	result.object == "/deployments/scorer"
	result.field == ["replicas", "min"]
}

test_no_slo_is_denied_in_prod if {
	r := production_results("prod", 2, {"deployment": "scorer"})
	count(r.deny) == 1
	some result in r.deny
	result.object == "/deployments/scorer"
}

test_a_monitor_of_another_deployment_does_not_count if {
	r := production_results("prod", 2, {"deployment": "other", "slo": {"errorRate": "1%"}})
	count(r.deny) == 1
}

test_staging_is_not_held_to_production_rules if {
	r := production_results("staging", 0, {"deployment": "scorer"})
	count(r.deny) == 0
	count(r.warn) == 0
}

test_production_environments_come_from_data_settings if {
	ts := production_tenants(2, {"deployment": "scorer"})
	e := {"name": "live"}
	names := ["live"]
	denies := production.deny_unmonitored with input.tenants as ts with input.environment as e
		with data.settings.productionEnvironments as names
	count(denies) == 1
}
