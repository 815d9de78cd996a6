# GPUs are requested only from pools where the tenant has a guaranteed quota. Borrowing
# alone is not enough: a workload living on borrowed GPUs is evicted whenever the
# owners of the quota want them back.
package mlspec.gpu_quota

import rego.v1

deny_step_pools := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	some name
	pipeline := tenant.pipelines[name]
	some step_name
	pool := pipeline.spec.steps[step_name].resources.gpu.pool
	not has_quota(tenant, pool)
	result := {
		"msg": sprintf(
			"step %s of pipeline %s requests GPUs from pool %s, where tenant %s has no quota",
			[step_name, name, pool, tenant.name],
		),
		"object": pipeline.source.pointer,
		"field": ["steps", step_name, "resources", "gpu", "pool"],
		"hint": quota_hint(tenant.name, pool),
	}
]

deny_deployment_pools := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	some name
	deployment := tenant.deployments[name]
	pool := deployment.spec.resources.gpu.pool
	not has_quota(tenant, pool)
	result := {
		"msg": sprintf(
			"deployment %s requests GPUs from pool %s, where tenant %s has no quota",
			[name, pool, tenant.name],
		),
		"object": deployment.source.pointer,
		"field": ["resources", "gpu", "pool"],
		"hint": quota_hint(tenant.name, pool),
	}
]

has_quota(tenant, pool) if tenant.spec.quota.gpu[pool] > 0

quota_hint(tenant, pool) := sprintf("give tenant %s a quota in tenants.%s.quota.gpu.%s, or use a pool it has one in", [tenant, tenant, pool])
