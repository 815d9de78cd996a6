# Every tenant names who answers for it (owners) and who pays for it (costCenter).
package mlspec.ownership

import rego.v1

deny_owners := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	count(object.get(tenant.spec, "owners", [])) == 0
	result := {
		"msg": sprintf("tenant %s has no owners", [tenant.name]),
		"object": tenant.source.pointer,
		"field": ["owners"],
		"hint": "name at least one person who answers for the tenant",
	}
]

deny_cost_center := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	trim_space(object.get(tenant.spec, "costCenter", "")) == ""
	result := {
		"msg": sprintf("tenant %s has no cost center", [tenant.name]),
		"object": tenant.source.pointer,
		"field": ["costCenter"],
		"hint": "set the cost center its GPU and serving costs are charged to",
	}
]
