# Pipeline steps on GPUs retry (GPU nodes are preempted and fail more than most) and
# have a timeout (a hung step holds expensive GPUs until somebody notices). Warnings:
# the cost is money and time, not correctness.
package mlspec.gpu_steps

import rego.v1

warn_retries := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	pipeline := input.tenants[i].pipelines[name]
	some step_name
	step := pipeline.spec.steps[step_name]
	step.resources.gpu
	object.get(step, "retries", 0) == 0
	result := {
		"msg": sprintf("GPU step %s of pipeline %s has no retries", [step_name, name]),
		"object": pipeline.source.pointer,
		"field": ["steps", step_name, "retries"],
		"hint": "set `retries:` (1 or 2)",
	}
]

warn_timeout := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	pipeline := input.tenants[i].pipelines[name]
	some step_name
	step := pipeline.spec.steps[step_name]
	step.resources.gpu
	not step.timeout
	result := {
		"msg": sprintf("GPU step %s of pipeline %s has no timeout", [step_name, name]),
		"object": pipeline.source.pointer,
		"field": ["steps", step_name],
		"hint": "set `timeout:` (for example 4h)",
	}
]
