package mlspec.gpu_quota_test

import data.mlspec.gpu_quota
import rego.v1

gpu_quota_tenants(quota, step_pool, deployment_pool) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"},
	"spec": {"quota": quota},
	"pipelines": {"train": {
		"kind": "Pipeline", "name": "train", "tenant": "fraud",
		"source": {"pointer": "/pipelines/train"},
		"spec": {"tenant": "fraud", "steps": {
			"prep": {"image": "x:1"},
			"fit": {"image": "x:1", "resources": {"gpu": {"pool": step_pool, "count": 1}}},
		}},
	}},
	"deployments": {"scorer": {
		"kind": "Deployment", "name": "scorer", "tenant": "fraud",
		"source": {"pointer": "/deployments/scorer"},
		"spec": {"tenant": "fraud", "resources": {"gpu": {"pool": deployment_pool, "count": 1}}},
	}},
	"models": {}, "monitors": {},
}]

gpu_quota_deny_for(quota, step_pool, deployment_pool) := result if {
	ts := gpu_quota_tenants(quota, step_pool, deployment_pool)
	result := array.concat(gpu_quota.deny_step_pools, gpu_quota.deny_deployment_pools) with input.tenants as ts
}

test_pools_with_quota_pass if {
	count(gpu_quota_deny_for({"gpu": {"a100": 8, "l4": 2}}, "a100", "l4")) == 0
}

test_step_in_pool_without_quota_is_denied_at_its_pool if {
	results := gpu_quota_deny_for({"gpu": {"l4": 2}}, "a100", "l4")
	count(results) == 1
	some result in results
	result.object == "/pipelines/train"
	result.field == ["steps", "fit", "resources", "gpu", "pool"]
}

test_deployment_in_pool_without_quota_is_denied if {
	results := gpu_quota_deny_for({"gpu": {"a100": 8}}, "a100", "l4")
	count(results) == 1
	some result in results
	result.object == "/deployments/scorer"
	result.field == ["resources", "gpu", "pool"]
}

test_zero_quota_is_no_quota if {
	count(gpu_quota_deny_for({"gpu": {"a100": 0, "l4": 2}}, "a100", "l4")) == 1
}

test_borrowing_alone_is_not_a_quota if {
	count(gpu_quota_deny_for({"gpu": {"l4": 2}, "borrow": {"a100": 8}}, "a100", "l4")) == 1
}
