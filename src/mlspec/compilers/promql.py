"""How Prometheus sees a deployment: pod labels, metric names and PromQL built as data.

The serving compiler puts `pod_labels` on every predictor pod; the monitoring compiler
selects exactly those pods (`pod_selector`) with one PodMonitor per deployment, whose
``jobLabel`` makes the deployment name the ``job`` of every scraped series. Both
compilers import this module (and never each other), so they cannot drift apart.

Metric sources, and why:

* latency, throughput, concurrency: ``request_predict_seconds``, the histogram that
  KServe's Python model servers (sklearn, xgboost, lightgbm, pmml, paddle, huggingface)
  export on their HTTP port. Other runtimes (TorchServe, Triton, TF Serving, MLServer)
  do not export it, so `KSERVE_MODEL_SERVERS` says which frameworks have it.
* errors: KServe's model servers export no error counter, so the error ratio comes from
  the mesh in front of them, Istio's ``istio_requests_total`` (``response_code``), by
  the predictor Services KServe creates (`predictor_services`).
* drift: ``mlspec_drift_score``, pushed by the drift checker to the Pushgateway.

Expressions are assembled from escaped parts, never by formatting user text into
query strings; tests parse every expression with a real PromQL parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal

from mlspec.compilers.base import LABEL_TENANT

LABEL_DEPLOYMENT = "mlspec.dev/deployment"
LABEL_MODEL = "mlspec.dev/model"
LABEL_VERSION = "mlspec.dev/model-version"
LABEL_ALIAS = "mlspec.dev/model-alias"
LABEL_TRACK = "mlspec.dev/track"  # stable | canary

# Pod labels copied onto every scraped series (PodMonitor podTargetLabels).
SERIES_POD_LABELS = (LABEL_TRACK, LABEL_VERSION)

CANARY_NAME = "canary"  # the predictor name of a standard-mode canary
PREDICT_SECONDS = "request_predict_seconds"
ISTIO_REQUESTS = "istio_requests_total"
DRIFT_SCORE = "mlspec_drift_score"
DRIFT_JOB = "mlspec-drift"  # the Pushgateway job the drift checker pushes under

# Frameworks whose KServe runtime is the KServe Python model server (request_predict_seconds).
KSERVE_MODEL_SERVERS = frozenset(
    {"huggingface", "lightgbm", "paddle", "pmml", "sklearn", "xgboost"}
)

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_json_string = json.encoder.encode_basestring  # json.dumps(s, ensure_ascii=False), in C
_RE2_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")


def pod_selector(tenant: str, deployment: str) -> dict[str, str]:
    """The labels that select every pod of a deployment, stable and canary alike."""
    return {LABEL_TENANT: tenant, LABEL_DEPLOYMENT: deployment}


def series_label(pod_label: str) -> str:
    """The series label Prometheus derives from a pod label: ``a.b/c-d`` -> ``a_b_c_d``."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", pod_label)


def quote(value: str) -> str:
    """A PromQL string literal (Go escapes, which JSON's are a subset of)."""
    return _json_string(value)


def number(value: Decimal | float | int) -> str:
    """A PromQL number in plain notation: ``Decimal("0.005")`` -> ``0.005``."""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
    else:
        text = format(Decimal(repr(value)).normalize(), "f")
    return text


def selector(metric: str, equal: Mapping[str, str], regex: Mapping[str, str] | None = None) -> str:
    """``metric{a="x",b=~"y"}``, matchers sorted by label name."""
    if not _METRIC_NAME.match(metric):
        raise ValueError(f"not a metric name: {metric!r}")
    matchers = [(name, "=", value) for name, value in equal.items()]
    matchers += [(name, "=~", value) for name, value in (regex or {}).items()]
    for name, _, _ in matchers:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"not a label name: {name!r}")
    body = ",".join(f"{name}{op}{quote(value)}" for name, op, value in sorted(matchers))
    return f"{metric}{{{body}}}"


def literal(value: str) -> str:
    """``value`` as an RE2 regex matching only itself (``-`` needs no escape outside ``[]``)."""
    return _RE2_SPECIAL.sub(r"\\\g<0>", value)


def scraped(namespace: str, deployment: str, track: str | None = None) -> dict[str, str]:
    """Matchers of the series scraped from a deployment's pods (see module doc)."""
    equal = {"namespace": namespace, "job": deployment}
    if track is not None:
        equal[series_label(LABEL_TRACK)] = track
    return equal


def latency_quantile(quantile: str, namespace: str, deployment: str, window: str) -> str:
    bucket = selector(f"{PREDICT_SECONDS}_bucket", scraped(namespace, deployment))
    return f"histogram_quantile({quantile}, sum by (le) (rate({bucket}[{window}])))"


def request_rate(namespace: str, deployment: str, window: str, track: str | None = None) -> str:
    count = selector(f"{PREDICT_SECONDS}_count", scraped(namespace, deployment, track))
    return f"sum(rate({count}[{window}]))"


def concurrency(namespace: str, deployment: str, window: str, track: str | None = None) -> str:
    """Mean requests in flight: seconds spent predicting per second (Little's law)."""
    total = selector(f"{PREDICT_SECONDS}_sum", scraped(namespace, deployment, track))
    return f"sum(rate({total}[{window}]))"


def predictor_services(deployment: str, mode: str, canary: bool) -> list[str]:
    """Regexes of the Services KServe puts in front of a deployment's predictor pods.

    Standard mode: ``<isvc>-predictor`` and ``<isvc>-<canary>-predictor``. Knative mode:
    the route ``<isvc>-predictor`` and its revisions ``<isvc>-predictor-00001``.
    """
    if mode == "knative":
        return [literal(f"{deployment}-predictor") + "(-[0-9]+)?"]
    names = [f"{deployment}-predictor"]
    if canary:
        names.append(f"{deployment}-{CANARY_NAME}-predictor")
    return [literal(name) for name in sorted(names)]


def error_ratio(namespace: str, services: list[str], window: str) -> str:
    """Share of 5xx answers among all answers of the predictor Services."""
    base = {"reporter": "source", "destination_service_namespace": namespace}
    service = {"destination_service_name": "|".join(services)}
    errors = selector(ISTIO_REQUESTS, base, {**service, "response_code": "5.."})
    total = selector(ISTIO_REQUESTS, base, service)
    return f"sum(rate({errors}[{window}])) / sum(rate({total}[{window}]))"


def targets_down(namespace: str, deployment: str) -> str:
    return f"{selector('up', scraped(namespace, deployment))} == 0"


def ready_replicas(namespace: str, deployment: str) -> str:
    """Pods answering scrapes, per track: mode-independent, unlike Deployment names."""
    by = series_label(LABEL_TRACK)
    return f"count by ({by}) ({selector('up', scraped(namespace, deployment))} == 1)"


def drift_score(tenant: str, monitor: str) -> str:
    equal = {"job": DRIFT_JOB, "tenant": tenant, "monitor": monitor}
    return f"max({selector(DRIFT_SCORE, equal)})"


def above(expr: str, threshold: Decimal | float | int) -> str:
    return f"{expr} > {number(threshold)}"
