"""Compiler `kueue`: fair, quota-bound scheduling of the tenants' work (kueue.x-k8s.io/v1beta2).

    ResourceFlavor          `default` for CPU nodes, and one per GPU pool: the pool's node
                            labels and the toleration of the GPU taint
    ClusterQueue            one per tenant, all in one cohort: cpu and memory in one group
                            (flavor `default`), GPUs in one group per resource name with a
                            flavor per pool; nominalQuota from quota.gpu, borrowingLimit from
                            quota.borrow (0 when absent: borrowing is opt-in)
    LocalQueue `default`    in the tenant's namespace, feeding its ClusterQueue
    WorkloadPriorityClass   `mlspec-<priority>` for each priority a tenant has

cpu and memory are never borrowed: the namespace's ResourceQuota would refuse the pods.
Kueue checks some ClusterQueue rules only with CEL or in its webhook, which an offline
schema check does not run; `cluster_queue_problems` reproduces them, so a queue Kueue
would reject fails the compile instead of the sync.

Work asking for GPUs of a pool its tenant has no share of (no flavor: it would wait
forever), or for more than the tenant can ever hold, is refused earlier, by `mlspec
validate` (analysis.py, MLS606/MLS607).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from mlspec.compilers import gpu
from mlspec.compilers.base import (
    Artifact,
    CompileContext,
    CompileResult,
    platform_path,
    tenant_path,
)
from mlspec.compilers.gpu import Problem
from mlspec.diagnostics import Diagnostic
from mlspec.spec.model import Platform, Tenant

API_VERSION = "kueue.x-k8s.io/v1beta2"
DEFAULT_FLAVOR = "default"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
MAX_FLAVORS = 256  # across all resource groups of a ClusterQueue


class KueueCompiler:
    name: ClassVar[str] = "kueue"

    def compile(self, ctx: CompileContext) -> CompileResult:
        platform = ctx.platform
        result = CompileResult()
        problems = [
            *gpu.pool_problems(platform),
            *gpu.quota_problems(platform),
            *_name_problems(platform),
        ]
        result.diagnostics += gpu.diagnostics(ctx, problems)
        result.artifacts += flavors(ctx)
        for name, tenant in sorted(platform.tenants.items()):
            if not ctx.wants(_src(name)):
                continue
            queue = cluster_queue(ctx, name, tenant)
            result.diagnostics += _rule_diagnostics(ctx, name, queue)
            result.artifacts.append(
                Artifact(platform_path("ClusterQueue", name), queue, _src(name))
            )
            local = local_queue(ctx, name)
            result.artifacts.append(
                Artifact(tenant_path(name, "LocalQueue", gpu.LOCAL_QUEUE), local, _src(name))
            )
        result.artifacts += priority_classes(ctx)
        return result


def _src(tenant: str) -> str:
    return f"/tenants/{tenant}/quota"


def _metadata(
    ctx: CompileContext, name: str, source: str, tenant: str | None = None
) -> dict[str, Any]:
    provenance = ctx.provenance(source, tenant=tenant)
    labels = {**ctx.platform.metadata.labels, **provenance["labels"]}
    return {"name": name, "labels": labels, "annotations": provenance["annotations"]}


# --- objects ----------------------------------------------------------------------------------


def flavors(ctx: CompileContext) -> list[Artifact]:
    """The `default` flavor (when there are tenants) and one flavor per GPU pool."""
    artifacts: list[Artifact] = []
    if ctx.platform.tenants:
        obj = _flavor(ctx, DEFAULT_FLAVOR, "/scheduling", {})
        path = platform_path("ResourceFlavor", DEFAULT_FLAVOR)
        artifacts.append(Artifact(path, obj, "/scheduling"))
    for name, pool in sorted(ctx.platform.gpu_pools.items()):
        spec = {"nodeLabels": gpu.node_selector(pool), "tolerations": gpu.tolerations(ctx.platform)}
        obj = _flavor(ctx, name, f"/gpuPools/{name}", spec)
        artifacts.append(Artifact(platform_path("ResourceFlavor", name), obj, f"/gpuPools/{name}"))
    return artifacts


def _flavor(ctx: CompileContext, name: str, source: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "ResourceFlavor",
        "metadata": _metadata(ctx, name, source),
        "spec": spec,
    }


def cohort(platform: Platform) -> str:
    return platform.scheduling.cohort or platform.metadata.name


def cluster_queue(ctx: CompileContext, name: str, tenant: Tenant) -> dict[str, Any]:
    """The tenant's ClusterQueue. Reclaiming lent quota preempts borrowers (that is what
    makes the quota a guarantee); within the tenant, higher priority preempts lower."""
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterQueue",
        "metadata": _metadata(ctx, name, _src(name), tenant=name),
        "spec": {
            "cohortName": cohort(ctx.platform),
            "namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}},
            "preemption": {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"},
            "queueingStrategy": "BestEffortFIFO",
            "resourceGroups": resource_groups(ctx.platform, tenant),
        },
    }


def resource_groups(platform: Platform, tenant: Tenant) -> list[dict[str, Any]]:
    """cpu+memory on the default flavor, then one group per GPU resource name, sorted."""
    cpu_memory = [
        {"name": "cpu", "nominalQuota": tenant.quota.cpu.canonical, "borrowingLimit": 0},
        {"name": "memory", "nominalQuota": tenant.quota.memory.canonical, "borrowingLimit": 0},
    ]
    groups = [
        {
            "coveredResources": ["cpu", "memory"],
            "flavors": [{"name": DEFAULT_FLAVOR, "resources": cpu_memory}],
        }
    ]
    by_resource: dict[str, list[dict[str, Any]]] = {}
    for pool_name in gpu.tenant_pools(tenant):
        resources = gpu.pool_resources(platform.gpu_pools[pool_name])
        if len(resources) != 1:
            continue  # a quota that cannot be split between MIG profiles: quota_problems
        quota = {
            "name": resources[0],
            "nominalQuota": tenant.quota.gpu.get(pool_name, 0),
            "borrowingLimit": tenant.quota.borrow.get(pool_name, 0),
        }
        by_resource.setdefault(resources[0], []).append({"name": pool_name, "resources": [quota]})
    for resource, pool_flavors in sorted(by_resource.items()):
        groups.append({"coveredResources": [resource], "flavors": pool_flavors})
    return groups


def local_queue(ctx: CompileContext, tenant: str) -> dict[str, Any]:
    metadata = _metadata(ctx, gpu.LOCAL_QUEUE, _src(tenant), tenant=tenant)
    return {
        "apiVersion": API_VERSION,
        "kind": "LocalQueue",
        "metadata": {**metadata, "namespace": tenant},
        "spec": {"clusterQueue": tenant},
    }


def priority_classes(ctx: CompileContext) -> list[Artifact]:
    """One WorkloadPriorityClass per priority some tenant has (source: its first tenant)."""
    first: dict[str, str] = {}
    for name, tenant in sorted(ctx.platform.tenants.items()):
        first.setdefault(tenant.priority, name)
    artifacts = []
    for priority, tenant_name in sorted(first.items()):
        class_name = gpu.priority_class_name(priority)
        source = f"/tenants/{tenant_name}/priority"
        obj = {
            "apiVersion": API_VERSION,
            "kind": "WorkloadPriorityClass",
            "metadata": _metadata(ctx, class_name, source),
            "value": gpu.PRIORITY_VALUES[priority],
            "description": f"Work of mlspec tenants with priority {priority}.",
        }
        artifacts.append(Artifact(platform_path("WorkloadPriorityClass", class_name), obj, source))
    return artifacts


# --- Kueue's ClusterQueue rules ---------------------------------------------------------------


def cluster_queue_problems(spec: dict[str, Any]) -> list[str]:
    """The ClusterQueue rules Kueue enforces with CEL or in its webhook, not in the schema.

    Every flavor of a group lists the group's covered resources, in the same order; a
    resource and a flavor belong to one group only; borrowing and lending limits need a
    cohort; quantities are not negative; at most 256 flavors in all.
    """
    problems: list[str] = []
    group_of_resource: dict[str, int] = {}
    group_of_flavor: dict[str, int] = {}
    groups = spec.get("resourceGroups", [])
    for i, group in enumerate(groups):
        where = f"resourceGroups[{i}]"
        for resource in group["coveredResources"]:
            if group_of_resource.setdefault(resource, i) != i:
                first = group_of_resource[resource]
                problems.append(
                    f"{where}: {resource} is already covered by resourceGroups[{first}]"
                )
        for j, flavor in enumerate(group["flavors"]):
            problems += _flavor_problems(f"{where}.flavors[{j}]", flavor, group, spec)
            if group_of_flavor.setdefault(flavor["name"], i) != i:
                first = group_of_flavor[flavor["name"]]
                problems.append(
                    f"{where}: flavor {flavor['name']} is already in resourceGroups[{first}]"
                )
    if sum(len(group["flavors"]) for group in groups) > MAX_FLAVORS:
        problems.append(f"more than {MAX_FLAVORS} flavors across the resource groups")
    return problems


def _flavor_problems(
    where: str, flavor: dict[str, Any], group: dict[str, Any], spec: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    names = [quota["name"] for quota in flavor["resources"]]
    if names != group["coveredResources"]:
        problems.append(
            f"{where}: flavor {flavor['name']} lists {names}, the group covers "
            f"{group['coveredResources']} (the same resources, in the same order)"
        )
    for quota in flavor["resources"]:
        for limit in ("borrowingLimit", "lendingLimit"):
            if limit in quota and not spec.get("cohortName"):
                problems.append(f"{where}: {limit} of {quota['name']} needs a cohort")
        for field in ("nominalQuota", "borrowingLimit", "lendingLimit"):
            if str(quota.get(field, "0")).startswith("-"):
                problems.append(f"{where}: {field} of {quota['name']} is negative")
    return problems


def _rule_diagnostics(ctx: CompileContext, tenant: str, queue: dict[str, Any]) -> list[Diagnostic]:
    return [
        Diagnostic(
            "MLS844",
            f"the ClusterQueue of tenant {tenant} breaks a Kueue rule: {problem}",
            ctx.location(_src(tenant)),
            _src(tenant),
            "this is a bug in mlspec: please report it with the spec",
        )
        for problem in cluster_queue_problems(queue["spec"])
    ]


# --- names only Kueue sees ------------------------------------------------------------


def _name_problems(platform: Platform) -> Iterator[Problem]:
    if DEFAULT_FLAVOR in platform.gpu_pools:
        yield Problem(
            "MLS843",
            f"/gpuPools/{DEFAULT_FLAVOR}",
            f"GPU pool `{DEFAULT_FLAVOR}` has the name of the Kueue flavor of CPU nodes",
            "rename the pool",
            at_key=True,
        )
