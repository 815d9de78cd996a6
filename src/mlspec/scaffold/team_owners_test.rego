# Tests of team_owners.rego: `mlspec policy test policies`.
package mlspec.team_owners_test

import data.mlspec.team_owners
import rego.v1

team_owners_tenants(owners) := [{
	"kind": "Tenant", "name": "recsys", "tenant": "recsys",
	"source": {"pointer": "/tenants/recsys"}, "spec": {"owners": owners},
	"pipelines": {}, "models": {}, "deployments": {}, "monitors": {},
}]

team_owners_warn_for(owners) := result if {
	ts := team_owners_tenants(owners)
	result := team_owners.warn_owners with input.tenants as ts
}

test_two_owners_pass if {
	count(team_owners_warn_for(["a@x.example", "b@x.example"])) == 0
}

test_one_owner_is_warned_at_owners if {
	results := team_owners_warn_for(["a@x.example"])
	count(results) == 1
	some result in results
	result.field == ["owners"]
	result.object == "/tenants/recsys"
}
