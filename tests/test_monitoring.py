"""Compiler `monitoring`, and serving + monitoring together as a kustomize tree."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import re2  # type: ignore[import-untyped]
import yaml

from mlspec.api import compile_spec
from mlspec.compilers.base import Artifact, CompileContext
from mlspec.compilers.monitoring import MonitoringCompiler
from mlspec.compilers.serving import ServingCompiler
from mlspec.output.emit import dump_yaml
from mlspec.output.kubeschema import check_object
from mlspec.spec.frontend import SpecFile, validate_spec
from mlspec.spec.model import Serving
from tests.conftest import EXAMPLE

ENVS = ("prod", "staging")


@functools.cache
def _context(env: str, mode: str | None = None) -> CompileContext:
    spec = validate_spec(SpecFile.read(EXAMPLE)).environments[env]
    platform = spec.platform
    if mode is not None:
        platform = platform.model_copy(update={"serving": Serving(mode=mode)})  # type: ignore[arg-type]
    return CompileContext(env, spec.cluster, platform, spec.sources, "platform.yaml")


@functools.cache
def _artifacts(env: str, mode: str | None = None) -> tuple[Artifact, ...]:
    ctx = _context(env, mode)
    serving, monitoring = ServingCompiler().compile(ctx), MonitoringCompiler().compile(ctx)
    assert not [d for d in serving.diagnostics + monitoring.diagnostics if d.is_error]
    return tuple(serving.artifacts + monitoring.artifacts)


def _objects(env: str, kind: str, mode: str | None = None) -> list[dict[str, Any]]:
    return [a.object for a in _artifacts(env, mode) if a.object["kind"] == kind]


def _one(env: str, kind: str, name: str) -> dict[str, Any]:
    [obj] = [o for o in _objects(env, kind) if o["metadata"]["name"] == name]
    return obj


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes LabelSelector evaluated against a pod's labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return bool(selector.get("matchLabels") or selector.get("matchExpressions"))


def _pods(isvc: dict[str, Any]) -> list[dict[str, str]]:
    """The labels of every kind of pod an InferenceService makes: stable and canary."""
    pods = [isvc["spec"]["predictor"]["labels"]]
    pods += [canary["predictor"]["labels"] for canary in isvc["spec"].get("canary", [])]
    return pods


def test_the_selector_evaluator_is_not_trivially_true() -> None:
    assert selects({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"})
    assert not selects({"matchLabels": {"a": "1"}}, {"a": "2"})
    assert not selects({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "1"})
    assert not selects({}, {"a": "1"})  # an empty selector would scrape every pod


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("mode", ["standard", "knative"])
def test_each_pod_monitor_selects_exactly_its_deployments_pods(env: str, mode: str) -> None:
    services = {o["metadata"]["name"]: o for o in _objects(env, "InferenceService", mode)}
    monitors = _objects(env, "PodMonitor", mode)
    assert sorted(m["metadata"]["name"] for m in monitors) == sorted(services)
    for monitor in monitors:
        spec, name = monitor["spec"], monitor["metadata"]["name"]
        for other, isvc in services.items():
            in_namespace = isvc["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
            for labels in _pods(isvc):
                assert (in_namespace and selects(spec["selector"], labels)) == (other == name)
        pod_labels = _pods(services[name])
        assert all(spec["jobLabel"] in labels for labels in pod_labels)
        assert all(set(spec["podTargetLabels"]) <= set(labels) for labels in pod_labels)


def _expressions(env: str, mode: str | None = None) -> list[str]:
    exprs = [
        rule["expr"]
        for rule_obj in _objects(env, "PrometheusRule", mode)
        for group in rule_obj["spec"]["groups"]
        for rule in group["rules"]
    ]
    for config_map in _objects(env, "ConfigMap", mode):
        for text in config_map["data"].values():
            if config_map["metadata"]["name"].endswith("-dashboard"):
                panels = json.loads(text)["panels"]
                exprs += [t["expr"] for p in panels for t in p["targets"]]
    for isvc in _objects(env, "InferenceService", mode):
        for metric in isvc["spec"]["predictor"].get("autoScaling", {}).get("metrics", []):
            exprs.append(metric["external"]["metric"]["query"])
    return exprs


def _selectors(expr: str) -> list[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def test_the_promql_parser_rejects_broken_expressions() -> None:
    for broken in ("sum(rate(x[5m])", 'x{a="b}', "x > > 1", "rate(x[5 m])"):
        with pytest.raises(ValueError):
            promql_parser.parse(broken)


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("mode", ["standard", "knative"])
def test_every_promql_expression_parses_and_is_scoped_to_one_tenant(env: str, mode: str) -> None:
    exprs = _expressions(env, mode)
    assert len(exprs) > 10
    tenants = set(_context(env).platform.tenants)
    for expr in exprs:
        selectors = _selectors(expr)
        assert selectors, expr
        for selector in selectors:
            matchers = {m.name: m.value for m in selector.matchers.matchers}
            scope = {
                matchers.get(k) for k in ("namespace", "destination_service_namespace", "tenant")
            }
            assert scope & tenants, expr


def test_slo_thresholds_are_the_specs_in_prometheus_units() -> None:
    rules = {
        r["alert"]: r
        for g in _one("prod", "PrometheusRule", "fraud-scorer-health")["spec"]["groups"]
        for r in g["rules"]
    }
    assert sorted(rules) == [
        "ModelDriftDetected",
        "ModelErrorRateHigh",
        "ModelLatencyP99High",
        "ModelMetricsDown",
    ]
    thresholds = {}
    for name, rule in rules.items():
        tree = promql_parser.parse(rule["expr"])
        assert isinstance(tree, promql_parser.BinaryExpr)
        assert isinstance(tree.rhs, promql_parser.NumberLiteral)
        thresholds[name] = tree.rhs.val
    assert thresholds == {
        "ModelLatencyP99High": 0.15,  # 150ms in seconds
        "ModelErrorRateHigh": 0.01,  # 1%
        "ModelMetricsDown": 0,
        "ModelDriftDetected": 0.2,
    }
    assert (rules["ModelLatencyP99High"]["for"], rules["ModelErrorRateHigh"]["for"]) == (
        "10m",
        "5m",
    )
    for rule in rules.values():
        assert rule["labels"]["severity"] == "page"
        assert rule["labels"]["route"] == "fraud-oncall"
    drift = rules["ModelDriftDetected"]["labels"]
    assert (drift["retrain_pipeline"], drift["retrain_namespace"]) == ("fraud-train", "fraud")
    search = _one("prod", "PrometheusRule", "search-reranker-health")["spec"]["groups"][0]["rules"]
    assert {r["labels"]["severity"] for r in search} == {"ticket"}
    assert "ModelDriftDetected" not in {r["alert"] for r in search}


def test_the_error_ratio_covers_the_canary_service_only_where_there_is_one() -> None:
    def services(env: str) -> str:
        rules = _one(env, "PrometheusRule", "fraud-scorer-health")["spec"]["groups"][0]["rules"]
        [rule] = [r for r in rules if r["alert"] == "ModelErrorRateHigh"]
        [selector, _] = _selectors(rule["expr"])
        return next(
            m.value for m in selector.matchers.matchers if m.name == "destination_service_name"
        )

    prod, staging = (
        re2.compile(f"^(?:{services('prod')})$"),
        re2.compile(f"^(?:{services('staging')})$"),
    )
    assert prod.match("fraud-scorer-predictor") and prod.match("fraud-scorer-canary-predictor")
    assert staging.match("fraud-scorer-predictor") and not staging.match(
        "fraud-scorer-canary-predictor"
    )
    assert not prod.match("fraud-scorer-predictorx") and not prod.match("other-predictor")


def test_drift_cron_job_runs_the_checker_on_its_config_map() -> None:
    job = _one("prod", "CronJob", "fraud-scorer-health-drift")
    config_map = _one("prod", "ConfigMap", "fraud-scorer-health-drift")
    assert job["spec"]["schedule"] == "*/30 * * * *" and job["spec"]["timeZone"] == "Etc/UTC"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "ghcr.io/mlspec/drift-checker:0.1.0"
    [volume] = pod["volumes"]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    config_path = container["args"][container["args"].index("--config") + 1]
    [mount] = container["volumeMounts"]
    assert config_path == f"{mount['mountPath']}/config.json"
    config = json.loads(config_map["data"]["config.json"])
    assert config["features"] == ["amount", "merchant_category", "hour_of_day"]
    assert (config["method"], config["stattest"], config["threshold"]) == ("psi", "psi", 0.2)
    assert config["model"] == {"name": "fraud-detector", "version": "7"}
    assert config["push"]["grouping"] == {"monitor": "fraud-scorer-health", "tenant": "fraud"}
    assert not [o for o in _objects("prod", "CronJob") if "search" in o["metadata"]["name"]]


def test_a_dashboard_per_deployment_for_the_grafana_sidecar() -> None:
    config_map = _one("prod", "ConfigMap", "fraud-scorer-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(config_map["data"]["fraud-scorer.json"])
    titles = [p["title"] for p in board["panels"]]
    assert titles == [
        "Latency p99",
        "Latency p50",
        "Throughput",
        "Error ratio",
        "Replicas",
        "Drift score (fraud-scorer-health)",
    ]
    assert len({p["id"] for p in board["panels"]}) == len(titles)
    assert len(board["uid"]) <= 40


def test_a_latency_slo_on_a_runtime_without_the_histogram_is_refused_at_its_line() -> None:
    text = EXAMPLE.read_text()
    variant = text.replace("framework: huggingface", "framework: triton")
    spec = SpecFile("platform.yaml", "platform.yaml", variant.encode())
    [error] = compile_spec(spec, ("prod",), ["monitoring"]).diagnostics
    assert (error.code, error.pointer) == (
        "MLS821",
        "/monitors/search-reranker-health/slo/latencyP99",
    )
    line = next(i for i, x in enumerate(variant.splitlines(), 1) if "latencyP99: 400ms" in x)
    assert error.location is not None and error.location.line == line


@pytest.mark.parametrize("env", ENVS)
def test_every_emitted_object_is_valid_against_its_strict_schema(env: str) -> None:
    kinds = set()
    for artifact in _artifacts(env):
        assert check_object(artifact.object) == [], artifact.path
        kinds.add(artifact.object["kind"])
        assert artifact.object["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "mlspec"
    assert kinds == {"ConfigMap", "CronJob", "InferenceService", "PodMonitor", "PrometheusRule"}


def _write_tree(root: Path, artifacts: tuple[Artifact, ...]) -> list[str]:
    paths = sorted(a.path for a in artifacts)
    for artifact in artifacts:
        path = root / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_yaml(artifact.object), encoding="utf-8")
    kustomization = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    kustomization["resources"] = paths  # type: ignore[assignment]
    (root / "kustomization.yaml").write_text(dump_yaml(kustomization), encoding="utf-8")
    return paths


@pytest.mark.parametrize("env", ENVS)
def test_the_tree_builds_with_kubectl_kustomize(env: str, tmp_path: Path, kubectl: Path) -> None:
    artifacts = _artifacts(env)
    _write_tree(tmp_path, artifacts)
    built = subprocess.run(
        [str(kubectl), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    built_objects = {
        (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in yaml.safe_load_all(built.stdout)
    }
    ours = {
        (
            a.object["kind"],
            a.object["metadata"]["namespace"],
            a.object["metadata"]["name"],
        ): a.object
        for a in artifacts
    }
    assert built_objects == ours  # every object, read back by kustomize exactly as we meant it


_DIGEST = """
import hashlib, sys
from mlspec.compilers.base import CompileContext
from mlspec.compilers.monitoring import MonitoringCompiler
from mlspec.compilers.serving import ServingCompiler
from mlspec.output.emit import dump_yaml
from mlspec.spec.frontend import SpecFile, validate_spec
digest = hashlib.sha256()
for env, spec in sorted(validate_spec(SpecFile.read(sys.argv[1])).environments.items()):
    ctx = CompileContext(env, spec.cluster, spec.platform, spec.sources, "platform.yaml")
    for compiler in (ServingCompiler(), MonitoringCompiler()):
        for a in compiler.compile(ctx).artifacts:
            digest.update(a.path.encode() + dump_yaml(a.object).encode())
print(digest.hexdigest())
"""


def test_output_is_the_same_bytes_under_another_hash_seed_time_zone_and_locale() -> None:
    here = hashlib.sha256()
    for env in sorted(ENVS):
        for artifact in _artifacts(env):
            here.update(artifact.path.encode() + dump_yaml(artifact.object).encode())
    env = {**os.environ, "PYTHONHASHSEED": "4242", "TZ": "Asia/Kolkata", "LANG": "de_DE.UTF-8"}
    run = subprocess.run(
        [sys.executable, "-c", _DIGEST, str(EXAMPLE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    assert run.stdout.strip() == here.hexdigest()
