"""Compiler `monitoring`: scraping, SLO and drift alerts, drift jobs and dashboards.

Per deployment (whether or not a monitor watches it, since KEDA autoscaling reads what
it scrapes): a ``PodMonitor`` selecting the predictor pods by the labels the serving
compiler sets (`promql.pod_selector`), and a Grafana dashboard ``ConfigMap``.
Per monitor: a ``PrometheusRule`` (latency p99, error ratio, scrape failures, drift),
and with ``drift:`` a ``CronJob`` running the Evidently-based checker with its config in
a ``ConfigMap``. A PodMonitor rather than a ServiceMonitor because KServe's Services
differ by mode (Knative revisions, standard ``-predictor`` Services) while its pods
carry our labels in every mode.

``onDrift.retrain`` is wired through alert labels: the drift alert carries
``retrain_pipeline`` and ``retrain_namespace``; an Alertmanager route on
``retrain_pipeline=~".+"`` sends it to a webhook that starts a run of that pipeline
through the KFP API (README, "Serving and monitoring").
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from mlspec.compilers import promql
from mlspec.compilers.base import Artifact, CompileContext, CompileResult, tenant_path
from mlspec.diagnostics import Diagnostic
from mlspec.output.emit import dump_json
from mlspec.spec.model import Deployment, Drift, Monitor

# Metrics port of each framework's KServe runtime (its prometheus.kserve.io/port).
METRICS_PORTS: dict[str, int] = {"onnx": 8002, "pytorch": 8082, "triton": 8002}
SERVING_PORT = 8080  # declared by every KServe runtime container
# mlspec's drift methods -> Evidently's stattest names.
EVIDENTLY_STATTESTS = {
    "chi2": "chisquare",
    "js": "jensenshannon",
    "kl": "kl_div",
    "ks": "ks",
    "psi": "psi",
    "wasserstein": "wasserstein",
}
WINDOW = "5m"
CONFIG_DIR = "/etc/mlspec/drift"
DRIFT_CPU, DRIFT_MEMORY = "500m", "1Gi"  # the checker's requests (memory also its limit)
GRAFANA_FOLDER_ANNOTATION = "grafana_folder"


class MonitoringCompiler:
    name: ClassVar[str] = "monitoring"

    def compile(self, ctx: CompileContext) -> CompileResult:
        result = CompileResult()
        for name, deployment in sorted(ctx.platform.deployments.items()):
            source, tenant = f"/deployments/{name}", deployment.tenant
            if not ctx.wants(source):
                continue
            result.artifacts += [
                Artifact(tenant_path(tenant, "PodMonitor", name), pod_monitor(ctx, name), source),
                Artifact(
                    tenant_path(tenant, "ConfigMap", f"{name}-dashboard"),
                    dashboard_config_map(ctx, name),
                    source,
                ),
            ]
        for name, monitor in sorted(ctx.platform.monitors.items()):
            problems = monitor_problems(ctx, name, monitor)
            result.diagnostics += problems
            if not problems and _wanted(ctx, f"/monitors/{name}"):
                result.artifacts += monitor_artifacts(ctx, name, monitor)
        return result


def _wanted(ctx: CompileContext, source: str) -> bool:
    """The node at ``source`` or its drift job (the drift config has a pointer of its own)."""
    return ctx.wants(source) or ctx.wants(f"{source}/drift")


def monitor_artifacts(ctx: CompileContext, name: str, monitor: Monitor) -> list[Artifact]:
    source, tenant = f"/monitors/{name}", monitor.tenant
    rule = prometheus_rule(ctx, name, monitor)
    artifacts = [Artifact(tenant_path(tenant, "PrometheusRule", name), rule, source)]
    if monitor.drift is not None:
        job, config = drift_cron_job(ctx, name, monitor), drift_config_map(ctx, name, monitor)
        artifacts += [
            Artifact(tenant_path(tenant, "CronJob", f"{name}-drift"), job, f"{source}/drift"),
            Artifact(tenant_path(tenant, "ConfigMap", f"{name}-drift"), config, f"{source}/drift"),
        ]
    return artifacts


def monitor_problems(ctx: CompileContext, name: str, monitor: Monitor) -> list[Diagnostic]:
    """A latency SLO on a runtime without request_predict_seconds would never fire."""
    deployment = ctx.platform.deployments[monitor.deployment]
    framework = ctx.platform.models[deployment.model].framework
    if monitor.slo is None or monitor.slo.latency_p99 is None:
        return []
    if framework in promql.KSERVE_MODEL_SERVERS:
        return []
    ptr = f"/monitors/{name}/slo/latencyP99"
    message = (
        f"the {framework} runtime does not export {promql.PREDICT_SECONDS}: "
        "this latency alert could never fire"
    )
    hint = "frameworks served by KServe's model server: " + ", ".join(
        sorted(promql.KSERVE_MODEL_SERVERS)
    )
    return [Diagnostic("MLS821", message, ctx.location(ptr), ptr, hint)]


def _metadata(
    ctx: CompileContext, name: str, tenant: str, source: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    meta = ctx.provenance(source, tenant=tenant)
    meta["labels"] = {**ctx.platform.metadata.labels, **(labels or {}), **meta["labels"]}
    return {"name": name, "namespace": tenant, **meta}


# --- scraping ------------------------------------------------------------------------------


def pod_monitor(ctx: CompileContext, name: str) -> dict[str, Any]:
    deployment = ctx.platform.deployments[name]
    tenant = deployment.tenant
    selector_labels = dict(ctx.platform.monitoring.selector_labels)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _metadata(ctx, name, tenant, f"/deployments/{name}", selector_labels),
        "spec": {
            "selector": {"matchLabels": promql.pod_selector(tenant, name)},
            "namespaceSelector": {"matchNames": [tenant]},
            "jobLabel": promql.LABEL_DEPLOYMENT,
            "podTargetLabels": sorted(promql.SERIES_POD_LABELS),
            "podMetricsEndpoints": [metrics_endpoint(ctx, deployment)],
        },
    }


def metrics_endpoint(ctx: CompileContext, deployment: Deployment) -> dict[str, Any]:
    """Scrape the runtime's metrics port; Prometheus only finds declared ports, so a
    metrics port other than the serving port is reached by rewriting the address."""
    framework = ctx.platform.models[deployment.model].framework
    port = METRICS_PORTS.get(framework, SERVING_PORT)
    endpoint: dict[str, Any] = {"portNumber": SERVING_PORT, "path": "/metrics", "interval": "30s"}
    if port != SERVING_PORT:
        endpoint["relabelings"] = [
            {
                "action": "replace",
                "sourceLabels": ["__meta_kubernetes_pod_ip"],
                "regex": "(.+)",
                "targetLabel": "__address__",
                "replacement": f"$1:{port}",
            }
        ]
    return endpoint


# --- alerts --------------------------------------------------------------------------------


def prometheus_rule(ctx: CompileContext, name: str, monitor: Monitor) -> dict[str, Any]:
    selector_labels = dict(ctx.platform.monitoring.selector_labels)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata(ctx, name, monitor.tenant, f"/monitors/{name}", selector_labels),
        "spec": {"groups": [{"name": f"mlspec.{name}", "rules": alert_rules(ctx, name, monitor)}]},
    }


def alert_rules(ctx: CompileContext, name: str, monitor: Monitor) -> list[dict[str, Any]]:
    deployment = ctx.platform.deployments[monitor.deployment]
    tenant, target = deployment.tenant, monitor.deployment
    labels = {
        "severity": monitor.alert.severity,
        "route": monitor.alert.route,
        "tenant": monitor.tenant,
        "deployment": target,
        "monitor": name,
    }
    what = f"{target} ({tenant})"
    rules = []
    slo = monitor.slo
    if slo is not None and slo.latency_p99 is not None:
        p99 = promql.latency_quantile("0.99", tenant, target, WINDOW)
        expr = promql.above(p99, slo.latency_p99.seconds)
        summary = f"p99 latency of {what} is above {slo.latency_p99.canonical}"
        rules.append(_alert("ModelLatencyP99High", expr, "10m", labels, summary))
    if slo is not None and slo.error_rate is not None:
        mode = ctx.platform.serving.mode
        services = promql.predictor_services(target, mode, deployment.canary is not None)
        expr = promql.above(promql.error_ratio(tenant, services, WINDOW), slo.error_rate.fraction)
        summary = f"error ratio of {what} is above {slo.error_rate.canonical}"
        rules.append(_alert("ModelErrorRateHigh", expr, "5m", labels, summary))
    expr = promql.targets_down(tenant, target)
    rules.append(_alert("ModelMetricsDown", expr, "10m", labels, f"cannot scrape {what}"))
    if monitor.drift is not None:
        rules.append(drift_alert(ctx, name, monitor, monitor.drift, labels))
    return rules


def drift_alert(
    ctx: CompileContext, name: str, monitor: Monitor, drift: Drift, labels: dict[str, str]
) -> dict[str, Any]:
    expr = promql.above(promql.drift_score(monitor.tenant, name), drift.threshold)
    summary = (
        f"{drift.method} drift of {monitor.deployment} is above {promql.number(drift.threshold)}"
    )
    drift_labels = dict(labels)
    if monitor.on_drift is not None:
        pipeline = monitor.on_drift.retrain
        drift_labels["retrain_pipeline"] = pipeline
        drift_labels["retrain_namespace"] = ctx.platform.pipelines[pipeline].tenant
    return _alert("ModelDriftDetected", expr, None, drift_labels, summary)


def _alert(
    alert: str, expr: str, hold: str | None, labels: dict[str, str], summary: str
) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "alert": alert,
        "expr": expr,
        "labels": dict(labels),
        "annotations": {"summary": summary, "description": "value: {{ $value }}"},
    }
    if hold is not None:
        rule["for"] = hold
    return rule


# --- drift ---------------------------------------------------------------------------------


def drift_config(ctx: CompileContext, name: str, monitor: Monitor, drift: Drift) -> dict[str, Any]:
    """What the checker reads: the data to compare, how, and where to push the score."""
    deployment = ctx.platform.deployments[monitor.deployment]
    model = ctx.platform.models[deployment.model]
    version = deployment.version
    if isinstance(version, str):
        version = model.aliases[version]
    return {
        "apiVersion": "mlspec.dev/v1alpha1",
        "kind": "DriftCheck",
        "monitor": name,
        "tenant": monitor.tenant,
        "inferenceService": {"name": monitor.deployment, "namespace": deployment.tenant},
        "model": {"name": deployment.model, "version": str(version)},
        "reference": drift.reference,
        "features": list(drift.features),
        "method": drift.method,
        "stattest": EVIDENTLY_STATTESTS[drift.method],
        "threshold": drift.threshold,
        "push": {
            "url": ctx.platform.monitoring.pushgateway_url,
            "job": promql.DRIFT_JOB,
            "metric": promql.DRIFT_SCORE,
            "grouping": {"monitor": name, "tenant": monitor.tenant},
        },
    }


def drift_config_map(ctx: CompileContext, name: str, monitor: Monitor) -> dict[str, Any]:
    assert monitor.drift is not None
    config = drift_config(ctx, name, monitor, monitor.drift)
    text = dump_json(config)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(ctx, f"{name}-drift", monitor.tenant, f"/monitors/{name}/drift"),
        "data": {"config.json": text},
    }


def drift_container(ctx: CompileContext) -> dict[str, Any]:
    """The checker, as the restricted Pod Security Standard wants it."""
    return {
        "name": "drift-checker",
        "image": ctx.platform.monitoring.drift_image,
        "args": ["--config", f"{CONFIG_DIR}/config.json"],
        "resources": {
            "requests": {"cpu": DRIFT_CPU, "memory": DRIFT_MEMORY},
            "limits": {"memory": DRIFT_MEMORY},
        },
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
    }


def drift_cron_job(ctx: CompileContext, name: str, monitor: Monitor) -> dict[str, Any]:
    assert monitor.drift is not None
    metadata = _metadata(ctx, f"{name}-drift", monitor.tenant, f"/monitors/{name}/drift")
    pod_labels = dict(metadata["labels"])
    pod = {
        "restartPolicy": "Never",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [drift_container(ctx)],
        "volumes": [{"name": "config", "configMap": {"name": f"{name}-drift"}}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": monitor.drift.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "backoffLimit": 1,
                    "template": {"metadata": {"labels": pod_labels}, "spec": pod},
                },
            },
        },
    }


# --- dashboards ----------------------------------------------------------------------------


def dashboard_config_map(ctx: CompileContext, name: str) -> dict[str, Any]:
    deployment = ctx.platform.deployments[name]
    label = {ctx.platform.monitoring.grafana_dashboard_label: "1"}
    metadata = _metadata(ctx, f"{name}-dashboard", deployment.tenant, f"/deployments/{name}", label)
    metadata["annotations"][GRAFANA_FOLDER_ANNOTATION] = deployment.tenant
    text = dump_json(dashboard(ctx, name))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": {f"{name}.json": text},
    }


def dashboard_queries(ctx: CompileContext, name: str) -> list[tuple[str, str, str, str]]:
    """(title, unit, query, legend) of each panel."""
    deployment = ctx.platform.deployments[name]
    tenant, mode = deployment.tenant, ctx.platform.serving.mode
    services = promql.predictor_services(name, mode, deployment.canary is not None)
    track = "{{" + promql.series_label(promql.LABEL_TRACK) + "}}"
    panels = [
        ("Latency p99", "s", promql.latency_quantile("0.99", tenant, name, WINDOW), "p99"),
        ("Latency p50", "s", promql.latency_quantile("0.5", tenant, name, WINDOW), "p50"),
        ("Throughput", "reqps", promql.request_rate(tenant, name, WINDOW), "requests/s"),
        ("Error ratio", "percentunit", promql.error_ratio(tenant, services, WINDOW), "5xx"),
        ("Replicas", "none", promql.ready_replicas(tenant, name), track),
    ]
    for monitor_name in ctx.monitors_by_deployment.get(name, []):
        monitor = ctx.platform.monitors[monitor_name]
        if monitor.drift is not None:
            query = promql.drift_score(monitor.tenant, monitor_name)
            panels.append((f"Drift score ({monitor_name})", "none", query, monitor.drift.method))
    return panels


def dashboard(ctx: CompileContext, name: str) -> dict[str, Any]:
    """A Grafana dashboard model, built as data; panels two to a row."""
    tenant = ctx.platform.deployments[name].tenant
    uid = "mlspec-" + hashlib.sha256(f"{tenant}/{name}".encode()).hexdigest()[:16]
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    panels = [
        {
            "id": index + 1,
            "type": "timeseries",
            "title": title,
            "datasource": datasource,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"refId": "A", "expr": query, "legendFormat": legend}],
        }
        for index, (title, unit, query, legend) in enumerate(dashboard_queries(ctx, name))
    ]
    variable = {"name": "datasource", "type": "datasource", "query": "prometheus"}
    return {
        "uid": uid,
        "title": f"{name} ({tenant})",
        "tags": ["mlspec", tenant],
        "editable": False,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [variable]},
        "panels": panels,
    }
