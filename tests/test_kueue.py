"""Compiler `kueue`: flavors, one ClusterQueue per tenant in a cohort, LocalQueues,
priorities, Kueue's CEL/webhook rules, and GPU requests no queue could admit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mlspec.api import compile_spec
from mlspec.compilers.base import CompileContext, CompileResult
from mlspec.compilers.kueue import KueueCompiler, cluster_queue_problems
from mlspec.diagnostics import Diagnostic
from mlspec.spec.frontend import SpecFile, validate_spec
from mlspec.spec.model import Platform
from tests.conftest import EXAMPLE


def compile_text(text: str, env: str = "prod") -> tuple[Platform, CompileResult]:
    validated = validate_spec(SpecFile("platform.yaml", "platform.yaml", text.encode()))
    assert validated.ok, validated.diagnostics
    spec = validated.environments[env]
    ctx = CompileContext(env, spec.cluster, spec.platform, spec.sources, "platform.yaml")
    return spec.platform, KueueCompiler().compile(ctx)


def by_kind(result: CompileResult, kind: str) -> dict[str, dict[str, Any]]:
    return {
        a.object["metadata"]["name"]: a.object for a in result.artifacts if a.object["kind"] == kind
    }


def edited(old: str, new: str) -> str:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return text.replace(old, new)


def position(text: str, marker: str, offset: int = 0) -> tuple[int, int]:
    """1-based line and column of ``marker`` (plus ``offset`` characters) in ``text``."""
    index = text.index(marker) + offset
    line = text.count("\n", 0, index) + 1
    return line, index - text.rfind("\n", 0, index)


def errors(result: CompileResult, code: str) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.code == code]


@pytest.fixture(scope="module")
def reference() -> tuple[Platform, CompileResult]:
    return compile_text(EXAMPLE.read_text(encoding="utf-8"))


def test_reference_compiles_to_flavors_queues_and_priorities_without_diagnostics(
    reference: tuple[Platform, CompileResult],
) -> None:
    _, result = reference
    assert result.diagnostics == []
    assert {a.object["apiVersion"] for a in result.artifacts} == {"kueue.x-k8s.io/v1beta2"}
    assert sorted(a.path for a in result.artifacts) == [
        "platform/clusterqueue-fraud.yaml",
        "platform/clusterqueue-search.yaml",
        "platform/resourceflavor-a100-80gb.yaml",
        "platform/resourceflavor-default.yaml",
        "platform/resourceflavor-h100-mig.yaml",
        "platform/resourceflavor-l4-shared.yaml",
        "platform/workloadpriorityclass-mlspec-high.yaml",
        "platform/workloadpriorityclass-mlspec-medium.yaml",
        "tenants/fraud/localqueue-default.yaml",
        "tenants/search/localqueue-default.yaml",
    ]


def test_every_cluster_queue_is_in_the_platform_cohort_and_serves_its_namespace(
    reference: tuple[Platform, CompileResult],
) -> None:
    for name, queue in by_kind(reference[1], "ClusterQueue").items():
        assert queue["spec"]["cohortName"] == "acme-ml"
        assert queue["spec"]["namespaceSelector"] == {
            "matchLabels": {"kubernetes.io/metadata.name": name}
        }
        assert queue["spec"]["preemption"]["reclaimWithinCohort"] == "Any"
    _, result = compile_text(edited("gitops:\n", "scheduling: {cohort: gpu-share}\ngitops:\n"))
    assert {q["spec"]["cohortName"] for q in by_kind(result, "ClusterQueue").values()} == {
        "gpu-share"
    }


def _quotas(queue: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (flavor["name"], res["name"]): res
        for group in queue["spec"]["resourceGroups"]
        for flavor in group["flavors"]
        for res in flavor["resources"]
    }


def test_nominal_quota_and_borrowing_limit_equal_the_spec(
    reference: tuple[Platform, CompileResult],
) -> None:
    platform, result = reference
    queues = by_kind(result, "ClusterQueue")
    for name, tenant in platform.tenants.items():
        quotas = _quotas(queues[name])
        assert quotas["default", "cpu"]["nominalQuota"] == tenant.quota.cpu.canonical
        assert quotas["default", "memory"]["nominalQuota"] == tenant.quota.memory.canonical
        assert quotas["default", "cpu"]["borrowingLimit"] == 0
        gpu_flavors = {flavor for flavor, _ in quotas if flavor != "default"}
        assert gpu_flavors == set(tenant.quota.gpu) | set(tenant.quota.borrow)
        for flavor, resource in quotas:
            if flavor != "default":
                assert quotas[flavor, resource]["nominalQuota"] == tenant.quota.gpu.get(flavor, 0)
                assert quotas[flavor, resource]["borrowingLimit"] == tenant.quota.borrow.get(
                    flavor, 0
                )
    fraud = _quotas(queues["fraud"])
    assert fraud["a100-80gb", "nvidia.com/gpu"] == {
        "name": "nvidia.com/gpu",
        "nominalQuota": 8,
        "borrowingLimit": 8,
    }
    assert _quotas(queues["search"])["h100-mig", "nvidia.com/mig-1g.10gb"]["nominalQuota"] == 14


def test_gpu_groups_are_one_per_resource_name_with_a_flavor_per_pool(
    reference: tuple[Platform, CompileResult],
) -> None:
    queues = by_kind(reference[1], "ClusterQueue")
    groups = {
        tenant: [
            (g["coveredResources"], [f["name"] for f in g["flavors"]])
            for g in queue["spec"]["resourceGroups"]
        ]
        for tenant, queue in queues.items()
    }
    assert groups == {
        "fraud": [
            (["cpu", "memory"], ["default"]),
            (["nvidia.com/gpu"], ["a100-80gb", "l4-shared"]),
        ],
        "search": [(["cpu", "memory"], ["default"]), (["nvidia.com/mig-1g.10gb"], ["h100-mig"])],
    }


def test_pool_flavors_select_the_product_and_tolerate_the_gpu_taint(
    reference: tuple[Platform, CompileResult],
) -> None:
    flavors = by_kind(reference[1], "ResourceFlavor")
    assert flavors["default"]["spec"] == {}
    assert flavors["a100-80gb"]["spec"] == {
        "nodeLabels": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    _, result = compile_text(
        edited("gitops:\n", "scheduling: {gpuTaint: gpu.acme/dedicated}\ngitops:\n")
    )
    (toleration,) = by_kind(result, "ResourceFlavor")["l4-shared"]["spec"]["tolerations"]
    assert toleration["key"] == "gpu.acme/dedicated"


def test_each_namespace_has_a_default_local_queue_feeding_its_cluster_queue(
    reference: tuple[Platform, CompileResult],
) -> None:
    queues = [a.object for a in reference[1].artifacts if a.object["kind"] == "LocalQueue"]
    assert [(q["metadata"]["namespace"], q["metadata"]["name"], q["spec"]) for q in queues] == [
        ("fraud", "default", {"clusterQueue": "fraud"}),
        ("search", "default", {"clusterQueue": "search"}),
    ]


def test_priority_classes_exist_for_the_tenants_priorities_in_order(
    reference: tuple[Platform, CompileResult],
) -> None:
    classes = by_kind(reference[1], "WorkloadPriorityClass")
    assert sorted(classes) == ["mlspec-high", "mlspec-medium"]
    assert classes["mlspec-high"]["value"] > classes["mlspec-medium"]["value"]
    _, result = compile_text(edited("priority: medium", "priority: critical"))
    values = {name: c["value"] for name, c in by_kind(result, "WorkloadPriorityClass").items()}
    assert values["mlspec-critical"] > values["mlspec-high"]


# --- GPU requests no queue would admit: refused before compiling, at the request ---------------


def compile_errors(text: str) -> list[Diagnostic]:
    """Errors of the whole pipeline (validate, then the compilers) for one spec text."""
    compiled = compile_spec(SpecFile("platform.yaml", "platform.yaml", text.encode()))
    return [d for d in compiled.diagnostics if d.is_error]


def test_a_step_on_a_pool_its_tenant_has_no_share_of_fails_at_the_request() -> None:
    text = edited("gpu_pool: a100-80gb}", "gpu_pool: h100-mig}")
    (error,) = compile_errors(text)
    assert error.pointer == "/pipelines/fraud-train/steps/train/resources/gpu/count"
    assert "quota 0 + borrow 0" in error.message
    # The request line is the template's (its pool is `{{ gpu_pool }}`).
    assert error.location is not None
    assert error.location.line == position(text, '"{{ gpu_pool }}"')[0]


def test_a_deployment_on_a_pool_its_tenant_has_no_share_of_fails_at_the_deployment() -> None:
    text = edited("gpu: {pool: h100-mig, count: 1}}", "gpu: {pool: l4-shared, count: 1}}")
    (error,) = compile_errors(text)
    assert error.pointer == "/deployments/search-reranker"
    assert "quota 0 + borrow 0" in error.message
    assert error.location is not None
    assert (
        error.location.line
        == position(text, "  search-reranker:\n    tenant: search\n    model")[0]
    )


def test_borrowable_units_count_towards_what_a_step_may_ask() -> None:
    old = "count: 1}}\n        retries: 2"
    text = edited(old, old.replace("count: 1", "count: 16"))  # 8 guaranteed + 8 borrowable
    assert compile_errors(text) == []
    (error,) = compile_errors(text.replace("count: 16}}", "count: 17}}"))
    assert error.pointer == "/pipelines/fraud-train/steps/train/resources/gpu/count"


# --- Kueue's rules, reproduced -----------------------------------------------------------------


def test_compiled_cluster_queues_break_no_kueue_rule(
    reference: tuple[Platform, CompileResult],
) -> None:
    for queue in by_kind(reference[1], "ClusterQueue").values():
        assert cluster_queue_problems(queue["spec"]) == []


def _gpu_group(*flavors: tuple[str, list[str]]) -> dict[str, Any]:
    return {
        "coveredResources": ["nvidia.com/gpu"],
        "flavors": [
            {"name": name, "resources": [{"name": r, "nominalQuota": 1} for r in resources]}
            for name, resources in flavors
        ],
    }


def test_kueue_rules_catch_flavors_that_do_not_cover_the_group_resources() -> None:
    spec = {"cohortName": "c", "resourceGroups": [_gpu_group(("a", ["nvidia.com/gpu", "cpu"]))]}
    assert cluster_queue_problems(spec) == [
        "resourceGroups[0].flavors[0]: flavor a lists ['nvidia.com/gpu', 'cpu'], the group "
        "covers ['nvidia.com/gpu'] (the same resources, in the same order)"
    ]
    spec["resourceGroups"] = [_gpu_group(("a", ["nvidia.com/mig-1g.10gb"]))]
    assert len(cluster_queue_problems(spec)) == 1


def test_kueue_rules_catch_a_resource_or_flavor_in_two_groups() -> None:
    spec = {"cohortName": "c", "resourceGroups": [_gpu_group(("a", ["nvidia.com/gpu"]))] * 2}
    assert cluster_queue_problems(spec) == [
        "resourceGroups[1]: nvidia.com/gpu is already covered by resourceGroups[0]",
        "resourceGroups[1]: flavor a is already in resourceGroups[0]",
    ]


def test_kueue_rules_catch_borrowing_limits_without_a_cohort(
    reference: tuple[Platform, CompileResult],
) -> None:
    spec = copy.deepcopy(by_kind(reference[1], "ClusterQueue")["fraud"]["spec"])
    del spec["cohortName"]
    problems = cluster_queue_problems(spec)
    assert "resourceGroups[1].flavors[0]: borrowingLimit of nvidia.com/gpu needs a cohort" in (
        problems
    )
    assert len(problems) == 4  # cpu, memory, and the two GPU flavors


# --- spec problems only the queues reveal -------------------------------------------------------


def test_a_pool_named_default_clashes_with_the_cpu_flavor() -> None:
    text = edited("  l4-shared:\n", "  default:\n").replace("l4-shared: 4}", "default: 4}")
    _, result = compile_text(text)
    (error,) = errors(result, "MLS843")
    assert error.pointer == "/gpuPools/default"
    assert error.location is not None
    assert error.location.line == position(text, "  default:\n    product")[0]


def test_two_pools_of_one_product_cannot_be_told_apart() -> None:
    text = edited("product: NVIDIA-L4", "product: NVIDIA-A100-SXM4-80GB")
    _, result = compile_text(text)
    (error,) = errors(result, "MLS841")
    assert "GPU pools a100-80gb and l4-shared select the same nodes" in error.message
    assert error.location is not None and len(error.related) == 1
    assert error.location.line == position(text, "product: NVIDIA-A100-SXM4-80GB\n    nodes: 2")[0]


def test_a_quota_on_a_pool_with_several_mig_profiles_is_ambiguous() -> None:
    text = edited('profiles: {"1g.10gb": 7}', 'profiles: {"1g.10gb": 3, "3g.40gb": 1}')
    text = text.replace("count: 2}}", 'count: 2, profile: "1g.10gb"}}')
    text = text.replace("count: 1}}\n\nmonitors", 'count: 1, profile: "1g.10gb"}}\n\nmonitors')
    _, result = compile_text(text)
    (error,) = errors(result, "MLS842")
    assert error.pointer == "/tenants/search/quota/gpu/h100-mig"
    assert error.location is not None
    assert (error.location.line, error.location.col) == position(text, "h100-mig: 14}", 0)
    search = by_kind(result, "ClusterQueue")["search"]
    assert cluster_queue_problems(search["spec"]) == []
