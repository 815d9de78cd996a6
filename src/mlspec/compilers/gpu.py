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

from collections.abc import Iterator
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
LOCAL_QUEUE = "default"  # Kueue also uses a LocalQueue named `default` for unlabelled jobs
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
