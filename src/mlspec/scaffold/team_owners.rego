# An example policy of your own, run after mlspec's bundle by
#   mlspec validate platform.yaml --policy policies
# Every tenant names at least two owners, so that one absence does not leave a team's
# platform without anybody who answers for it. A warning: it informs, it does not block.
package mlspec.team_owners

import rego.v1

warn_owners := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	count(object.get(tenant.spec, "owners", [])) < 2
	result := {
		"msg": sprintf("tenant %s has fewer than two owners", [tenant.name]),
		"object": tenant.source.pointer,
		"field": ["owners"],
		"hint": "add a second owner",
	}
]
