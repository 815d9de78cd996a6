"""GPU pools as Kubernetes sees them: resource names, units, node placement.

Shared by every compiler that places work on GPUs (tenancy quotas, Kueue
flavors, KServe predictors, KFP steps), so they all agree on what a pool is:

    no sharing           nvidia.com/gpu           units = GPUs
    timeSlicing (n)      nvidia.com/gpu           units = GPU shares (n per GPU)
    mig, strategy single nvidia.com/gpu           units = MIG slices
    mig, strategy mixed  nvidia.com/mig-<profile> units = MIG slices of that profile

Nodes are selected by ``nvidia.com/gpu.product``, which GPU feature discovery sets;
in MIG strategy ``single`` it renames the product ``<product>-MIG-<profile>``.

Also here: the checks of pools and GPU quotas that more than one compiler relies on
(a check reported by several compilers is reported once: diagnostics are deduplicated).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlspec.compilers.base import CompileContext
from mlspec.diagnostics import Diagnostic, Location
from mlspec.spec.model import GpuPool, GpuRequest, Mig, Platform, Tenant
from mlspec.spec.names import label_value_problem

WHOLE_GPU = "nvidia.com/gpu"
PRODUCT_LABEL = "nvidia.com/gpu.product"
MIG_CONFIG_LABEL = "nvidia.com/mig.config"
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
MIG_COMPUTE_SLICES = 7  # compute slices of the largest MIG-capable GPUs (A100, H100)

# Kueue names shared by every compiler that submits work to a tenant's queue.
# Kueue puts a job without a queue label in its namespace's LocalQueue named `default`.
LOCAL_QUEUE = "default"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"


@dataclass(frozen=True)
class Placement:
    """Where and as what a GPU request runs."""

    resource: str  # extended resource name, e.g. nvidia.com/mig-1g.10gb
    count: int
    node_selector: dict[str, str]
    tolerations: list[dict[str, Any]]


def pool_resources(pool: GpuPool) -> list[str]:
    """The extended resources a pool's nodes advertise, sorted."""
    mig = pool.sharing.mig if pool.sharing else None
    if mig is not None and mig.strategy == "mixed":
        return sorted(f"nvidia.com/mig-{profile}" for profile in mig.profiles)
    return [WHOLE_GPU]


def pool_capacity(pool: GpuPool) -> dict[str, int]:
    """Schedulable units per resource: GPUs, GPU shares, or MIG slices."""
    gpus = pool.nodes * pool.gpus_per_node
    sharing = pool.sharing
    if sharing is not None and sharing.time_slicing is not None:
        return {WHOLE_GPU: gpus * sharing.time_slicing.replicas}
    if sharing is not None and sharing.mig is not None:
        slices = {f"nvidia.com/mig-{p}": gpus * n for p, n in sorted(sharing.mig.profiles.items())}
        if sharing.mig.strategy == "single":
            return {WHOLE_GPU: sum(slices.values())}
        return slices
    return {WHOLE_GPU: gpus}


def request_resource(pool: GpuPool, request: GpuRequest) -> str:
    """The resource a request asks for (references.py made sure a profile is known)."""
    resources = pool_resources(pool)
    if request.profile is not None and f"nvidia.com/mig-{request.profile}" in resources:
        return f"nvidia.com/mig-{request.profile}"
    return resources[0]


def mig_of(pool: GpuPool) -> Mig | None:
    return pool.sharing.mig if pool.sharing is not None else None


def node_selector(pool: GpuPool) -> dict[str, str]:
    mig = mig_of(pool)
    if mig is not None and mig.strategy == "single" and len(mig.profiles) == 1:
        (profile,) = mig.profiles
        return {PRODUCT_LABEL: f"{pool.product}-MIG-{profile}"}
    return {PRODUCT_LABEL: pool.product}


def tolerations(platform: Platform) -> list[dict[str, Any]]:
    return [{"key": platform.scheduling.gpu_taint, "operator": "Exists", "effect": "NoSchedule"}]


def placement(platform: Platform, request: GpuRequest) -> Placement:
    pool = platform.gpu_pools[request.pool]
    return Placement(
        resource=request_resource(pool, request),
        count=request.count,
        node_selector=node_selector(pool),
        tolerations=tolerations(platform),
    )


# --- Kueue names for the work of a tenant ---------------------------------------------------

PRIORITY_VALUES = {"low": 1000, "medium": 2000, "high": 3000, "critical": 4000}


def priority_class_name(priority: str) -> str:
    """The Kueue WorkloadPriorityClass of a tenant priority."""
    return f"mlspec-{priority}"


def workload_labels(platform: Platform, tenant: str) -> dict[str, str]:
    """Labels that put a job of ``tenant`` in its queue, at the tenant's priority."""
    priority = platform.tenants[tenant].priority
    return {QUEUE_LABEL: LOCAL_QUEUE, PRIORITY_LABEL: priority_class_name(priority)}


# --- a tenant's share of the pools ----------------------------------------------------------


def tenant_pools(tenant: Tenant) -> list[str]:
    """Pools the tenant has a share of, guaranteed or borrowable: its Kueue flavors."""
    return sorted(set(tenant.quota.gpu) | set(tenant.quota.borrow))


def gpu_ceiling(platform: Platform, tenant: Tenant) -> dict[str, int]:
    """The most of each GPU resource the tenant's pods may hold at once.

    Guaranteed plus borrowable units, summed over the pools that advertise the
    resource; 0 for resources of pools the tenant has no share of, so that pods
    which bypass Kueue cannot take them either.
    """
    ceiling = {res: 0 for pool in platform.gpu_pools.values() for res in pool_resources(pool)}
    for name in tenant_pools(tenant):
        units = tenant.quota.gpu.get(name, 0) + tenant.quota.borrow.get(name, 0)
        for resource in pool_resources(platform.gpu_pools[name]):
            ceiling[resource] += units
    return dict(sorted(ceiling.items()))


# --- problems shared by the compilers ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A spec problem found while compiling, before it has a source location."""

    code: str
    pointer: str
    message: str
    hint: str | None = None
    at_key: bool = False
    related: tuple[str, ...] = ()  # pointers of other nodes involved


def diagnostics(ctx: CompileContext, problems: Iterable[Problem]) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for p in problems:
        where = ctx.sources.key_location(p.pointer) if p.at_key else ctx.location(p.pointer)
        related = tuple(loc for loc in map(ctx.location, p.related) if isinstance(loc, Location))
        found.append(Diagnostic(p.code, p.message, where, p.pointer, p.hint, related=related))
    return found


def pool_problems(platform: Platform) -> Iterator[Problem]:
    """Pools the GPU operator cannot set up, or whose nodes no selector tells apart."""
    selected: dict[tuple[tuple[str, str], ...], str] = {}
    for name, pool in sorted(platform.gpu_pools.items()):
        yield from _mig_layout_problems(name, pool)
        selector = node_selector(pool)
        for label, value in selector.items():
            why = label_value_problem(value)
            if why:
                message = f"GPU pool {name}: node label {label}={value!r} {why}"
                yield Problem("MLS840", f"/gpuPools/{name}/product", message)
        first = selected.setdefault(tuple(sorted(selector.items())), name)
        if first != name:
            yield Problem(
                "MLS841",
                f"/gpuPools/{name}/product",
                f"GPU pools {first} and {name} select the same nodes ({_show(selector)}): "
                "their Kueue flavors and node selectors cannot tell them apart",
                "give each pool its own GPU product, or merge the two pools",
                related=(f"/gpuPools/{first}/product",),
            )


def _mig_layout_problems(name: str, pool: GpuPool) -> Iterator[Problem]:
    mig = mig_of(pool)
    if mig is None:
        return
    ptr = f"/gpuPools/{name}/sharing/mig/profiles"
    if mig.strategy == "single" and len(mig.profiles) > 1:
        yield Problem(
            "MLS840",
            ptr,
            f"GPU pool {name}: MIG strategy single needs the same single profile on every GPU, "
            f"got {', '.join(sorted(mig.profiles))}",
            "use strategy mixed to advertise each profile as its own resource",
        )
    slices = sum(int(profile[0]) * count for profile, count in mig.profiles.items())
    if slices > MIG_COMPUTE_SLICES:
        yield Problem(
            "MLS840",
            ptr,
            f"GPU pool {name}: this MIG layout needs {slices} compute slices per GPU; "
            f"a GPU has at most {MIG_COMPUTE_SLICES}",
            "fewer or smaller MIG devices per GPU",
        )


def quota_problems(platform: Platform) -> Iterator[Problem]:
    """Quotas on a pool that advertises several MIG profiles: one number cannot say how
    many slices of each profile the tenant gets."""
    for tenant_name, tenant in sorted(platform.tenants.items()):
        for section in ("gpu", "borrow"):
            for pool_name in sorted(getattr(tenant.quota, section)):
                pool = platform.gpu_pools.get(pool_name)
                resources = pool_resources(pool) if pool is not None else []
                if len(resources) > 1:
                    yield Problem(
                        "MLS842",
                        f"/tenants/{tenant_name}/quota/{section}/{pool_name}",
                        f"tenant {tenant_name}: one number cannot be split between the MIG "
                        f"profiles of pool {pool_name} ({', '.join(resources)})",
                        "give each MIG layout its own pool; per-profile quotas are not "
                        "part of the language yet",
                        at_key=True,
                    )


def _show(selector: dict[str, str]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(selector.items()))
