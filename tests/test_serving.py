"""Compiler `serving`: the reference spec's deployments as KServe InferenceServices."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import re2  # type: ignore[import-untyped]
import yaml

from mlspec.api import compile_spec
from mlspec.compilers import gpu
from mlspec.compilers.base import CompileContext, CompileResult
from mlspec.compilers.serving import MODEL_FORMATS, ServingCompiler, resolve
from mlspec.diagnostics import Diagnostic, Severity
from mlspec.output.kubeschema import check_object
from mlspec.spec.frontend import SpecFile, validate_spec
from mlspec.spec.model import FRAMEWORKS, Serving
from tests.conftest import EXAMPLE

MIG = "nvidia.com/mig-1g.10gb"


@functools.cache
def _context(env: str, mode: str | None = None) -> CompileContext:
    validated = validate_spec(SpecFile.read(EXAMPLE))
    spec = validated.environments[env]
    platform = spec.platform
    if mode is not None:
        platform = platform.model_copy(update={"serving": Serving(mode=mode)})  # type: ignore[arg-type]
    return CompileContext(env, spec.cluster, platform, spec.sources, "platform.yaml")


def _compile(env: str, mode: str | None = None) -> CompileResult:
    return ServingCompiler().compile(_context(env, mode))


def _isvc(env: str, name: str, mode: str | None = None) -> dict[str, Any]:
    found = [
        a.object for a in _compile(env, mode).artifacts if a.object["metadata"]["name"] == name
    ]
    assert len(found) == 1
    return found[0]


def _variant_spec(text: str, old: str, new: str) -> list[Diagnostic]:
    """Compile a variant of the reference spec, with real source positions."""
    assert text.count(old) == 1, old
    raw = text.replace(old, new).encode()
    return compile_spec(
        SpecFile("platform.yaml", "platform.yaml", raw), (), ["serving"]
    ).diagnostics


def _line_of(text: str, needle: str) -> int:
    return text.splitlines().index(next(x for x in text.splitlines() if needle in x)) + 1


def test_alias_champion_resolves_to_version_7_and_its_storage_uri() -> None:
    isvc = _isvc("prod", "fraud-scorer")
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == "s3://acme-models/fraud-detector/7"
    assert predictor["model"]["modelFormat"] == {"name": "xgboost"}
    for labels in (predictor["labels"], isvc["metadata"]["labels"]):
        assert labels["mlspec.dev/model-version"] == "7"
        assert labels["mlspec.dev/model-alias"] == "champion"
    model = _context("prod").platform.models["fraud-detector"]
    assert resolve(model, "challenger", "canary").uri == "s3://acme-models/fraud-detector/8"
    assert resolve(model, 8, "canary").alias is None


def test_canary_is_a_declarative_spec_canary_in_prod_and_absent_in_staging() -> None:
    prod = _isvc("prod", "fraud-scorer")
    assert prod["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    [canary] = prod["spec"]["canary"]
    assert canary["trafficPercent"] == 10
    assert canary["predictor"]["name"] == "canary"
    assert canary["predictor"]["model"]["storageUri"] == "s3://acme-models/fraud-detector/8"
    assert canary["predictor"]["labels"]["mlspec.dev/model-alias"] == "challenger"
    assert canary["predictor"]["labels"]["mlspec.dev/track"] == "canary"
    # KServe derives the canary's replicas from its traffic share: no autoscaling fields.
    assert not {"minReplicas", "maxReplicas", "scaleMetric"} & set(canary["predictor"])
    staging = _isvc("staging", "fraud-scorer")
    assert "canary" not in staging["spec"]
    assert "canaryTrafficPercent" not in staging["spec"]["predictor"]
    assert (
        staging["spec"]["predictor"]["minReplicas"],
        staging["spec"]["predictor"]["maxReplicas"],
    ) == (1, 2)


def test_knative_mode_canary_uses_canary_traffic_percent_and_warns_at_the_canary() -> None:
    result = _compile("prod", "knative")
    isvc = next(
        a.object for a in result.artifacts if a.object["metadata"]["name"] == "fraud-scorer"
    )
    predictor = isvc["spec"]["predictor"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
    assert predictor["canaryTrafficPercent"] == 10
    assert predictor["model"]["storageUri"] == "s3://acme-models/fraud-detector/8"
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", 20)
    [warning] = result.diagnostics
    assert (warning.code, warning.severity) == ("MLS815", Severity.WARNING)
    assert warning.pointer == "/deployments/fraud-scorer/canary"
    text = EXAMPLE.read_text()
    assert warning.location is not None
    assert warning.location.line == _line_of(text, "canary: {version: challenger, traffic: 10}")


def test_search_reranker_is_placed_on_the_mig_pool_and_queued_in_kueue() -> None:
    isvc = _isvc("prod", "search-reranker")
    predictor = isvc["spec"]["predictor"]
    resources = predictor["model"]["resources"]
    assert resources["requests"][MIG] == resources["limits"][MIG] == "1"
    assert "nvidia.com/gpu" not in resources["requests"]
    assert predictor["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert predictor["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    # The tenant's LocalQueue (gpu.LOCAL_QUEUE, made by the kueue compiler) and priority.
    for labels in (predictor["labels"], isvc["metadata"]["labels"]):
        assert labels["kueue.x-k8s.io/queue-name"] == gpu.LOCAL_QUEUE
        assert labels["kueue.x-k8s.io/priority-class"] == "mlspec-medium"
    assert "kueue.x-k8s.io/queue-name" not in _isvc("prod", "fraud-scorer")["metadata"]["labels"]


def test_concurrency_in_standard_mode_scales_with_keda_on_the_model_servers_histogram() -> None:
    isvc = _isvc("prod", "fraud-scorer")
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "keda"
    [metric] = isvc["spec"]["predictor"]["autoScaling"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["target"] == {"type": "Value", "value": "20"}
    query = metric["external"]["metric"]["query"]
    assert query.startswith("sum(rate(request_predict_seconds_sum{")
    assert 'mlspec_dev_track="stable"' in query and 'namespace="fraud"' in query


@pytest.mark.parametrize("env", ["prod", "staging"])
@pytest.mark.parametrize("mode", ["standard", "knative"])
def test_every_inference_service_is_valid_against_the_strict_kserve_crd(
    env: str, mode: str
) -> None:
    artifacts = _compile(env, mode).artifacts
    assert sorted(a.path for a in artifacts) == [
        "tenants/fraud/inferenceservice-fraud-scorer.yaml",
        "tenants/search/inferenceservice-search-reranker.yaml",
    ]
    for artifact in artifacts:
        assert check_object(artifact.object) == [], artifact.path
        assert artifact.object["metadata"]["annotations"]["mlspec.dev/source"] == (
            f"platform.yaml#{artifact.source}"
        )


def test_the_strict_check_catches_a_misspelt_field_in_our_output() -> None:
    isvc = _isvc("prod", "search-reranker")
    broken = {**isvc, "spec": {"predictor": {**isvc["spec"]["predictor"], "minReplica": 1}}}
    assert [str(p) for p in check_object(broken)] == [
        "spec.predictor.minReplica: unknown field (did you mean minReplicas?)"
    ]


def test_every_framework_has_a_kserve_model_format() -> None:
    assert set(MODEL_FORMATS) == set(FRAMEWORKS)


def test_an_unknown_framework_is_reported_at_its_line_naming_the_known_ones() -> None:
    text = EXAMPLE.read_text()
    [diag] = _variant_spec(text, "framework: xgboost", "framework: xgbost")
    assert diag.location is not None and diag.location.line == _line_of(text, "framework: xgboost")
    assert "xgboost" in diag.message and "sklearn" in diag.message


def test_cpu_autoscaling_in_knative_mode_is_refused_at_the_metric() -> None:
    text = EXAMPLE.read_text()
    variant = text.replace("registry:\n", "serving: {mode: knative}\nregistry:\n", 1)
    diagnostics = _variant_spec(variant, "metric: concurrency", "metric: cpu")
    errors = [d for d in diagnostics if d.is_error]
    assert {d.code for d in errors} == {"MLS812"}
    assert errors[0].pointer == "/deployments/fraud-scorer/autoscale/metric"
    assert errors[0].location is not None
    assert errors[0].location.line == _line_of(variant, "autoscale: {metric: concurrency")


def test_scale_to_zero_in_standard_mode_is_refused_at_replicas_min() -> None:
    text = EXAMPLE.read_text()
    diagnostics = _variant_spec(text, "replicas: {min: 1, max: 4}", "replicas: {min: 0, max: 4}")
    [error] = diagnostics
    assert (error.code, error.pointer) == ("MLS813", "/deployments/search-reranker/replicas/min")
    assert error.location is not None
    assert error.location.line == _line_of(text, "replicas: {min: 1, max: 4}")


def test_rps_autoscaling_is_refused_for_a_runtime_without_the_predict_histogram() -> None:
    text = EXAMPLE.read_text()
    [error] = _variant_spec(text, "framework: xgboost", "framework: pytorch")
    assert error.code == "MLS812" and "request_predict_seconds" in error.message


def test_a_gpu_pool_outside_the_tenants_quota_never_reaches_the_compiler() -> None:
    """Kueue would never admit it; the capacity analysis refuses it before compiling."""
    text = EXAMPLE.read_text()
    old = "resources: {cpu: 4, memory: 16Gi, gpu: {pool: h100-mig, count: 1}}"
    raw = text.replace(old, old.replace("h100-mig", "l4-shared")).encode()
    compiled = compile_spec(SpecFile("platform.yaml", "platform.yaml", raw), (), ["serving"])
    assert not compiled.ok and not compiled.files
    assert [d.pointer for d in compiled.diagnostics] == ["/deployments/search-reranker"]


def test_the_canary_service_name_must_not_collide_with_another_deployment() -> None:
    text = EXAMPLE.read_text()
    clone = "  fraud-scorer-canary:\n    tenant: fraud\n    model: fraud-detector\n    version: 8\n"
    diagnostics = _variant_spec(
        text,
        "  search-reranker:\n    tenant: search\n    model:",
        clone + "  search-reranker:\n    tenant: search\n    model:",
    )
    assert [d.code for d in diagnostics] == ["MLS811"]
    assert "fraud-scorer-canary-predictor" in diagnostics[0].message


def test_labels_are_valid_kubernetes_label_values() -> None:
    pattern = re2.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
    for artifact in _compile("prod").artifacts:
        for value in artifact.object["spec"]["predictor"]["labels"].values():
            assert pattern.match(value) and len(value) <= 63


def test_cpu_autoscaling_in_standard_mode_is_an_hpa_on_utilization() -> None:
    text = EXAMPLE.read_text()
    raw = text.replace("metric: concurrency, target: 20", "metric: cpu, target: 70").encode()
    compiled = compile_spec(SpecFile("platform.yaml", "platform.yaml", raw), ("prod",), ["serving"])
    assert compiled.ok, compiled.diagnostics
    isvc = yaml.safe_load(compiled.files["prod/tenants/fraud/inferenceservice-fraud-scorer.yaml"])
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "hpa"
    predictor = isvc["spec"]["predictor"]
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 70)
    assert predictor["scaleMetricType"] == "Utilization" and "autoScaling" not in predictor
    [error] = _variant_spec(text, "metric: concurrency, target: 20", "metric: memory, target: 512")
    assert (error.code, error.pointer) == ("MLS812", "/deployments/fraud-scorer/autoscale/target")
