package mlspec.gpu_steps_test

import data.mlspec.gpu_steps
import rego.v1

gpu_steps_tenants(step) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": {},
	"pipelines": {"train": {
		"kind": "Pipeline", "name": "train", "tenant": "fraud",
		"source": {"pointer": "/pipelines/train"},
		"spec": {"tenant": "fraud", "steps": {"fit": step}},
	}},
	"models": {}, "deployments": {}, "monitors": {},
}]

gpu_steps_warn_for(step) := result if {
	ts := gpu_steps_tenants(step)
	result := array.concat(gpu_steps.warn_retries, gpu_steps.warn_timeout) with input.tenants as ts
}

gpu := {"pool": "a100", "count": 1}

test_gpu_step_with_retries_and_timeout_passes if {
	g := gpu
	count(gpu_steps_warn_for({"resources": {"gpu": g}, "retries": 2, "timeout": "4h"})) == 0
}

test_cpu_step_needs_neither if {
	count(gpu_steps_warn_for({"resources": {"cpu": "4"}, "retries": 0})) == 0
}

test_no_retries_is_a_warning_at_retries if {
	g := gpu
	results := gpu_steps_warn_for({"resources": {"gpu": g}, "retries": 0, "timeout": "4h"})
	count(results) == 1
	some result in results
	result.object == "/pipelines/train"
	result.field == ["steps", "fit", "retries"]
}

test_no_timeout_is_a_warning_at_the_step if {
	g := gpu
	results := gpu_steps_warn_for({"resources": {"gpu": g}, "retries": 1})
	count(results) == 1
	some result in results
	result.field == ["steps", "fit"]
}
