package mlspec.tenant_names_test

import data.mlspec.tenant_names
import rego.v1

tenant_names_tenants(name) := [{
	"kind": "Tenant", "name": name, "tenant": name,
	"source": {"pointer": concat("/", ["", "tenants", name])}, "spec": {},
	"pipelines": {}, "models": {}, "deployments": {}, "monitors": {},
}]

platform := {
	"kind": "Platform", "name": "acme", "source": {"pointer": ""},
	"spec": {"serving": {"ingressNamespace": "gateway"}, "monitoring": {"namespace": "prom"}},
}

tenant_names_deny_for(name) := result if {
	ts := tenant_names_tenants(name)
	p := platform
	result := array.concat(tenant_names.deny_taken, tenant_names.deny_prefix) with input.tenants as ts with input.platform as p
}

test_ordinary_name_passes if {
	count(tenant_names_deny_for("fraud")) == 0
}

test_default_is_denied_at_the_tenant if {
	results := tenant_names_deny_for("default")
	count(results) == 1
	some result in results
	result.object == "/tenants/default"
}

test_kube_prefix_is_denied if {
	count(tenant_names_deny_for("kube-team")) == 1
}

test_kubeflow_is_denied if {
	count(tenant_names_deny_for("kubeflow")) == 1
}

test_platform_namespaces_are_taken if {
	count(tenant_names_deny_for("gateway")) == 1
	count(tenant_names_deny_for("prom")) == 1
}

test_extra_names_come_from_data_settings if {
	ts := tenant_names_tenants("vault")
	p := platform
	extra := ["vault"]
	results := array.concat(tenant_names.deny_taken, tenant_names.deny_prefix) with input.tenants as ts with input.platform as p
		with data.settings.reservedNamespaces as extra
	count(results) == 1
}
