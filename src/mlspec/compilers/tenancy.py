"""Compiler `tenancy`: a tenant becomes a safe, isolated namespace on the cluster.

Per tenant, all in its namespace:

    Namespace         labels: tenant, cost center, managed-by; display name annotation
    ResourceQuota     requests.cpu, requests/limits.memory, requests.storage, and every
                      GPU resource of every pool (see `gpu.gpu_ceiling`)
    LimitRange        container defaults, so pods without requests are admitted sensibly
    RoleBinding       access.admins/editors/viewers -> the admin/edit/view ClusterRoles
    NetworkPolicy     deny ingress by default; allow the namespace itself, monitoring, the
                      serving ingress (and Knative's activator in knative mode) and the
                      tenants named in network.allowFrom

No cpu limits: the workload compilers set cpu requests only (a cpu limit throttles),
and a quota on limits.cpu would need a default cpu limit, which rejects every container
requesting more than it. Memory limits are set by the compilers (equal to the request).

GPU quotas count guaranteed plus borrowable units: Kueue may admit borrowed work, and
the ResourceQuota must not refuse its pods. Pools advertising the same resource name
(whole GPUs and time-sliced shares are both ``nvidia.com/gpu``) add up in the quota;
Kueue's flavors keep the pools apart.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mlspec.compilers import gpu
from mlspec.compilers.base import Artifact, CompileContext, CompileResult, tenant_path
from mlspec.spec.model import Tenant
from mlspec.spec.names import label_value_problem
from mlspec.spec.quantities import Cpu, Memory

LABEL_COST_CENTER = "mlspec.dev/cost-center"
ANNOTATION_DISPLAY_NAME = "mlspec.dev/display-name"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
KNATIVE_NAMESPACE = "knative-serving"
RBAC_GROUP = "rbac.authorization.k8s.io"
ROLES = (("admins", "admin"), ("editors", "edit"), ("viewers", "view"))

# Container defaults of the LimitRange, lowered to the tenant's quota when it is smaller.
DEFAULT_CPU_REQUEST = Cpu(100)
DEFAULT_MEMORY_REQUEST = Memory(256 * 2**20)
DEFAULT_MEMORY_LIMIT = Memory(2**30)

Sourced = tuple[dict[str, Any], str]  # (object, JSON pointer of its spec node)


class TenancyCompiler:
    name: ClassVar[str] = "tenancy"

    def compile(self, ctx: CompileContext) -> CompileResult:
        result = CompileResult()
        result.diagnostics += gpu.diagnostics(ctx, gpu.quota_problems(ctx.platform))
        for name, tenant in sorted(ctx.platform.tenants.items()):
            if not _wanted(ctx, name):
                continue
            for obj, source in tenant_objects(ctx, name, tenant):
                path = tenant_path(name, obj["kind"], obj["metadata"]["name"])
                result.artifacts.append(Artifact(path, obj, source))
        return result


def _wanted(ctx: CompileContext, tenant: str) -> bool:
    """Whether any object of the tenant can be wanted: they come from the tenant's node
    and from the platform's settings (monitoring, serving)."""
    return any(ctx.wants(source) for source in (f"/tenants/{tenant}", "/monitoring", "/serving"))


def tenant_objects(ctx: CompileContext, name: str, tenant: Tenant) -> list[Sourced]:
    source = f"/tenants/{name}"
    return [
        (namespace_object(ctx, name, tenant, source), source),
        (resource_quota(ctx, name, tenant), f"{source}/quota"),
        (limit_range(ctx, name, tenant), f"{source}/quota"),
        *role_bindings(ctx, name, tenant),
        *network_policies(ctx, name, tenant),
    ]


def _metadata(ctx: CompileContext, tenant: str, name: str, source: str) -> dict[str, Any]:
    """Name, namespace, platform labels and provenance of an object in the tenant's namespace."""
    provenance = ctx.provenance(source, tenant=tenant)
    labels = {**ctx.platform.metadata.labels, **provenance["labels"]}
    return {
        "name": name,
        "namespace": tenant,
        "labels": labels,
        "annotations": provenance["annotations"],
    }


def namespace_object(ctx: CompileContext, name: str, tenant: Tenant, source: str) -> dict[str, Any]:
    metadata = _metadata(ctx, name, name, source)
    del metadata["namespace"]
    if label_value_problem(tenant.cost_center) is None:
        metadata["labels"][LABEL_COST_CENTER] = tenant.cost_center
    metadata["annotations"][ANNOTATION_DISPLAY_NAME] = tenant.display_name
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def resource_quota(ctx: CompileContext, name: str, tenant: Tenant) -> dict[str, Any]:
    quota = tenant.quota
    hard = {
        "requests.cpu": quota.cpu.canonical,
        "requests.memory": quota.memory.canonical,
        "limits.memory": quota.memory.canonical,
    }
    if quota.storage is not None:
        hard["requests.storage"] = quota.storage.canonical
    for resource, units in gpu.gpu_ceiling(ctx.platform, tenant).items():
        hard[f"requests.{resource}"] = str(units)  # extended resources take no limits.*
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _metadata(ctx, name, "tenant-quota", f"/tenants/{name}/quota"),
        "spec": {"hard": hard},
    }


def limit_range(ctx: CompileContext, name: str, tenant: Tenant) -> dict[str, Any]:
    """Defaults for containers that leave them out, lowered to a smaller quota. The quota
    needs a memory limit on every pod; a container requesting more memory than the
    default limit must set its own limit, or Kubernetes rejects it (request above limit)."""
    cpu, memory = tenant.quota.cpu.millicores, tenant.quota.memory.bytes
    limit = {
        "type": "Container",
        "default": {"memory": Memory(min(DEFAULT_MEMORY_LIMIT.bytes, memory)).canonical},
        "defaultRequest": {
            "cpu": Cpu(min(DEFAULT_CPU_REQUEST.millicores, cpu)).canonical,
            "memory": Memory(min(DEFAULT_MEMORY_REQUEST.bytes, memory)).canonical,
        },
    }
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _metadata(ctx, name, "tenant-defaults", f"/tenants/{name}/quota"),
        "spec": {"limits": [limit]},
    }


def role_bindings(ctx: CompileContext, name: str, tenant: Tenant) -> list[Sourced]:
    bindings: list[Sourced] = []
    for field, role in ROLES:
        members: list[str] = getattr(tenant.access, field)
        if not members:
            continue
        source = f"/tenants/{name}/access/{field}"
        obj = {
            "apiVersion": f"{RBAC_GROUP}/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(ctx, name, f"tenant-{field}", source),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": sorted(
                (subject(member) for member in set(members)),
                key=lambda s: (s["kind"], s["name"]),
            ),
        }
        bindings.append((obj, source))
    return bindings


def subject(member: str) -> dict[str, str]:
    """``group:x`` -> a Group subject; anything else (an email) -> a User subject."""
    if member.startswith("group:"):
        return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": member.removeprefix("group:")}
    return {"apiGroup": RBAC_GROUP, "kind": "User", "name": member}


def network_policies(ctx: CompileContext, name: str, tenant: Tenant) -> list[Sourced]:
    """Deny ingress by default, then one allowing policy per source of traffic."""
    platform = ctx.platform
    network = f"/tenants/{name}/network"
    peers: list[tuple[str, dict[str, Any], str]] = [
        ("allow-same-namespace", {"podSelector": {}}, network),
        ("allow-from-monitoring", _namespace(platform.monitoring.namespace), "/monitoring"),
        ("allow-from-serving-ingress", _namespace(platform.serving.ingress_namespace), "/serving"),
    ]
    if platform.serving.mode == "knative":
        peers.append(("allow-from-knative-serving", _namespace(KNATIVE_NAMESPACE), "/serving"))
    first: dict[str, int] = {}
    for i, other in enumerate(tenant.network.allow_from):
        first.setdefault(other, i)
    for other, i in sorted(first.items()):
        peers.append((f"allow-from-tenant-{other}", _namespace(other), f"{network}/allowFrom/{i}"))
    deny = _policy(ctx, name, "default-deny-ingress", network, None)
    return [(deny, network)] + [
        (_policy(ctx, name, policy, source, peer), source) for policy, peer, source in peers
    ]


def _namespace(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def _policy(
    ctx: CompileContext, tenant: str, name: str, source: str, peer: dict[str, Any] | None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    if peer is not None:
        spec["ingress"] = [{"from": [peer]}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(ctx, tenant, name, source),
        "spec": spec,
    }
