package mlspec.aliases_test

import data.mlspec.aliases
import rego.v1

aliases_model(alias_map) := {
	"kind": "Model", "name": "detector", "tenant": "fraud",
	"source": {"pointer": "/models/detector"},
	"spec": {"versions": {"7": {}, "8": {}}, "aliases": alias_map},
}

aliases_tenants(alias_map, deployment_spec) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": {},
	"models": {"detector": aliases_model(alias_map)},
	"deployments": {"scorer": {
		"kind": "Deployment", "name": "scorer", "tenant": "fraud",
		"source": {"pointer": "/deployments/scorer"}, "spec": deployment_spec,
	}},
	"pipelines": {}, "monitors": {},
}]

aliases_deny_for(env, alias_map, deployment_spec) := result if {
	ts := aliases_tenants(alias_map, deployment_spec)
	e := {"name": env}
	result := array.concat(aliases.deny_aliases, aliases.deny_served) with input.tenants as ts with input.environment as e
}

test_existing_versions_and_aliases_pass if {
	spec := {"model": "detector", "version": "champion", "canary": {"version": 8, "traffic": 10}}
	count(aliases_deny_for("prod", {"champion": 7}, spec)) == 0
}

test_alias_to_a_missing_version_is_denied_at_the_alias if {
	results := aliases_deny_for("prod", {"champion": 9}, {"model": "detector", "version": 7})
	count(results) == 1
	some result in results
	result.object == "/models/detector"
	result.field == ["aliases", "champion"]
}

test_deployment_of_a_missing_version_is_denied_at_version if {
	results := aliases_deny_for("prod", {}, {"model": "detector", "version": 9})
	count(results) == 1
	some result in results
	result.object == "/deployments/scorer"
	result.field == ["version"]
}

test_canary_of_an_unknown_alias_is_denied_at_canary_version if {
	spec := {"model": "detector", "version": 7, "canary": {"version": "challenger", "traffic": 10}}
	results := aliases_deny_for("prod", {}, spec)
	count(results) == 1
	some result in results
	result.field == ["canary", "version"]
}

test_staging_is_not_checked if {
	count(aliases_deny_for("staging", {"champion": 9}, {"model": "detector", "version": 9})) == 0
}
