package mlspec.images_test

import data.mlspec.images
import rego.v1

images_tenants(image) := [{
	"kind": "Tenant", "name": "fraud", "tenant": "fraud",
	"source": {"pointer": "/tenants/fraud"}, "spec": {},
	"pipelines": {"train": {
		"kind": "Pipeline", "name": "train", "tenant": "fraud",
		"source": {"pointer": "/pipelines/train"},
		"spec": {"tenant": "fraud", "steps": {"fit": {"image": image}}},
	}},
	"models": {}, "deployments": {}, "monitors": {},
}]

images_platform(image) := {
	"kind": "Platform", "name": "acme", "source": {"pointer": ""},
	"spec": {"monitoring": {"driftImage": image}},
}

images_deny_for(step_image, drift_image) := result if {
	ts := images_tenants(step_image)
	p := images_platform(drift_image)
	result := array.concat(images.deny_step_images, images.deny_drift_image) with input.tenants as ts with input.platform as p
}

test_version_tag_passes if {
	count(images_deny_for("ghcr.io/acme/train:1.4.2", "ghcr.io/mlspec/drift:0.1.0")) == 0
}

test_digest_passes if {
	image := "ghcr.io/acme/train@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	count(images_deny_for(image, "ghcr.io/mlspec/drift:0.1.0")) == 0
}

test_latest_is_denied_at_the_step_image if {
	results := images_deny_for("ghcr.io/acme/train:latest", "ghcr.io/mlspec/drift:0.1.0")
	count(results) == 1
	some result in results
	result.object == "/pipelines/train"
	result.field == ["steps", "fit", "image"]
	contains(result.msg, ":latest")
}

test_no_tag_is_denied if {
	count(images_deny_for("ghcr.io/acme/train", "ghcr.io/mlspec/drift:0.1.0")) == 1
}

test_registry_port_is_not_a_tag if {
	count(images_deny_for("registry.acme:5000/train", "ghcr.io/mlspec/drift:0.1.0")) == 1
}

test_unpinned_drift_image_is_denied_at_the_platform_setting if {
	results := images_deny_for("ghcr.io/acme/train:1.4.2", "ghcr.io/mlspec/drift")
	count(results) == 1
	some result in results
	result.object == ""
	result.field == ["monitoring", "driftImage"]
}
