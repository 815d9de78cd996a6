# In production, a deployment survives a node drain (two replicas at least: a warning,
# since a costly model may accept the risk) and somebody is told when it breaks (a
# monitor with an SLO: required).
package mlspec.production

import data.mlspec.lib
import rego.v1

warn_replicas := [result |
	lib.production
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	deployment := input.tenants[i].deployments[name]
	replicas := deployment.spec.replicas.min
	replicas < 2
	result := {
		"msg": sprintf(
			"deployment %s keeps %d replica(s) at minimum in %s: one node drain takes it down",
			[name, replicas, input.environment.name],
		),
		"object": deployment.source.pointer,
		"field": ["replicas", "min"],
		"hint": "set replicas.min to 2 or more",
	}
]

deny_unmonitored := [result |
	lib.production
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	some name
	deployment := tenant.deployments[name]
	not watched(tenant, name)
	result := {
		"msg": sprintf("deployment %s runs in %s without a monitor with an SLO", [name, input.environment.name]),
		"object": deployment.source.pointer,
		"hint": sprintf("add a monitor with `deployment: %s` and an `slo:`", [name]),
	}
]

watched(tenant, deployment) if {
	some monitor in tenant.monitors
	monitor.spec.deployment == deployment
	count(object.get(monitor.spec, "slo", {})) > 0
}
