"""Compiler `nvidia`: the NVIDIA GPU Operator configuration that makes pools' sharing real.

Two ConfigMaps in the GPU Operator's namespace (`GPU_OPERATOR_NAMESPACE`):

    mlspec-device-plugin-config   one device-plugin config (``version: v1``) per shared
                                  pool, keyed by pool name: ``sharing.timeSlicing`` with the
                                  pool's replicas, or the pool's MIG strategy in ``flags``
    mlspec-mig-parted-config      ``config.yaml`` for the MIG manager (mig-parted format,
                                  ``version: v1``, ``mig-configs``): ``all-disabled`` and one
                                  layout per MIG pool, named after the pool

What the cluster admin does once, outside mlspec (the ClusterPolicy is not ours):

    ClusterPolicy  spec.devicePlugin.config.name = mlspec-device-plugin-config
                   spec.migManager.config.name   = mlspec-mig-parted-config
    every node of a shared pool P:  nvidia.com/device-plugin.config=P
    every node of a MIG pool P:     nvidia.com/mig.config=P   (the MIG manager repartitions)

Each ConfigMap also names those labels in its ``mlspec.dev/node-labels`` annotation
(JSON: pool -> nodes to pick by label -> labels to set). The configs are JSON, which the
device plugin and mig-parted read as YAML: data, never text templates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

from mlspec.compilers import gpu
from mlspec.compilers.base import Artifact, CompileContext, CompileResult, platform_path
from mlspec.compilers.gpu import Problem
from mlspec.spec.model import GpuPool, Platform

GPU_OPERATOR_NAMESPACE = "gpu-operator"
DEVICE_PLUGIN_CONFIG = "mlspec-device-plugin-config"
MIG_PARTED_CONFIG = "mlspec-mig-parted-config"
MIG_PARTED_KEY = "config.yaml"
MIG_DISABLED = "all-disabled"  # the MIG manager's default layout: keep it defined
ANNOTATION_NODE_LABELS = "mlspec.dev/node-labels"
SOURCE = "/gpuPools"


class NvidiaCompiler:
    name: ClassVar[str] = "nvidia"

    def compile(self, ctx: CompileContext) -> CompileResult:
        result = CompileResult()
        problems = [*gpu.pool_problems(ctx.platform), *_name_problems(ctx.platform)]
        result.diagnostics += gpu.diagnostics(ctx, problems)
        pools = sorted(ctx.platform.gpu_pools.items())
        shared = {name: pool for name, pool in pools if device_plugin_config(pool) is not None}
        mig = {name: pool for name, pool in pools if gpu.mig_of(pool) is not None}
        if not ctx.wants(SOURCE):
            return result
        if shared:
            obj = device_plugin_configmap(ctx, shared)
            result.artifacts.append(
                Artifact(platform_path("ConfigMap", obj_name(obj)), obj, SOURCE)
            )
        if mig:
            obj = mig_parted_configmap(ctx, mig)
            result.artifacts.append(
                Artifact(platform_path("ConfigMap", obj_name(obj)), obj, SOURCE)
            )
        return result


def obj_name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def device_plugin_config(pool: GpuPool) -> dict[str, Any] | None:
    """The device plugin's config for the pool's nodes; None for an unshared pool."""
    sharing = pool.sharing
    if sharing is not None and sharing.time_slicing is not None:
        replicas = sharing.time_slicing.replicas
        return {
            "version": "v1",
            "flags": {"migStrategy": "none"},
            "sharing": {
                "timeSlicing": {"resources": [{"name": gpu.WHOLE_GPU, "replicas": replicas}]}
            },
        }
    mig = gpu.mig_of(pool)
    if mig is not None:
        return {"version": "v1", "flags": {"migStrategy": mig.strategy}}
    return None


def mig_layout(pool: GpuPool) -> list[dict[str, Any]]:
    """The pool's mig-parted layout: every GPU of a node split the same way."""
    mig = gpu.mig_of(pool)
    assert mig is not None
    devices = dict(sorted(mig.profiles.items()))
    return [{"devices": "all", "mig-enabled": True, "mig-devices": devices}]


def device_plugin_configmap(ctx: CompileContext, pools: dict[str, GpuPool]) -> dict[str, Any]:
    data = {name: _json(device_plugin_config(pool)) for name, pool in pools.items()}
    labels = {name: {gpu.DEVICE_PLUGIN_CONFIG_LABEL: name} for name in pools}
    return _configmap(ctx, DEVICE_PLUGIN_CONFIG, data, _node_labels(pools, labels))


def mig_parted_configmap(ctx: CompileContext, pools: dict[str, GpuPool]) -> dict[str, Any]:
    layouts = {MIG_DISABLED: [{"devices": "all", "mig-enabled": False}]}
    layouts.update({name: mig_layout(pool) for name, pool in pools.items()})
    config = {"version": "v1", "mig-configs": layouts}
    labels = {name: {gpu.MIG_CONFIG_LABEL: name} for name in pools}
    return _configmap(
        ctx, MIG_PARTED_CONFIG, {MIG_PARTED_KEY: _json(config)}, _node_labels(pools, labels)
    )


def _node_labels(pools: dict[str, GpuPool], labels: dict[str, dict[str, str]]) -> str:
    """Which nodes get which labels: the pool's nodes are the ones with its GPU product
    (before MIG repartitioning renames it in strategy single)."""
    plan = {
        name: {"nodes": {gpu.PRODUCT_LABEL: pool.product}, "labels": labels[name]}
        for name, pool in pools.items()
    }
    return json.dumps(plan, sort_keys=True, separators=(",", ":"))


def _configmap(
    ctx: CompileContext, name: str, data: dict[str, str], node_labels: str
) -> dict[str, Any]:
    provenance = ctx.provenance(SOURCE)
    labels = {**ctx.platform.metadata.labels, **provenance["labels"]}
    annotations = {**provenance["annotations"], ANNOTATION_NODE_LABELS: node_labels}
    metadata = {
        "name": name,
        "namespace": GPU_OPERATOR_NAMESPACE,
        "labels": labels,
        "annotations": annotations,
    }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, indent=2) + "\n"


def _name_problems(platform: Platform) -> Iterator[Problem]:
    pool = platform.gpu_pools.get(MIG_DISABLED)
    if pool is not None and gpu.mig_of(pool) is not None:
        yield Problem(
            "MLS843",
            f"/gpuPools/{MIG_DISABLED}",
            f"MIG pool `{MIG_DISABLED}` has the name of the MIG manager's layout that "
            "turns MIG off",
            "rename the pool",
            at_key=True,
        )
