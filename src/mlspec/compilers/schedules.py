"""Recurring pipeline runs in git: a CronJob per scheduled pipeline.

KFP cannot declare recurring runs as Kubernetes objects (kubeflow/pipelines#6001): they
live in its API server's database and are made through its REST API. So ``schedule:``
compiles to plain Kubernetes objects that Argo CD or Flux sync like everything else,
in the pipeline's tenant namespace:

``CronJob <pipeline>-schedule``
    ``schedule`` is the spec's five-field cron as written: a CronJob reads five fields.
    (KFP's own recurring runs want six, seconds first, ``0 3 * * *`` -> ``0 0 3 * * *``;
    we do not use them.) ``timeZone: Etc/UTC``, so the hour does not depend on the
    controller's zone. ``concurrencyPolicy: Forbid`` and ``startingDeadlineSeconds``:
    a schedule missed by more than `STARTING_DEADLINE_SECONDS` (controller down,
    cluster upgrade) is skipped, never caught up. The Job runs ``python -m
    mlspec.kfp_runner`` (`RUNNER_IMAGE`), which starts one run of exactly the
    PipelineVersion compiled with it, and none while a run of the pipeline is still
    active: at most one run at a time. Because the runner checks first, the Job's
    retries cannot start two runs.

``ServiceAccount``, ``Role``, ``RoleBinding`` named `RUNNER` (once per tenant)
    The runner may read pipelines and versions and create experiments and runs: what KFP
    in multi-user mode checks with SubjectAccessReviews. Its token is projected with the
    audience ``pipelines.kubeflow.org`` at the path where ``kfp.Client`` looks for it.

No kfp import here: these are plain data.
"""

from __future__ import annotations

from typing import Any

from mlspec.compilers.base import Artifact, CompileContext, tenant_path
from mlspec.diagnostics import Diagnostic
from mlspec.spec.model import Pipeline

RUNNER = "mlspec-kfp-runner"
RUNNER_IMAGE = "ghcr.io/mlspec/kfp-runner:0.1.0"
RUNNER_MODULE = "mlspec.kfp_runner"
KFP_HOST = "http://ml-pipeline.kubeflow.svc.cluster.local:8888"
TOKEN_DIR = "/var/run/secrets/kubeflow/pipelines"  # kfp.client.KF_PIPELINES_SA_TOKEN_PATH's
TOKEN_AUDIENCE = "pipelines.kubeflow.org"
STARTING_DEADLINE_SECONDS = 300
RUNNER_DEADLINE_SECONDS = 600  # the runner only makes a few API calls
CRONJOB_NAME_MAX = 52  # Jobs get an 11-character suffix
SUFFIX = "-schedule"
LABEL_PIPELINE = "mlspec.dev/pipeline"


def cron_job_name(pipeline: str) -> str:
    return pipeline + SUFFIX


def schedule_problems(ctx: CompileContext, name: str, pipeline: Pipeline) -> list[Diagnostic]:
    """What stops a scheduled run: a name too long, a parameter nobody can fill in."""
    if pipeline.schedule is None:
        return []
    ptr = f"/pipelines/{name}"
    problems: list[Diagnostic] = []
    if len(cron_job_name(name)) > CRONJOB_NAME_MAX:
        message = (
            f"pipeline {name} is scheduled: its CronJob {cron_job_name(name)} would be "
            f"longer than {CRONJOB_NAME_MAX} characters"
        )
        limit = CRONJOB_NAME_MAX - len(SUFFIX)
        hint = f"shorten the pipeline name to {limit} characters"
        problems.append(Diagnostic("MLS834", message, ctx.sources.key_location(ptr), ptr, hint))
    for param, parameter in sorted(pipeline.parameters.items()):
        if parameter.default is None:
            at = f"{ptr}/parameters/{param}"
            message = f"pipeline {name} is scheduled, but parameter {param} has no default"
            hint = "a scheduled run passes no arguments: give the parameter a default"
            problems.append(Diagnostic("MLS834", message, ctx.location(at), at, hint))
    return problems


def schedule_artifact(ctx: CompileContext, name: str, pipeline: Pipeline, version: str) -> Artifact:
    """The CronJob starting runs of PipelineVersion ``<name>-<version>``."""
    source = f"/pipelines/{name}/schedule"
    metadata = object_metadata(ctx, cron_job_name(name), pipeline.tenant, source)
    metadata["labels"][LABEL_PIPELINE] = name
    job = cron_job(name, pipeline, version, metadata)
    return Artifact(tenant_path(pipeline.tenant, "CronJob", cron_job_name(name)), job, source)


def runner_artifacts(ctx: CompileContext, tenant: str) -> list[Artifact]:
    """The runner's identity and permissions in ``tenant``'s namespace."""
    source = f"/tenants/{tenant}"
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "rules": _rules()},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RUNNER},
            "subjects": [{"kind": "ServiceAccount", "name": RUNNER, "namespace": tenant}],
        },
    ]
    artifacts = []
    for obj in objects:
        obj["metadata"] = object_metadata(ctx, RUNNER, tenant, source)
        artifacts.append(Artifact(tenant_path(tenant, obj["kind"], RUNNER), obj, source))
    return artifacts


def _rules() -> list[dict[str, Any]]:
    group = ["pipelines.kubeflow.org"]
    return [
        {
            "apiGroups": group,
            "resources": ["pipelines", "pipelineversions"],
            "verbs": ["get", "list"],
        },
        {
            "apiGroups": group,
            "resources": ["experiments", "runs"],
            "verbs": ["create", "get", "list"],
        },
    ]


def cron_job(
    name: str, pipeline: Pipeline, version: str, metadata: dict[str, Any]
) -> dict[str, Any]:
    pod_labels = dict(metadata["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": pipeline.schedule,
            "timeZone": "Etc/UTC",
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": RUNNER_DEADLINE_SECONDS,
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": _pod(runner_arguments(name, pipeline.tenant, version)),
                    },
                },
            },
        },
    }


def runner_arguments(name: str, tenant: str, version: str) -> list[str]:
    """The runner's command line (parsed by `mlspec.kfp_runner.parse_arguments`)."""
    return [
        "--host", KFP_HOST,
        "--namespace", tenant,
        "--pipeline", name,
        "--version", version,
        "--experiment", name,
    ]  # fmt: skip


def _pod(arguments: list[str]) -> dict[str, Any]:
    container = {
        "name": "runner",
        "image": RUNNER_IMAGE,
        "command": ["python", "-m", RUNNER_MODULE],
        "args": arguments,
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "volumeMounts": [{"name": "kfp-token", "mountPath": TOKEN_DIR, "readOnly": True}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
    }
    token = {"audience": TOKEN_AUDIENCE, "expirationSeconds": 3600, "path": "token"}
    return {
        "serviceAccountName": RUNNER,
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [
            {"name": "kfp-token", "projected": {"sources": [{"serviceAccountToken": token}]}}
        ],
    }


def object_metadata(ctx: CompileContext, name: str, tenant: str, source: str) -> dict[str, Any]:
    return {"name": name, "namespace": tenant, **provenance(ctx, tenant, source)}


def provenance(ctx: CompileContext, tenant: str, source: str) -> dict[str, Any]:
    """The platform's labels and the provenance of ``source``: labels and annotations."""
    found = ctx.provenance(source, tenant=tenant)
    labels = {**ctx.platform.metadata.labels, **found["labels"]}
    return {"labels": labels, "annotations": found["annotations"]}
