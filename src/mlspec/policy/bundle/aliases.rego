# In production, every alias points at a registered version, and every deployment (and
# canary) serves a version or alias that exists.
package mlspec.aliases

import data.mlspec.lib
import rego.v1

deny_aliases := [result |
	lib.production
	some i in numbers.range(0, count(input.tenants) - 1)
	some name
	model := input.tenants[i].models[name]
	some alias
	version := model.spec.aliases[alias]
	not model.spec.versions[format_int(version, 10)]
	result := {
		"msg": sprintf("alias %s of model %s points at version %d, which is not registered", [alias, name, version]),
		"object": model.source.pointer,
		"field": ["aliases", alias],
	}
]

deny_served := [result |
	lib.production
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	some name
	deployment := tenant.deployments[name]
	model := model_of(tenant, deployment.spec.model)
	some served in served_refs(deployment.spec)
	not resolves(model, served[1])
	result := {
		"msg": sprintf(
			"deployment %s serves %v of model %s, which is neither a registered version nor an alias of one",
			[name, served[1], deployment.spec.model],
		),
		"object": deployment.source.pointer,
		"field": served[0],
	}
]

# The tenant's own model, or (rarely) a shared model of another tenant.
model_of(tenant, name) := tenant.models[name]

model_of(tenant, name) := shared_model(name) if not tenant.models[name]

shared_model(name) := models[0] if {
	models := [model |
		some j in numbers.range(0, count(input.tenants) - 1)
		model := input.tenants[j].models[name]
	]
}

served_refs(spec) := [[["version"], spec.version]] if not spec.canary

served_refs(spec) := [[["version"], spec.version], [["canary", "version"], spec.canary.version]] if spec.canary

resolves(model, ref) if {
	is_number(ref)
	model.spec.versions[format_int(ref, 10)]
}

resolves(model, ref) if {
	is_string(ref)
	model.spec.versions[format_int(model.spec.aliases[ref], 10)]
}
