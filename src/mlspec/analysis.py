"""Capacity, quota and cost figures of the GPU pools, and the checks on them.

Units. A pool is counted in its schedulable units (`compilers.gpu.pool_capacity`): whole
GPUs; MIG slices (``gpus x slices per GPU`` of each profile); or time-slice shares
(``gpus x replicas``). Quotas, borrow limits and GPU requests are written in those
units, so they are compared in them. Money is counted in GPUs: one unit is
``physical GPUs / units`` of a GPU (a slice of a GPU split 7 ways costs 1/7 of it, a
share of a GPU time-sliced 4 ways 1/4).

    capacity     the pool's units
    guaranteed   the sum of the tenants' quotas in the pool
    headroom     capacity - guaranteed: idle units tenants may borrow (negative when
                 over-committed)
    demand       serving (deployments' min replicas x units each) + the largest step
    monthly cost guaranteed GPUs x costPerGpuHour x 730 h (8,760 h a year / 12)

Checks (MLS605-607): guaranteed quotas over capacity, a tenant's serving demand over
its quota + borrow (at the deployment), and a step larger than its tenant's quota +
borrow (Kueue never admits it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from mlspec.diagnostics import Diagnostic, Location
from mlspec.spec.model import GpuPool, Platform, Resources
from mlspec.spec.source import SourceMap, escape_token

HOURS_PER_MONTH = 730
_CENT = Decimal("0.01")


class Demand(NamedTuple):
    """GPU units one deployment (at min replicas) or one step asks of a pool."""

    tenant: str
    pool: str
    units: int
    pointer: str  # the deployment or step
    serving: bool


class PoolFigures(NamedTuple):
    name: str
    pool: GpuPool
    resources: dict[str, int]  # extended resource -> units
    guaranteed: dict[str, int]  # tenant -> quota units
    borrow: dict[str, int]  # tenant -> borrow limit units
    demands: dict[str, tuple[Demand, ...]]  # tenant -> its deployments' and steps' demands

    @property
    def gpus(self) -> int:
        return self.pool.nodes * self.pool.gpus_per_node

    @property
    def capacity(self) -> int:
        return sum(self.resources.values())

    @property
    def gpu_per_unit(self) -> Fraction:
        return Fraction(self.gpus, self.capacity) if self.capacity else Fraction(1)

    @property
    def unit(self) -> str:
        sharing = self.pool.sharing
        if sharing is not None and sharing.time_slicing is not None:
            return "shares"
        if sharing is not None and sharing.mig is not None:
            return "slices of " + ", ".join(sorted(sharing.mig.profiles))
        return "GPUs"

    @property
    def serving_demand(self) -> int:
        return sum(serving_demand(d) for d in self.demands.values())

    @property
    def largest_step(self) -> int:
        return max((largest_step(d) for d in self.demands.values()), default=0)

    def gpus_of(self, units: int) -> Fraction:
        return units * self.gpu_per_unit

    def monthly_cost(self, units: int) -> Decimal:
        gpus = self.gpus_of(units)
        rate = Decimal(str(self.pool.cost_per_gpu_hour)) * HOURS_PER_MONTH
        return (rate * gpus.numerator / gpus.denominator).quantize(_CENT, ROUND_HALF_EVEN)


def serving_demand(demands: tuple[Demand, ...]) -> int:
    return sum(d.units for d in demands if d.serving)


def largest_step(demands: tuple[Demand, ...]) -> int:
    return max((d.units for d in demands if not d.serving), default=0)


def analyse(platform: Platform) -> dict[str, PoolFigures]:
    """The figures of every pool, by name (sorted). Linear in the size of the spec."""
    shares: dict[str, dict[str, dict[str, int]]] = {"gpu": {}, "borrow": {}}
    for tenant_name, tenant in sorted(platform.tenants.items()):
        for section, by_pool in shares.items():
            for pool, units in getattr(tenant.quota, section).items():
                by_pool.setdefault(pool, {})[tenant_name] = units
    from mlspec.compilers.gpu import pool_capacity  # not at the top: validate needs no compilers

    demands: dict[str, dict[str, list[Demand]]] = defaultdict(lambda: defaultdict(list))
    for demand in _demands(platform):
        demands[demand.pool][demand.tenant].append(demand)
    return {
        name: PoolFigures(
            name,
            pool,
            pool_capacity(pool),
            shares["gpu"].get(name, {}),
            shares["borrow"].get(name, {}),
            {t: tuple(d) for t, d in sorted(demands[name].items())},
        )
        for name, pool in sorted(platform.gpu_pools.items())
    }


def _demands(platform: Platform) -> Iterator[Demand]:
    for name, deployment in sorted(platform.deployments.items()):
        units = _units(deployment.resources)
        if units is not None:
            pool, count = units
            ptr = "/deployments/" + escape_token(name)
            yield Demand(deployment.tenant, pool, deployment.replicas.min * count, ptr, True)
    for name, pipeline in sorted(platform.pipelines.items()):
        for step_name, step in sorted(pipeline.steps.items()):
            units = _units(step.resources)
            if units is not None:
                ptr = f"/pipelines/{escape_token(name)}/steps/{escape_token(step_name)}"
                yield Demand(pipeline.tenant, units[0], units[1], ptr, False)


def _units(resources: Resources | None) -> tuple[str, int] | None:
    if resources is None or resources.gpu is None:
        return None
    return resources.gpu.pool, resources.gpu.count


# --- plain figures, for `mlspec capacity --format json` and the policy input ---------------


def figures(platform: Platform) -> dict[str, Any]:
    """Every figure as plain JSON data: per pool, and per tenant with its monthly cost."""
    pools = analyse(platform)
    return {
        "hoursPerMonth": HOURS_PER_MONTH,
        "pools": {name: _pool_data(f) for name, f in pools.items()},
        "tenants": {name: _tenant_data(name, pools) for name in sorted(platform.tenants)},
    }


def _pool_data(f: PoolFigures) -> dict[str, Any]:
    guaranteed = sum(f.guaranteed.values())
    return {
        "product": f.pool.product,
        "gpus": f.gpus,
        "unit": f.unit,
        "resources": f.resources,
        "capacity": f.capacity,
        "gpuPerUnit": _number(f.gpu_per_unit),
        "guaranteed": guaranteed,
        "borrowLimit": sum(f.borrow.values()),
        "headroom": f.capacity - guaranteed,
        "demand": {
            "serving": f.serving_demand,
            "largestStep": f.largest_step,
            "total": f.serving_demand + f.largest_step,
        },
        "costPerGpuHour": f.pool.cost_per_gpu_hour,
    }


def tenant_pools(tenant: str, pools: dict[str, PoolFigures]) -> dict[str, dict[str, Any]]:
    """The tenant's share of each pool it has a quota, a borrow limit or demand in."""
    shares: dict[str, dict[str, Any]] = {}
    for name, f in pools.items():
        mine = f.demands.get(tenant, ())
        units = f.guaranteed.get(tenant, 0)
        if tenant not in f.guaranteed and tenant not in f.borrow and not mine:
            continue
        shares[name] = {
            "guaranteed": units,
            "borrow": f.borrow.get(tenant, 0),
            "servingDemand": serving_demand(mine),
            "largestStep": largest_step(mine),
            "guaranteedGpus": _number(f.gpus_of(units)),
            "monthlyCost": float(f.monthly_cost(units)),
        }
    return shares


def _tenant_data(tenant: str, pools: dict[str, PoolFigures]) -> dict[str, Any]:
    shares = tenant_pools(tenant, pools)
    gpus = sum((pools[p].gpus_of(s["guaranteed"]) for p, s in shares.items()), Fraction(0))
    cost = sum((pools[p].monthly_cost(s["guaranteed"]) for p, s in shares.items()), Decimal(0))
    return {"pools": shares, "guaranteedGpus": _number(gpus), "monthlyCost": float(cost)}


def _number(value: Fraction) -> int | float:
    """An exact integer when it is one, else rounded to 6 decimals."""
    return int(value) if value.denominator == 1 else round(float(value), 6)


# --- checks ---------------------------------------------------------------------------------


def check_capacity(platform: Platform, sources: SourceMap) -> list[Diagnostic]:
    """MLS605-607 for one environment's platform."""
    found: list[Diagnostic] = []
    for f in analyse(platform).values():
        found += _over_committed(f, sources)
        found += _over_quota(f, sources)
    return found


def _quota_ptr(tenant: str, section: str, pool: str) -> str:
    return f"/tenants/{escape_token(tenant)}/quota/{section}/{escape_token(pool)}"


def _over_committed(f: PoolFigures, sources: SourceMap) -> list[Diagnostic]:
    guaranteed = sum(f.guaranteed.values())
    if guaranteed <= f.capacity:
        return []
    shares = ", ".join(f"{t} {units}" for t, units in f.guaranteed.items())
    related = [sources.key_location(_quota_ptr(t, "gpu", f.name)) for t in f.guaranteed]
    ptr = "/gpuPools/" + escape_token(f.name)
    return [
        Diagnostic(
            "MLS605",
            f"GPU pool {f.name} is over-committed: tenants are guaranteed {guaranteed} "
            f"{f.unit} ({shares}) of its {f.capacity}",
            sources.key_location(ptr),
            ptr,
            "lower the tenants' quotas or add nodes to the pool",
            related=tuple(loc for loc in related if isinstance(loc, Location)),
        )
    ]


def _over_quota(f: PoolFigures, sources: SourceMap) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for tenant, demands in f.demands.items():
        limit = f.guaranteed.get(tenant, 0) + f.borrow.get(tenant, 0)
        limit_text = (
            f"its quota {f.guaranteed.get(tenant, 0)} + borrow {f.borrow.get(tenant, 0)} "
            f"= {limit} {f.unit} of pool {f.name}"
        )
        serving = [d for d in demands if d.serving]
        if sum(d.units for d in serving) > limit:
            found.append(_serving_over_quota(tenant, serving, limit_text, sources))
        for step in (d for d in demands if not d.serving and d.units > limit):
            ptr = f"{step.pointer}/resources/gpu/count"
            message = f"a step of tenant {tenant} asks for {step.units} {f.unit}, over {limit_text}"
            hint = "Kueue never admits it; raise the quota or borrow limit, or ask for less"
            found.append(Diagnostic("MLS607", message, sources.value_location(ptr), ptr, hint))
    return found


def _serving_over_quota(
    tenant: str, serving: list[Demand], limit_text: str, sources: SourceMap
) -> Diagnostic:
    """Located at the deployment asking the most (the first by name among equals)."""
    largest = max(serving, key=lambda d: d.units)  # max keeps the first of equals
    parts = ", ".join(f"{d.pointer.rsplit('/', 1)[1]} {d.units}" for d in serving)
    total = sum(d.units for d in serving)
    related = [sources.key_location(d.pointer) for d in serving if d is not largest]
    return Diagnostic(
        "MLS606",
        f"the deployments of tenant {tenant} need {total} at their minimum replicas "
        f"({parts}), over {limit_text}",
        sources.key_location(largest.pointer),
        largest.pointer,
        "lower replicas.min, or raise the tenant's quota or borrow limit",
        related=tuple(loc for loc in related if isinstance(loc, Location)),
    )
