# Container images are pinned: a version tag or a digest, never :latest or nothing.
# An unpinned image changes under the platform without a change to the spec.
package mlspec.images

import rego.v1

hint := "pin a version (image:1.4.2) or a digest (image@sha256:...)"

deny_step_images := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	pipeline := input.tenants[i].pipelines[name]
	some step_name
	step := pipeline.spec.steps[step_name]
	problem := unpinned(step.image)
	result := {
		"msg": sprintf("image %s of step %s of pipeline %s %s", [step.image, step_name, name, problem]),
		"object": pipeline.source.pointer,
		"field": ["steps", step_name, "image"],
		"hint": hint,
	}
]

deny_drift_image := [result |
	image := input.platform.spec.monitoring.driftImage
	problem := unpinned(image)
	result := {
		"msg": sprintf("drift checker image %s %s", [image, problem]),
		"object": input.platform.source.pointer,
		"field": ["monitoring", "driftImage"],
		"hint": hint,
	}
]

unpinned(image) := "uses the moving tag :latest" if {
	not contains(image, "@")
	endswith(image, ":latest")
}

unpinned(image) := "has neither a tag nor a digest" if {
	not contains(image, "@")
	not tagged(image)
}

# The last path segment has a tag (a colon before it is a registry port).
tagged(image) if {
	parts := split(image, "/")
	contains(parts[count(parts) - 1], ":")
}
