"""A deterministic generator of synthetic platforms of N tenants.

Each tenant has a quota and access, two models with versions and aliases, a
deployment with a canary and a GPU (and one on CPU for the second model), monitors
with SLOs (one with drift detection), and a three-step pipeline instantiated from a
shared template. The platform passes the default policies. GPU pools are
sized so that guaranteed quotas fit, as a real platform's would.

    python benchmarks/generate.py 1000 > /tmp/platform-1000.yaml
"""

from __future__ import annotations

import math
import sys
from typing import Any

from mlspec.output.emit import dump_yaml

GPUS_PER_NODE = 8
MIG_SLICES_PER_GPU = 7
TIME_SLICES = 4


def tenant_name(i: int) -> str:
    return f"t{i:05d}"


def platform(n: int) -> dict[str, Any]:
    tenants = [tenant_name(i) for i in range(n)]
    spec: dict[str, Any] = {
        "apiVersion": "mlspec.dev/v1alpha1",
        "kind": "Platform",
        "metadata": {"name": f"bench-{n}", "labels": {"org": "bench"}},
        "gitops": {"engine": "argocd", "repoURL": "https://git.example/ml-gitops.git"},
        "environments": {
            "staging": {"cluster": "staging", "patch": _staging_patch(tenants[0])},
            "prod": {"cluster": "prod"},
        },
        "gpuPools": _pools(n),
        "templates": {"train3": _template()},
        "tenants": {},
        "models": {},
        "deployments": {},
        "monitors": {},
        "pipelines": {},
    }
    for i, name in enumerate(tenants):
        _add_tenant(spec, i, name)
    return spec


def _pools(n: int) -> dict[str, Any]:
    mig_tenants = math.ceil(n / 3)
    return {
        "a100": {
            "product": "NVIDIA-A100-SXM4-80GB",
            "nodes": math.ceil(2 * n / GPUS_PER_NODE) + 1,
            "gpusPerNode": GPUS_PER_NODE,
            "costPerGpuHour": 2.93,
        },
        "h100-mig": {
            "product": "NVIDIA-H100-80GB-HBM3",
            "nodes": math.ceil(mig_tenants / GPUS_PER_NODE) + 1,
            "gpusPerNode": GPUS_PER_NODE,
            "costPerGpuHour": 4.1,
            "sharing": {"mig": {"strategy": "mixed", "profiles": {"1g.10gb": MIG_SLICES_PER_GPU}}},
        },
        "l4-shared": {
            "product": "NVIDIA-L4",
            "nodes": math.ceil(4 * n / (GPUS_PER_NODE * TIME_SLICES)) + 1,
            "gpusPerNode": GPUS_PER_NODE,
            "costPerGpuHour": 0.81,
            "sharing": {"timeSlicing": {"replicas": TIME_SLICES}},
        },
    }


def _template() -> dict[str, Any]:
    step = {"command": ["python", "-m"]}
    return {
        "parameters": {"data_uri": {"type": "string"}, "epochs": {"type": "integer", "default": 3}},
        "steps": {
            "prepare": {
                **step,
                "image": "ghcr.io/bench/prepare:{{ version }}",
                "args": ["prep", "--in", "{{ params.data_uri }}", "--out", "{{ outputs.data }}"],
                "outputs": {"data": "Dataset"},
                "resources": {"cpu": 2, "memory": "8Gi"},
            },
            "train": {
                **step,
                "image": "ghcr.io/bench/train:{{ version }}",
                "args": ["train", "--data", "{{ inputs.data }}", "--model", "{{ outputs.model }}"],
                "inputs": {"data": "prepare.data"},
                "outputs": {"model": "Model"},
                "resources": {"cpu": 4, "memory": "16Gi", "gpu": {"pool": "a100", "count": 1}},
                "retries": 2,
                "timeout": "2h",
            },
            "evaluate": {
                **step,
                "image": "ghcr.io/bench/evaluate:{{ version }}",
                "args": ["eval", "--model", "{{ inputs.model }}", "--out", "{{ outputs.metrics }}"],
                "inputs": {"model": "train.model"},
                "outputs": {"metrics": "Metrics"},
            },
        },
    }


def _add_tenant(spec: dict[str, Any], i: int, name: str) -> None:
    gpu = {"a100": 2, "l4-shared": 4}
    if i % 3 == 0:
        gpu["h100-mig"] = MIG_SLICES_PER_GPU
    spec["tenants"][name] = {
        "displayName": f"Tenant {i}",
        "owners": [f"owner{i}@bench.example"],
        "costCenter": f"CC-{1000 + i}",
        "priority": ("low", "medium", "high")[i % 3],
        "quota": {"cpu": 64, "memory": "256Gi", "gpu": gpu, "borrow": {"a100": 2}},
        "access": {"admins": [f"group:{name}-leads"], "editors": [f"group:{name}-ds"]},
    }
    scorer, ranker = f"{name}-scorer", f"{name}-ranker"
    aliases = {"champion": 1, "challenger": 2}
    spec["models"][scorer] = _model(name, "xgboost", scorer, [1, 2], aliases)
    spec["models"][ranker] = _model(name, "sklearn", ranker, [1], {"champion": 1})
    spec["deployments"][scorer] = {
        "tenant": name,
        "model": scorer,
        "version": "champion",
        "replicas": {"min": 2, "max": 4},
        "autoscale": {"metric": "cpu", "target": 70},
        "resources": {"cpu": 2, "memory": "4Gi", "gpu": {"pool": "l4-shared", "count": 1}},
        "canary": {"version": "challenger", "traffic": 10},
    }
    spec["deployments"][ranker] = {
        "tenant": name,
        "model": ranker,
        "version": 1,
        "replicas": {"min": 2, "max": 3},
        "resources": {"cpu": 1, "memory": "2Gi"},
    }
    spec["pipelines"][f"{name}-train"] = {
        "tenant": name,
        "template": "train3",
        "with": {"version": f"1.{i % 10}.0"},
        "parameters": {"data_uri": {"default": f"s3://bench-data/{name}/latest"}},
        "schedule": "0 3 * * *",
        "produces": {scorer: "train.model"},
    }
    spec["monitors"][f"{name}-ranker-health"] = {
        "tenant": name,
        "deployment": ranker,
        "slo": {"latencyP99": "300ms", "errorRate": "1%"},
        "alert": {"severity": "ticket", "route": f"{name}-oncall"},
    }
    spec["monitors"][f"{name}-health"] = {
        "tenant": name,
        "deployment": scorer,
        "slo": {"latencyP99": "200ms", "errorRate": "1%"},
        "drift": {
            "schedule": "*/30 * * * *",
            "reference": f"s3://bench-data/{name}/reference.parquet",
            "features": ["amount", "hour"],
            "method": "psi",
            "threshold": 0.2,
        },
        "alert": {"severity": "page", "route": f"{name}-oncall"},
        "onDrift": {"retrain": f"{name}-train"},
    }


def _model(
    tenant: str, framework: str, name: str, versions: list[int], aliases: dict[str, int]
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "framework": framework,
        "description": f"Synthetic model {name}.",
        "versions": {str(v): {"source": f"s3://bench-models/{name}/{v}"} for v in versions},
        "aliases": aliases,
    }


def _staging_patch(first_tenant: str) -> dict[str, Any]:
    return {"deployments": {f"{first_tenant}-scorer": {"replicas": {"min": 1, "max": 2}}}}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    sys.stdout.write(dump_yaml(platform(n)))


if __name__ == "__main__":
    main()
