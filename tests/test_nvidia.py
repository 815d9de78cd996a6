"""Compiler `nvidia`: GPU Operator device-plugin and MIG configs, and MIG resource names
that follow each pool's strategy through every compiler."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from mlspec.compilers import gpu
from mlspec.compilers.base import CompileContext, Compiler, CompileResult
from mlspec.compilers.kueue import KueueCompiler
from mlspec.compilers.nvidia import NvidiaCompiler
from mlspec.compilers.tenancy import TenancyCompiler
from mlspec.spec.frontend import SpecFile, validate_spec
from tests.conftest import EXAMPLE

MIG_SPEC = """\
apiVersion: mlspec.dev/v1alpha1
kind: Platform
metadata: {name: lab}
gitops: {engine: argocd, repoURL: "https://git.example/ml.git"}
gpuPools:
  a100-mig:
    product: NVIDIA-A100-SXM4-80GB
    nodes: 2
    gpusPerNode: 8
    costPerGpuHour: 1.5
    sharing: {mig: {strategy: STRATEGY, profiles: PROFILES}}
tenants:
  team:
    displayName: Team
    owners: [a@lab.example]
    costCenter: CC-1
    quota: {cpu: 8, memory: 32Gi, gpu: {a100-mig: 6}}
"""


def compile_text(text: str, compiler: Compiler) -> CompileResult:
    """Compile the first environment (``prod`` of the reference, ``default`` otherwise)."""
    validated = validate_spec(SpecFile("platform.yaml", "platform.yaml", text.encode()))
    assert validated.ok, validated.diagnostics
    env = min(validated.environments)
    spec = validated.environments[env]
    ctx = CompileContext(env, spec.cluster, spec.platform, spec.sources, "platform.yaml")
    return compiler.compile(ctx)


def mig_spec(strategy: str, profiles: str) -> str:
    return MIG_SPEC.replace("STRATEGY", strategy).replace("PROFILES", profiles)


def configmaps(result: CompileResult) -> dict[str, dict[str, Any]]:
    return {a.object["metadata"]["name"]: a.object for a in result.artifacts}


@pytest.fixture(scope="module")
def reference() -> CompileResult:
    return compile_text(EXAMPLE.read_text(encoding="utf-8"), NvidiaCompiler())


def test_reference_gets_a_device_plugin_config_and_a_mig_config_in_the_operator_namespace(
    reference: CompileResult,
) -> None:
    assert reference.diagnostics == []
    assert sorted(a.path for a in reference.artifacts) == [
        "platform/configmap-mlspec-device-plugin-config.yaml",
        "platform/configmap-mlspec-mig-parted-config.yaml",
    ]
    for obj in configmaps(reference).values():
        assert obj["metadata"]["namespace"] == "gpu-operator"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlspec"


def test_time_slicing_config_is_the_device_plugin_format(reference: CompileResult) -> None:
    data = configmaps(reference)["mlspec-device-plugin-config"]["data"]
    assert sorted(data) == ["h100-mig", "l4-shared"]  # the unshared a100-80gb needs none
    assert yaml.safe_load(data["l4-shared"]) == {
        "version": "v1",
        "flags": {"migStrategy": "none"},
        "sharing": {"timeSlicing": {"resources": [{"name": "nvidia.com/gpu", "replicas": 4}]}},
    }
    assert yaml.safe_load(data["h100-mig"]) == {"version": "v1", "flags": {"migStrategy": "mixed"}}


def test_mig_config_is_the_mig_parted_format_with_a_layout_per_pool(
    reference: CompileResult,
) -> None:
    data = configmaps(reference)["mlspec-mig-parted-config"]["data"]
    assert list(data) == ["config.yaml"]
    assert yaml.safe_load(data["config.yaml"]) == {
        "version": "v1",
        "mig-configs": {
            "all-disabled": [{"devices": "all", "mig-enabled": False}],
            "h100-mig": [{"devices": "all", "mig-enabled": True, "mig-devices": {"1g.10gb": 7}}],
        },
    }


def test_configmaps_name_the_node_labels_an_admin_applies(reference: CompileResult) -> None:
    maps = configmaps(reference)
    mig = json.loads(
        maps["mlspec-mig-parted-config"]["metadata"]["annotations"]["mlspec.dev/node-labels"]
    )
    assert mig == {
        "h100-mig": {
            "nodes": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
            "labels": {"nvidia.com/mig.config": "h100-mig"},
        }
    }
    plugin = maps["mlspec-device-plugin-config"]["metadata"]["annotations"]
    assert json.loads(plugin["mlspec.dev/node-labels"])["l4-shared"]["labels"] == {
        "nvidia.com/device-plugin.config": "l4-shared"
    }


def test_pools_without_sharing_need_no_operator_config() -> None:
    plain = MIG_SPEC.replace("    sharing: {mig: {strategy: STRATEGY, profiles: PROFILES}}\n", "")
    assert "sharing" not in plain
    result = compile_text(plain, NvidiaCompiler())
    assert result.artifacts == [] and result.diagnostics == []


# --- MIG resource names follow the strategy ------------------------------------------------------


def _quota_and_queue(text: str) -> tuple[dict[str, str], list[str]]:
    hard = next(
        a.object["spec"]["hard"]
        for a in compile_text(text, TenancyCompiler()).artifacts
        if a.object["kind"] == "ResourceQuota"
    )
    queue = next(
        a.object
        for a in compile_text(text, KueueCompiler()).artifacts
        if a.object["kind"] == "ClusterQueue"
    )
    covered = [r for g in queue["spec"]["resourceGroups"] for r in g["coveredResources"]]
    return hard, covered


def test_mixed_strategy_quotas_and_queues_count_the_mig_profile_resource() -> None:
    text = mig_spec("mixed", '{"3g.40gb": 2}')
    hard, covered = _quota_and_queue(text)
    assert hard["requests.nvidia.com/mig-3g.40gb"] == "6"
    assert "requests.nvidia.com/gpu" not in hard
    assert covered == ["cpu", "memory", "nvidia.com/mig-3g.40gb"]
    flavor = next(
        a.object
        for a in compile_text(text, KueueCompiler()).artifacts
        if a.object["kind"] == "ResourceFlavor" and a.object["metadata"]["name"] == "a100-mig"
    )
    assert flavor["spec"]["nodeLabels"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}


def test_single_strategy_quotas_and_queues_count_nvidia_gpu_on_renamed_products() -> None:
    text = mig_spec("single", '{"3g.40gb": 2}')
    hard, covered = _quota_and_queue(text)
    assert hard["requests.nvidia.com/gpu"] == "6"
    assert covered == ["cpu", "memory", "nvidia.com/gpu"]
    result = compile_text(text, NvidiaCompiler())
    plugin = configmaps(result)["mlspec-device-plugin-config"]["data"]["a100-mig"]
    assert yaml.safe_load(plugin)["flags"] == {"migStrategy": "single"}
    pool = validate_spec(SpecFile("p", "p", text.encode())).environments["default"]
    # GPU feature discovery renames the product of a MIG node in strategy single.
    selector = gpu.node_selector(pool.platform.gpu_pools["a100-mig"])
    assert selector == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb"}


def test_single_strategy_with_several_profiles_is_an_error_at_the_profiles() -> None:
    text = mig_spec("single", '{"3g.40gb": 1, "1g.10gb": 4}')
    result = compile_text(text, NvidiaCompiler())
    (error,) = result.diagnostics
    assert error.code == "MLS840" and "strategy single" in error.message
    assert error.pointer == "/gpuPools/a100-mig/sharing/mig/profiles"
    assert error.location is not None and error.location.line == 11


def test_a_layout_over_seven_compute_slices_is_an_error() -> None:
    text = mig_spec("mixed", '{"3g.40gb": 2, "2g.20gb": 1}')
    result = compile_text(text, NvidiaCompiler())
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (
            "MLS840",
            "GPU pool a100-mig: this MIG layout needs 8 compute slices per GPU; "
            "a GPU has at most 7",
        )
    ]


def test_a_mig_pool_named_all_disabled_clashes_with_the_off_layout() -> None:
    text = mig_spec("mixed", '{"1g.10gb": 7}').replace("a100-mig", "all-disabled")
    result = compile_text(text, NvidiaCompiler())
    assert [d.code for d in result.diagnostics] == ["MLS843"]
    assert result.diagnostics[0].location is not None
    assert result.diagnostics[0].location.line == 6
