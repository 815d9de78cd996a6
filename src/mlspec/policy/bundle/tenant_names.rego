# Tenant names become namespaces: they must not take one that Kubernetes, the ML
# platform's components or this platform's own settings use.
package mlspec.tenant_names

import rego.v1

reserved_names := {
	"default", "kubeflow", "istio-system", "knative-serving", "knative-eventing", "kserve",
	"cert-manager", "kueue-system", "gpu-operator", "argocd", "flux-system", "monitoring",
	"mlflow",
}

reserved_prefixes := ["kube-", "openshift-"]

# Extra names from --data, e.g. settings: {reservedNamespaces: [vault]}
default extra_names := []

extra_names := data.settings.reservedNamespaces

platform_names contains name if name := input.platform.spec.serving.ingressNamespace

platform_names contains name if name := input.platform.spec.monitoring.namespace

taken := (reserved_names | platform_names) | {name | some name in extra_names}

deny_taken := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	tenant.name in taken
	result := {
		"msg": sprintf("tenant name %s is a namespace the cluster or the platform already uses", [tenant.name]),
		"object": tenant.source.pointer,
		"hint": "rename the tenant",
	}
]

deny_prefix := [result |
	some i in numbers.range(0, count(input.tenants) - 1)
	tenant := input.tenants[i]
	some prefix in reserved_prefixes
	startswith(tenant.name, prefix)
	result := {
		"msg": sprintf("tenant name %s starts with %s, which is reserved for the cluster", [tenant.name, prefix]),
		"object": tenant.source.pointer,
		"hint": "rename the tenant",
	}
]
