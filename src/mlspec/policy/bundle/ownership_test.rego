package mlspec.ownership_test

import data.mlspec.ownership
import rego.v1

ownership_tenants(spec) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": spec,
	"pipelines": {}, "models": {}, "deployments": {}, "monitors": {},
}]

ownership_deny_for(spec) := result if {
	ts := ownership_tenants(spec)
	result := array.concat(ownership.deny_owners, ownership.deny_cost_center) with input.tenants as ts
}

test_owner_and_cost_center_pass if {
	count(ownership_deny_for({"owners": ["alice@acme.example"], "costCenter": "CC-1042"})) == 0
}

test_no_owners_is_denied_at_owners if {
	results := ownership_deny_for({"owners": [], "costCenter": "CC-1042"})
	count(results) == 1
	some result in results
	result.object == "/tenants/fraud"
	result.field == ["owners"]
}

test_missing_owners_is_denied if {
	count(ownership_deny_for({"costCenter": "CC-1042"})) == 1
}

test_blank_cost_center_is_denied_at_cost_center if {
	results := ownership_deny_for({"owners": ["alice@acme.example"], "costCenter": "  "})
	count(results) == 1
	some result in results
	result.field == ["costCenter"]
}

test_missing_both_is_two_denies if {
	count(ownership_deny_for({})) == 2
}
