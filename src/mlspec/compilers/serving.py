"""Compiler `serving`: each deployment becomes a KServe ``InferenceService``.

The deployment mode is the platform setting ``serving.mode``, written on every object
as the ``serving.kserve.io/deploymentMode`` annotation (``Standard`` / ``Knative``, the
names since KServe 0.15). The default is ``standard`` because its canary is *declarative*:
``spec.canary`` (KServe >= 0.20) names the canary's model next to the stable one, so the
cluster state is a function of the git tree alone. Knative's ``canaryTrafficPercent``
splits traffic between the *last rolled-out revision* and the new one: which version the
90 % go to depends on the cluster's history, not on git (a fresh cluster sends 100 % to
the canary). It is still compiled in ``knative`` mode, with a warning.

Combinations KServe would reject or silently ignore are refused at the spec line:
cpu/memory autoscaling in Knative mode (the KPA knows concurrency and rps only),
scale-to-zero in standard mode (an HPA cannot), and rps/concurrency in standard mode for
runtimes that do not export ``request_predict_seconds`` (KEDA would scale on nothing).
Standard mode scales cpu/memory with an HPA, rps/concurrency with KEDA on a Prometheus
query over the model server's own histogram (see `promql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from mlspec.compilers import gpu, promql
from mlspec.compilers.base import (
    MANAGED_BY,
    Artifact,
    CompileContext,
    CompileResult,
    tenant_path,
)
from mlspec.diagnostics import Diagnostic, Severity, has_errors
from mlspec.spec.model import Deployment, GpuRequest, Model, Resources
from mlspec.spec.names import DNS_LABEL_MAX

# The model's framework -> KServe modelFormat name (the runtimes' supportedModelFormats).
MODEL_FORMATS: dict[str, str] = {
    "huggingface": "huggingface",
    "lightgbm": "lightgbm",
    "mlflow": "mlflow",
    "onnx": "onnx",
    "paddle": "paddle",
    "pmml": "pmml",
    "pytorch": "pytorch",
    "sklearn": "sklearn",
    "tensorflow": "tensorflow",
    "triton": "triton",
    "xgboost": "xgboost",
}
ANNOTATION_MODE = "serving.kserve.io/deploymentMode"
ANNOTATION_AUTOSCALER = "serving.kserve.io/autoscalerClass"
MODE_NAMES = {"standard": "Standard", "knative": "Knative"}
KPA_METRICS = ("concurrency", "rps")
KEDA_WINDOW = "1m"
KSERVE_CONTAINER = "kserve-container"


@dataclass(frozen=True)
class Variant:
    """One model version served by a deployment: the stable one or the canary."""

    version: str
    alias: str | None
    uri: str
    track: str  # stable | canary


def resolve(model: Model, ref: int | str, track: str) -> Variant:
    """A version reference resolved through the model's aliases: champion -> 7 -> its URI."""
    version, alias = (str(ref), None) if isinstance(ref, int) else (str(model.aliases[ref]), ref)
    return Variant(version, alias, model.versions[version].source, track)


class ServingCompiler:
    name: ClassVar[str] = "serving"

    def compile(self, ctx: CompileContext) -> CompileResult:
        result = CompileResult()
        for name, deployment in sorted(ctx.platform.deployments.items()):
            problems = deployment_problems(ctx, name, deployment)
            result.diagnostics += problems
            if has_errors(problems) or not ctx.wants(f"/deployments/{name}"):
                continue
            path = tenant_path(deployment.tenant, "InferenceService", name)
            obj = inference_service(ctx, name, deployment)
            result.artifacts.append(Artifact(path, obj, f"/deployments/{name}"))
        return result


# --- the InferenceService ------------------------------------------------------------------


def inference_service(ctx: CompileContext, name: str, deployment: Deployment) -> dict[str, Any]:
    model = ctx.platform.models[deployment.model]
    stable = resolve(model, deployment.version, "stable")
    metadata = ctx.provenance(f"/deployments/{name}", tenant=deployment.tenant)
    metadata["labels"] = {**pod_labels(ctx, name, deployment, stable), **metadata["labels"]}
    metadata["annotations"].update(mode_annotations(ctx, deployment))
    spec: dict[str, Any] = {"predictor": predictor(ctx, name, deployment, stable)}
    spec["predictor"].update(scaling(ctx, name, deployment))
    canary = deployment.canary
    if canary is not None:
        variant = resolve(model, canary.version, "canary")
        if ctx.platform.serving.mode == "knative":
            spec["predictor"].update(predictor(ctx, name, deployment, variant))
            spec["predictor"]["canaryTrafficPercent"] = canary.traffic
        else:
            canary_predictor: dict[str, Any] = {"name": promql.CANARY_NAME}
            canary_predictor.update(predictor(ctx, name, deployment, variant))
            # The canary's CRD schema requires the container name KServe defaults elsewhere.
            canary_predictor["model"]["name"] = KSERVE_CONTAINER
            spec["canary"] = [{"trafficPercent": canary.traffic, "predictor": canary_predictor}]
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": deployment.tenant, **metadata},
        "spec": spec,
    }


def pod_labels(
    ctx: CompileContext, name: str, deployment: Deployment, variant: Variant
) -> dict[str, str]:
    """Labels of the predictor's pods; the monitoring compiler selects on them."""
    labels = {**ctx.platform.metadata.labels, **MANAGED_BY}
    labels.update(promql.pod_selector(deployment.tenant, name))
    labels[promql.LABEL_MODEL] = deployment.model
    labels[promql.LABEL_VERSION] = variant.version
    labels[promql.LABEL_TRACK] = variant.track
    if variant.alias is not None:
        labels[promql.LABEL_ALIAS] = variant.alias
    if _gpu(deployment.resources) is not None:  # GPU pods are admitted by Kueue
        labels.update(gpu.workload_labels(ctx.platform, deployment.tenant))
    return labels


def predictor(
    ctx: CompileContext, name: str, deployment: Deployment, variant: Variant
) -> dict[str, Any]:
    """The parts of a predictor that depend on the version served (not its scaling)."""
    framework = ctx.platform.models[deployment.model].framework
    container: dict[str, Any] = {
        "modelFormat": {"name": MODEL_FORMATS[framework]},
        "storageUri": variant.uri,
    }
    resources = container_resources(ctx, deployment.resources)
    if resources:
        container["resources"] = resources
    body: dict[str, Any] = {
        "labels": pod_labels(ctx, name, deployment, variant),
        "model": container,
    }
    request = _gpu(deployment.resources)
    if request is not None:
        where = gpu.placement(ctx.platform, request)
        body["nodeSelector"] = dict(sorted(where.node_selector.items()))
        body["tolerations"] = where.tolerations
    return body


def container_resources(ctx: CompileContext, resources: Resources | None) -> dict[str, Any]:
    """Requests (memory and GPUs also as limits, as Kubernetes wants for GPUs)."""
    if resources is None:
        return {}
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    if resources.cpu is not None:
        requests["cpu"] = resources.cpu.canonical
    if resources.memory is not None:
        requests["memory"] = limits["memory"] = resources.memory.canonical
    if resources.gpu is not None:
        where = gpu.placement(ctx.platform, resources.gpu)
        requests[where.resource] = limits[where.resource] = str(where.count)
    out: dict[str, Any] = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def mode_annotations(ctx: CompileContext, deployment: Deployment) -> dict[str, str]:
    mode = ctx.platform.serving.mode
    annotations = {ANNOTATION_MODE: MODE_NAMES[mode]}
    autoscale = deployment.autoscale
    if mode == "standard" and autoscale is not None:
        keda = autoscale.metric in KPA_METRICS
        annotations[ANNOTATION_AUTOSCALER] = "keda" if keda else "hpa"
    return annotations


def scaling(ctx: CompileContext, name: str, deployment: Deployment) -> dict[str, Any]:
    """Replica bounds and the autoscaler's metric, in the mode's own terms."""
    out: dict[str, Any] = {
        "minReplicas": deployment.replicas.min,
        "maxReplicas": deployment.replicas.max,
    }
    autoscale = deployment.autoscale
    if autoscale is None:
        return out
    if ctx.platform.serving.mode == "knative" or autoscale.metric not in KPA_METRICS:
        out["scaleMetric"] = autoscale.metric
        out["scaleTarget"] = autoscale.target
        if ctx.platform.serving.mode == "standard":
            # KServe's HPA reads a cpu or memory scaleTarget as a utilization percentage.
            out["scaleMetricType"] = "Utilization"
        return out
    build = promql.request_rate if autoscale.metric == "rps" else promql.concurrency
    query = build(deployment.tenant, name, KEDA_WINDOW, "stable")
    metric = {"backend": "prometheus", "serverAddress": ctx.platform.monitoring.prometheus_url}
    metric["query"] = query
    target = {"type": "Value", "value": str(autoscale.target)}
    out["autoScaling"] = {
        "metrics": [{"type": "External", "external": {"metric": metric, "target": target}}]
    }
    return out


def _gpu(resources: Resources | None) -> GpuRequest | None:
    return resources.gpu if resources is not None else None


# --- what KServe would refuse or ignore ------------------------------------------------------


def deployment_problems(ctx: CompileContext, name: str, deployment: Deployment) -> list[Diagnostic]:
    return [
        *_name_problems(ctx, name, deployment),
        *_autoscale_problems(ctx, name, deployment),
        *_canary_problems(ctx, name, deployment),
    ]


def _diagnostic(
    ctx: CompileContext,
    code: str,
    ptr: str,
    message: str,
    hint: str | None = None,
    severity: Severity = Severity.ERROR,
) -> Diagnostic:
    return Diagnostic(code, message, ctx.location(ptr), ptr, hint, severity)


def _name_problems(ctx: CompileContext, name: str, deployment: Deployment) -> list[Diagnostic]:
    """KServe derives Service and Deployment names; they must be DNS labels and unique."""
    derived = [f"{name}-predictor"]
    standard_canary = deployment.canary is not None and ctx.platform.serving.mode == "standard"
    if standard_canary:
        derived.append(f"{name}-{promql.CANARY_NAME}-predictor")
    problems = [
        _diagnostic(
            ctx,
            "MLS811",
            f"/deployments/{name}",
            f"KServe names the predictor Service `{derived_name}`: over {DNS_LABEL_MAX} characters",
            "shorten the deployment name",
        )
        for derived_name in derived
        if len(derived_name) > DNS_LABEL_MAX
    ]
    other = f"{name}-{promql.CANARY_NAME}"
    clash = ctx.platform.deployments.get(other)
    if standard_canary and clash is not None and clash.tenant == deployment.tenant:
        message = f"the canary of {name} and the deployment {other} both make `{derived[-1]}`"
        problems.append(
            _diagnostic(ctx, "MLS811", f"/deployments/{name}/canary", message, "rename one")
        )
    return problems


def _autoscale_problems(ctx: CompileContext, name: str, deployment: Deployment) -> list[Diagnostic]:
    mode = ctx.platform.serving.mode
    base = f"/deployments/{name}"
    problems: list[Diagnostic] = []
    if mode == "standard" and deployment.replicas.min == 0:
        message = "replicas.min 0 (scale to zero) needs serving.mode knative; an HPA cannot do it"
        problems.append(_diagnostic(ctx, "MLS813", f"{base}/replicas/min", message))
    autoscale = deployment.autoscale
    if autoscale is None:
        return problems
    metric = autoscale.metric
    framework = ctx.platform.models[deployment.model].framework
    if mode == "knative" and metric not in KPA_METRICS:
        message = f"Knative's autoscaler scales on concurrency or rps, not {metric}"
        hint = "use serving.mode standard (an HPA) for cpu or memory"
        problems.append(_diagnostic(ctx, "MLS812", f"{base}/autoscale/metric", message, hint))
    elif (
        mode == "standard"
        and metric in KPA_METRICS
        and framework not in promql.KSERVE_MODEL_SERVERS
    ):
        message = (
            f"{metric} autoscaling in standard mode reads {promql.PREDICT_SECONDS}, which the "
            f"{framework} runtime does not export"
        )
        hint = "scale on cpu or memory, or use serving.mode knative"
        problems.append(_diagnostic(ctx, "MLS812", f"{base}/autoscale/metric", message, hint))
    elif mode == "standard" and autoscale.target > 100 and metric not in KPA_METRICS:
        message = f"a {metric} target is a utilization percentage of the request, 1 to 100"
        problems.append(_diagnostic(ctx, "MLS812", f"{base}/autoscale/target", message))
    return problems


def _canary_problems(ctx: CompileContext, name: str, deployment: Deployment) -> list[Diagnostic]:
    if deployment.canary is None or ctx.platform.serving.mode != "knative":
        return []
    model = ctx.platform.models[deployment.model]
    stable = resolve(model, deployment.version, "stable")
    message = (
        "in knative mode canaryTrafficPercent splits traffic between the last rolled-out "
        f"revision and the new one: on a cluster that never rolled out version {stable.version}, "
        "the canary takes all the traffic"
    )
    hint = "serving.mode standard (KServe >= 0.20) keeps both versions in git"
    ptr = f"/deployments/{name}/canary"
    return [_diagnostic(ctx, "MLS815", ptr, message, hint, Severity.WARNING)]
