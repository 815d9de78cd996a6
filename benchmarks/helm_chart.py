"""The helm baseline: a chart that renders the same tenancy + serving objects as mlspec.

For a generated platform of N tenants, `write_chart` writes a chart whose templates
loop over the tenants in values.yaml and render, per tenant, what mlspec's tenancy,
kueue and serving compilers emit (Namespace, ResourceQuota, LimitRange, three
RoleBindings, four NetworkPolicies, LocalQueue, ClusterQueue, two InferenceServices)
plus the platform's ResourceFlavors and WorkloadPriorityClasses. The templates are
helm's usual text templates: what mlspec replaces, measured on the same objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CHART = """apiVersion: v2
name: bench-platform
version: 0.1.0
"""

TENANCY = """{{- range $name, $t := .Values.tenants }}
---
apiVersion: v1
kind: Namespace
metadata:
  name: {{ $name }}
  labels:
    app.kubernetes.io/managed-by: helm
    mlspec.dev/tenant: {{ $name }}
    mlspec.dev/cost-center: {{ $t.costCenter | quote }}
  annotations:
    mlspec.dev/display-name: {{ $t.displayName | quote }}
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: tenant-quota
  namespace: {{ $name }}
spec:
  hard:
    requests.cpu: {{ $t.cpu | quote }}
    requests.memory: {{ $t.memory | quote }}
    limits.memory: {{ $t.memory | quote }}
    {{- range $res, $n := $t.gpus }}
    requests.{{ $res }}: {{ $n | quote }}
    {{- end }}
---
apiVersion: v1
kind: LimitRange
metadata:
  name: tenant-defaults
  namespace: {{ $name }}
spec:
  limits:
  - type: Container
    default: {memory: 1Gi}
    defaultRequest: {cpu: 100m, memory: 256Mi}
{{- range $role, $groups := $t.access }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: tenant-{{ $role }}
  namespace: {{ $name }}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {{ $role }}}
subjects:
{{- range $groups }}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: {{ . | quote }}}
{{- end }}
{{- end }}
{{- range $policy, $from := dict "default-deny-ingress" "" "allow-same-namespace" $name "allow-from-monitoring" "monitoring" "allow-from-serving-ingress" "istio-system" }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $policy }}
  namespace: {{ $name }}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  {{- if $from }}
  ingress:
  - from:
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: {{ $from }}}
  {{- end }}
{{- end }}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: LocalQueue
metadata:
  name: default
  namespace: {{ $name }}
spec:
  clusterQueue: {{ $name }}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ClusterQueue
metadata:
  name: {{ $name }}
spec:
  cohort: bench
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: {{ $name }}}
  resourceGroups:
  - coveredResources: [cpu, memory]
    flavors:
    - name: default
      resources:
      - {name: cpu, nominalQuota: {{ $t.cpu | quote }}}
      - {name: memory, nominalQuota: {{ $t.memory | quote }}}
  {{- range $pool, $q := $t.pools }}
  - coveredResources: [{{ $q.resource | quote }}]
    flavors:
    - name: {{ $pool }}
      resources:
      - {name: {{ $q.resource | quote }}, nominalQuota: {{ $q.nominal }}, borrowingLimit: {{ $q.borrow }}}
  {{- end }}
{{- end }}
"""

PLATFORM = """{{- range $pool, $p := .Values.pools }}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: ResourceFlavor
metadata:
  name: {{ $pool }}
spec:
  nodeLabels: {nvidia.com/gpu.product: {{ $p.product | quote }}}
  tolerations:
  - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
{{- end }}
{{- range $prio, $value := .Values.priorities }}
---
apiVersion: kueue.x-k8s.io/v1beta2
kind: WorkloadPriorityClass
metadata:
  name: mlspec-{{ $prio }}
value: {{ $value }}
{{- end }}
"""

SERVING = """{{- range $name, $d := .Values.deployments }}
---
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: {{ $name }}
  namespace: {{ $d.tenant }}
  labels:
    mlspec.dev/tenant: {{ $d.tenant }}
    mlspec.dev/model: {{ $d.model }}
spec:
  predictor:
    minReplicas: {{ $d.min }}
    maxReplicas: {{ $d.max }}
    model:
      modelFormat: {name: {{ $d.framework }}}
      storageUri: {{ $d.storageUri | quote }}
      resources:
        requests: {cpu: {{ $d.cpu | quote }}, memory: {{ $d.memory | quote }}}
        {{- if $d.gpu }}
        limits: {memory: {{ $d.memory | quote }}, {{ $d.gpu.resource }}: {{ $d.gpu.count | quote }}}
        {{- end }}
    {{- if $d.gpu }}
    nodeSelector: {nvidia.com/gpu.product: {{ $d.gpu.product | quote }}}
    tolerations:
    - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    {{- end }}
{{- end }}
"""

_RESOURCE = {"h100-mig": "nvidia.com/mig-1g.10gb"}


def _values(spec: dict[str, Any]) -> dict[str, Any]:
    pools = spec["gpuPools"]
    tenants = {
        name: {
            "displayName": t["displayName"],
            "costCenter": t["costCenter"],
            "cpu": str(t["quota"]["cpu"]),
            "memory": t["quota"]["memory"],
            "access": {"admin": t["access"]["admins"], "edit": t["access"]["editors"]},
            "gpus": {_RESOURCE.get(p, "nvidia.com/gpu"): n for p, n in t["quota"]["gpu"].items()},
            "pools": {
                p: {
                    "resource": _RESOURCE.get(p, "nvidia.com/gpu"),
                    "nominal": n,
                    "borrow": t["quota"].get("borrow", {}).get(p, 0),
                }
                for p, n in t["quota"]["gpu"].items()
            },
        }
        for name, t in spec["tenants"].items()
    }
    return {
        "tenants": tenants,
        "pools": {name: {"product": p["product"]} for name, p in pools.items()},
        "priorities": {"low": 1000, "medium": 2000, "high": 3000, "critical": 4000},
        "deployments": {name: _deployment(d, spec) for name, d in spec["deployments"].items()},
    }


def _deployment(d: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    model = spec["models"][d["model"]]
    version = d["version"] if isinstance(d["version"], int) else model["aliases"][d["version"]]
    gpu = d["resources"].get("gpu")
    return {
        "tenant": d["tenant"],
        "model": d["model"],
        "framework": model["framework"],
        "storageUri": model["versions"][str(version)]["source"],
        "min": d["replicas"]["min"],
        "max": d["replicas"]["max"],
        "cpu": str(d["resources"]["cpu"]),
        "memory": d["resources"]["memory"],
        "gpu": {
            "resource": _RESOURCE.get(gpu["pool"], "nvidia.com/gpu"),
            "count": gpu["count"],
            "product": spec["gpuPools"][gpu["pool"]]["product"],
        }
        if gpu
        else None,
    }


def write_chart(spec: dict[str, Any], directory: Path) -> Path:
    """Write the chart and its values (JSON is valid YAML) for one generated platform."""
    templates = directory / "templates"
    templates.mkdir(parents=True, exist_ok=True)
    (directory / "Chart.yaml").write_text(CHART)
    (templates / "tenancy.yaml").write_text(TENANCY)
    (templates / "platform.yaml").write_text(PLATFORM)
    (templates / "serving.yaml").write_text(SERVING)
    (directory / "values.yaml").write_text(json.dumps(_values(spec), sort_keys=True))
    return directory
