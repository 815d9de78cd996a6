"""Capacity, quota and cost figures, and the capacity checks (MLS605-607)."""

from __future__ import annotations

from typing import Any

import pytest

from mlspec.analysis import HOURS_PER_MONTH, figures
from mlspec.spec.frontend import SpecFile, validate_spec
from tests.conftest import EXAMPLE
from tests.test_graph import line_of, validated


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    spec = validate_spec(SpecFile.read(EXAMPLE), ["prod"])
    return figures(spec.environments["prod"].platform)


def test_pool_capacity_is_counted_in_schedulable_units(reference: dict[str, Any]) -> None:
    pools = reference["pools"]
    # 4 nodes x 8 GPUs; 2 x 8 GPUs x 7 MIG slices; 2 x 4 GPUs x 4 time-slice shares
    assert (pools["a100-80gb"]["capacity"], pools["a100-80gb"]["unit"]) == (4 * 8, "GPUs")
    assert pools["h100-mig"]["capacity"] == 2 * 8 * 7 == 112
    assert pools["h100-mig"]["unit"] == "slices of 1g.10gb"
    assert pools["h100-mig"]["resources"] == {"nvidia.com/mig-1g.10gb": 112}
    assert (pools["l4-shared"]["capacity"], pools["l4-shared"]["unit"]) == (2 * 4 * 4, "shares")
    assert [pools[p]["gpus"] for p in ("a100-80gb", "h100-mig", "l4-shared")] == [32, 16, 8]


def test_quotas_headroom_and_demand_per_pool(reference: dict[str, Any]) -> None:
    a100, h100 = reference["pools"]["a100-80gb"], reference["pools"]["h100-mig"]
    assert (a100["guaranteed"], a100["borrowLimit"], a100["headroom"]) == (8, 8, 32 - 8)
    assert (h100["guaranteed"], h100["headroom"]) == (14, 112 - 14)
    # fraud-train's train step asks 1 GPU; nothing serves on a100
    assert a100["demand"] == {"serving": 0, "largestStep": 1, "total": 1}
    # search-reranker: min 1 replica x 1 slice; finetune: 2 slices
    assert h100["demand"] == {"serving": 1 * 1, "largestStep": 2, "total": 3}


def test_guaranteed_gpus_and_monthly_cost_per_tenant(reference: dict[str, Any]) -> None:
    assert HOURS_PER_MONTH == 730
    fraud, search = reference["tenants"]["fraud"], reference["tenants"]["search"]
    # fraud: 8 whole A100s, and 4 L4 shares of a GPU time-sliced 4 ways = 1 L4
    assert fraud["pools"]["a100-80gb"]["guaranteedGpus"] == 8
    assert fraud["pools"]["l4-shared"]["guaranteedGpus"] == 1
    assert fraud["guaranteedGpus"] == 9
    assert fraud["pools"]["a100-80gb"]["monthlyCost"] == pytest.approx(8 * 2.93 * 730)  # 17111.20
    assert fraud["pools"]["l4-shared"]["monthlyCost"] == pytest.approx(1 * 0.81 * 730)  # 591.30
    assert fraud["monthlyCost"] == pytest.approx(17111.20 + 591.30)
    # search: 14 slices of H100s split 7 ways = 2 H100s
    assert search["guaranteedGpus"] == 2
    assert search["monthlyCost"] == pytest.approx(2 * 4.10 * 730)  # 5986.00
    assert search["pools"]["h100-mig"]["servingDemand"] == 1
    assert search["pools"]["h100-mig"]["largestStep"] == 2


def test_a_slice_costs_its_fraction_of_a_gpu(example_text: str) -> None:
    text = example_text.replace("gpu: {h100-mig: 14}", "gpu: {h100-mig: 3}")
    spec = validated(text)
    search = figures(spec.environments["prod"].platform)["tenants"]["search"]
    assert search["guaranteedGpus"] == pytest.approx(3 / 7)
    assert search["monthlyCost"] == round(3 / 7 * 4.10 * 730, 2)  # 1282.71


def test_over_committed_pool_is_an_error_at_the_pool(example_text: str) -> None:
    text = example_text.replace("gpu: {h100-mig: 14}", "gpu: {h100-mig: 113}")
    spec = validated(text)
    (diag,) = spec.diagnostics
    assert diag.code == "MLS605"
    assert "tenants are guaranteed 113 slices of 1g.10gb (search 113) of its 112" in diag.message
    assert diag.location is not None
    assert diag.location.line == line_of(text, "h100-mig:", "gpuPools:")
    assert [loc.line for loc in diag.related] == [line_of(text, "gpu: {h100-mig: 113}")]


def test_serving_demand_over_quota_and_borrow_is_an_error_at_the_deployment(
    example_text: str,
) -> None:
    text = example_text.replace("replicas: {min: 1, max: 4}", "replicas: {min: 15, max: 16}")
    spec = validated(text)
    (diag,) = spec.diagnostics
    assert diag.code == "MLS606"
    assert "need 15 at their minimum replicas (search-reranker 15)" in diag.message
    assert "quota 14 + borrow 0 = 14 slices of 1g.10gb of pool h100-mig" in diag.message
    assert diag.location is not None
    assert diag.location.line == line_of(text, "search-reranker:", "\ndeployments:")


def test_borrowing_covers_serving_demand_above_the_quota(example_text: str) -> None:
    gpu = "resources: {cpu: 2, memory: 4Gi}"
    text = example_text.replace(
        gpu, "resources: {cpu: 2, memory: 4Gi, gpu: {pool: a100-80gb, count: 4}}"
    )
    # fraud-scorer: 2 replicas x 4 GPUs = 8 <= 8 + 8 borrowed; 5 replicas x 4 = 20 > 16
    assert validated(text).diagnostics == []
    text = text.replace("replicas: {min: 2, max: 10}", "replicas: {min: 5, max: 10}")
    assert [d.code for d in validated(text).diagnostics] == ["MLS606"]


def test_step_larger_than_quota_and_borrow_is_an_error_at_its_count(example_text: str) -> None:
    text = example_text.replace(
        "gpu: {pool: h100-mig, count: 2}", "gpu: {pool: h100-mig, count: 15}"
    )
    spec = validated(text)
    (diag,) = spec.diagnostics
    assert diag.code == "MLS607"
    assert diag.pointer == "/pipelines/search-rerank-train/steps/finetune/resources/gpu/count"
    assert diag.location is not None
    assert diag.location.line == line_of(text, "count: 15")
