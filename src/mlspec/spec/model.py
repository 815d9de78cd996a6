"""The input language: pydantic models of every section of platform.yaml.

These models are the one source of the JSON Schema (`mlspec schema`). They check
shape and types strictly (no coercion: ``"4"`` is not ``4``); cross-references
(tenants, pools, versions, steps ...) are checked afterwards in `references.py`,
where every problem can be pointed at its own line.

Built for start-up time (`mlspec validate` builds every model on each run): no
``from __future__ import annotations`` (pydantic would evaluate each annotation from
its text), and the sections defer their own validators (``defer_build``): `Platform`
is built at import and validates every section inline; a section builds its own
validator only when used on its own (a default such as ``Access()``).
"""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel

from mlspec.spec.cron import cron_problem
from mlspec.spec.names import IDENTIFIER_PATTERN, NAME_PATTERN
from mlspec.spec.quantities import Cpu, Duration, Memory, Percent

API_VERSION = "mlspec.dev/v1alpha1"

FRAMEWORKS = (
    "huggingface",
    "lightgbm",
    "mlflow",
    "onnx",
    "paddle",
    "pmml",
    "pytorch",
    "sklearn",
    "tensorflow",
    "triton",
    "xgboost",
)
ARTIFACT_TYPES = (
    "Artifact",
    "ClassificationMetrics",
    "Dataset",
    "HTML",
    "Markdown",
    "Metrics",
    "Model",
    "SlicedClassificationMetrics",
)


class Spec(BaseModel):
    """Base of every section: strict types, unknown fields refused, camelCase in YAML."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )


def _check_cron(value: str) -> str:
    problem = cron_problem(value)
    if problem:
        raise ValueError(f"invalid cron schedule {value!r}: {problem}")
    return value


Name = Annotated[
    str,
    StringConstraints(pattern=NAME_PATTERN, max_length=63),
    Field(examples=["fraud"]),
]
Identifier = Annotated[
    str,
    StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=63),
    Field(examples=["data_uri"]),
]
VersionNumber = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,8}$")]
AliasName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_-]{0,62}$"),
    Field(examples=["champion"]),
]
Cron = Annotated[
    str,
    AfterValidator(_check_cron),
    Field(description="A five-field cron schedule.", examples=["0 3 * * *", "*/30 * * * *"]),
]
Uri = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9+.-]*:/?/?\S+$", max_length=2048),
    Field(examples=["s3://bucket/path"]),
]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
LabelValue = Annotated[
    str, StringConstraints(pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", max_length=63)
]
Subject = Annotated[
    str,
    StringConstraints(pattern=r"^(group:[A-Za-z0-9][-A-Za-z0-9_.:@]*|[^\s:]+@[^\s:]+)$"),
    Field(examples=["group:fraud-ds", "alice@acme.example"]),
]
Email = Annotated[
    str, StringConstraints(pattern=r"^[^\s@]+@[^\s@]+$"), Field(examples=["alice@acme.example"])
]


def _version_ref(value: Any) -> int | str:
    """A model version: its number, or an alias name."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("expected a version number or an alias name")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("a version number is a positive integer")
        return value
    if not value or not value[0].isalpha():
        raise ValueError(f"{value!r} is not an alias name; write a version number unquoted")
    return value


VersionRef = Annotated[
    int | str,
    PlainValidator(_version_ref),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,62}$"},
            ],
            "description": "A model version number, or an alias of the model.",
            "examples": [7, "champion"],
        }
    ),
]


def _template_value(value: Any) -> str | int | bool:
    if isinstance(value, float):
        raise ValueError(
            "a number with a fraction is rendered inexactly into a template (1.10 becomes 1.1)"
        )
    if not isinstance(value, str | int | bool):
        raise ValueError("expected a string, an integer or a boolean")
    return value


TemplateValue = Annotated[
    str | int | bool,
    PlainValidator(_template_value),
    WithJsonSchema(
        {
            "type": ["string", "integer", "boolean"],
            "description": "A value for the template; quote version numbers such as 1.10.",
            "examples": ["1.4.2", "a100-80gb"],
        }
    ),
]


def _parameter_value(value: Any) -> str | int | float | bool:
    if not isinstance(value, str | int | float | bool):
        raise ValueError("expected a string, a number or a boolean")
    return value


ParameterValue = Annotated[
    str | int | float | bool,
    PlainValidator(_parameter_value),
    WithJsonSchema(
        {
            "type": ["string", "integer", "number", "boolean"],
            "description": "The parameter's default value.",
            "examples": ["s3://acme-data/fraud/latest", 8],
        }
    ),
]


# --- metadata, gitops, registry, environments -------------------------------------------


class Metadata(Spec):
    name: Name = Field(description="The platform's name.", examples=["acme-ml"])
    labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        description="Labels copied onto every compiled object.",
        examples=[{"org": "acme"}],
    )


class GitOps(Spec):
    engine: Literal["argocd", "flux"] = Field(
        description="The GitOps engine that syncs the compiled tree.", examples=["argocd"]
    )
    repo_url: Uri = Field(
        alias="repoURL",
        description="The git repository the compiled tree is published to.",
        examples=["https://git.acme.example/platform/ml-gitops.git"],
    )
    branch: NonEmptyText = Field(
        default="main", description="The branch the engine syncs.", examples=["main"]
    )
    path: Annotated[str, StringConstraints(pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$")] = (
        Field(
            default="",
            description="Directory inside the repository that holds the tree (default: its root).",
            examples=["clusters/ml"],
        )
    )


class MlflowRegistry(Spec):
    tracking_uri: Uri = Field(
        description="MLflow tracking URI (http(s) server or sqlite:///file.db).",
        examples=["https://mlflow.acme.example"],
    )


class Registry(Spec):
    mlflow: MlflowRegistry = Field(
        description="The MLflow model registry.",
        examples=[{"trackingUri": "https://mlflow.acme.example"}],
    )


class Environment(Spec):
    cluster: Name = Field(
        description="The cluster this environment deploys to.", examples=["prod-eu"]
    )
    # Checked when applied (patch.check_patch), so a malformed patch is reported once,
    # for its own environment, not again by every other environment's validation.
    patch: Annotated[Any, WithJsonSchema({"type": ["object", "null"]})] = Field(
        default=None,
        description="An RFC 7386 JSON merge patch applied to the whole spec for this environment.",
        examples=[{"deployments": {"fraud-scorer": {"canary": None}}}],
    )


# --- GPU pools ---------------------------------------------------------------------------


class Mig(Spec):
    strategy: Literal["single", "mixed"] = Field(
        description="NVIDIA GPU operator MIG strategy.", examples=["mixed"]
    )
    profiles: dict[
        Annotated[str, StringConstraints(pattern=r"^[1-7]g\.[0-9]+gb(\+me)?$")],
        Annotated[int, Field(ge=1, le=7)],
    ] = Field(
        min_length=1,
        description="MIG profile -> slices per GPU.",
        examples=[{"1g.10gb": 7}],
    )


class TimeSlicing(Spec):
    replicas: int = Field(
        ge=2, le=64, description="How many workloads share each GPU.", examples=[4]
    )


class Sharing(Spec):
    mig: Mig | None = Field(
        default=None, description="Split GPUs with Multi-Instance GPU.", examples=[None]
    )
    time_slicing: TimeSlicing | None = Field(
        default=None, description="Share GPUs by time-slicing.", examples=[{"replicas": 4}]
    )


class GpuPool(Spec):
    product: NonEmptyText = Field(
        description="Node label value of nvidia.com/gpu.product.",
        examples=["NVIDIA-A100-SXM4-80GB"],
    )
    nodes: int = Field(ge=0, le=100_000, description="Nodes in the pool.", examples=[4])
    gpus_per_node: int = Field(ge=1, le=64, description="GPUs on each node.", examples=[8])
    cost_per_gpu_hour: float = Field(
        ge=0, description="Cost of one GPU for one hour, for cost figures.", examples=[2.93]
    )
    sharing: Sharing | None = Field(
        default=None,
        description="How GPUs are shared: MIG or time-slicing (at most one).",
        examples=[{"timeSlicing": {"replicas": 4}}],
    )


# --- tenants -----------------------------------------------------------------------------


class Quota(Spec):
    cpu: Cpu = Field(description="CPU cores guaranteed to the tenant.")
    memory: Memory = Field(description="Memory guaranteed to the tenant.")
    storage: Memory | None = Field(
        default=None, description="Persistent storage requests.", examples=["1Ti"]
    )
    gpu: dict[Name, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Guaranteed GPUs (or MIG slices / time-slices) per pool.",
        examples=[{"a100-80gb": 8}],
    )
    borrow: dict[Name, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="Idle GPUs per pool the tenant may borrow beyond its share.",
        examples=[{"a100-80gb": 8}],
    )


class Access(Spec):
    admins: list[Subject] = Field(
        default_factory=list,
        description="Bound to the admin ClusterRole.",
        examples=[["group:leads"]],
    )
    editors: list[Subject] = Field(
        default_factory=list, description="Bound to the edit ClusterRole.", examples=[["group:ds"]]
    )
    viewers: list[Subject] = Field(
        default_factory=list,
        description="Bound to the view ClusterRole.",
        examples=[["group:risk"]],
    )


class Network(Spec):
    allow_from: list[Name] = Field(
        default_factory=list,
        description="Other tenants whose pods may reach this tenant's pods.",
        examples=[["search"]],
    )


class Tenant(Spec):
    display_name: NonEmptyText = Field(
        description="Human-readable name.", examples=["Fraud Detection"]
    )
    owners: list[Email] = Field(
        min_length=1, description="Who answers for the tenant.", examples=[["alice@acme.example"]]
    )
    cost_center: NonEmptyText = Field(
        description="Cost center for chargeback.", examples=["CC-1042"]
    )
    priority: Literal["low", "medium", "high", "critical"] = Field(
        default="medium",
        description="Scheduling priority of the tenant's workloads.",
        examples=["high"],
    )
    quota: Quota = Field(
        description="Resources guaranteed to the tenant.",
        examples=[{"cpu": 64, "memory": "256Gi", "gpu": {"a100-80gb": 8}}],
    )
    access: Access = Field(
        default_factory=Access,
        description="Who may administer, edit or view the tenant's namespace.",
        examples=[{"admins": ["group:fraud-leads"]}],
    )
    network: Network = Field(
        default_factory=Network,
        description="Network isolation: by default only the tenant itself reaches its pods.",
        examples=[{"allowFrom": ["search"]}],
    )


# --- pipelines and templates ---------------------------------------------------------------


class GpuRequest(Spec):
    pool: Name = Field(description="The GPU pool to run on.", examples=["a100-80gb"])
    count: int = Field(ge=1, le=64, description="GPUs (or slices) requested.", examples=[1])
    profile: Annotated[str, StringConstraints(pattern=r"^[1-7]g\.[0-9]+gb(\+me)?$")] | None = Field(
        default=None,
        description="MIG profile of the slices, when the pool has several.",
        examples=["1g.10gb"],
    )


class Resources(Spec):
    cpu: Cpu | None = Field(default=None, description="CPU request.", examples=[4, "500m"])
    memory: Memory | None = Field(
        default=None, description="Memory request (and limit).", examples=["16Gi"]
    )
    gpu: GpuRequest | None = Field(
        default=None, description="GPUs from a pool.", examples=[{"pool": "a100-80gb", "count": 1}]
    )


class Parameter(Spec):
    type: Literal["string", "integer", "number", "boolean"] | None = Field(
        default=None,
        description="The parameter's type; may be left out when overriding a template's.",
        examples=["string"],
    )
    default: ParameterValue | None = Field(
        default=None, description="Default value.", examples=["s3://bucket/data", 8]
    )
    description: NonEmptyText | None = Field(
        default=None, description="What the parameter means.", examples=["Training data location"]
    )


class Step(Spec):
    image: NonEmptyText = Field(
        description="Container image.", examples=["ghcr.io/acme/tabular-train:1.4.2"]
    )
    command: list[NonEmptyText] = Field(
        default_factory=list, description="Container command.", examples=[["python", "-m", "train"]]
    )
    args: list[str] = Field(
        default_factory=list,
        description="Arguments; {{ params.x }}, {{ inputs.x }}, {{ outputs.x }} are placeholders.",
        examples=[["--data", "{{ inputs.dataset }}"]],
    )
    inputs: dict[Identifier, NonEmptyText] = Field(
        default_factory=dict,
        description="Input artifacts, each `<step>.<output>` of an earlier step.",
        examples=[{"dataset": "prepare.dataset"}],
    )
    outputs: dict[Identifier, Literal[ARTIFACT_TYPES]] = Field(  # type: ignore[valid-type]
        default_factory=dict,
        description="Output artifacts and their KFP types.",
        examples=[{"model": "Model"}],
    )
    resources: Resources | None = Field(
        default=None,
        description="Requests, and GPUs from a pool.",
        examples=[{"cpu": 4, "memory": "16Gi"}],
    )
    retries: int = Field(default=0, ge=0, le=10, description="Retries on failure.", examples=[2])
    timeout: Duration | None = Field(default=None, description="Step timeout.", examples=["4h"])
    caching: bool = Field(default=True, description="Reuse cached results.", examples=[False])


TemplateStep = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "description": "A pipeline step whose string values may contain {{ placeholders }}.",
            "examples": [{"image": "ghcr.io/acme/train:{{ version }}", "command": ["python"]}],
        }
    ),
]


class Template(Spec):
    description: NonEmptyText | None = Field(
        default=None, description="What the template builds.", examples=["Tabular training"]
    )
    parameters: dict[Identifier, Parameter] = Field(
        default_factory=dict,
        description="Pipeline parameters.",
        examples=[{"data_uri": {"type": "string"}}],
    )
    steps: dict[Name, TemplateStep] = Field(
        min_length=1,
        description=(
            "The steps, written like a pipeline's; string values may use {{ with-values }}. "
            "They are validated as steps of each pipeline that uses the template."
        ),
        examples=[{"train": {"image": "ghcr.io/acme/train:{{ version }}"}}],
    )


class Pipeline(Spec):
    tenant: Name = Field(description="The owning tenant.", examples=["fraud"])
    description: NonEmptyText | None = Field(
        default=None, description="What the pipeline does.", examples=["Nightly training"]
    )
    template: Name | None = Field(
        default=None, description="A template to instantiate.", examples=["tabular-train"]
    )
    with_: dict[Identifier, TemplateValue] = Field(
        default_factory=dict,
        alias="with",
        description="Values for the template's {{ placeholders }}.",
        examples=[{"version": "1.4.2"}],
    )
    parameters: dict[Identifier, Parameter] = Field(
        default_factory=dict,
        description="Parameters (overriding a template's defaults).",
        examples=[{"data_uri": {"default": "s3://bucket/x"}}],
    )
    steps: dict[Name, Step] = Field(
        default_factory=dict, description="The steps (when no template is used).", examples=[{}]
    )
    schedule: Cron | None = Field(
        default=None, description="Recurring run schedule (cron).", examples=["0 3 * * *"]
    )
    produces: dict[Name, NonEmptyText] = Field(
        default_factory=dict,
        description="Models this pipeline trains: model -> `<step>.<output>`.",
        examples=[{"fraud-detector": "train.model"}],
    )


# --- models, deployments, monitors -------------------------------------------------------


class ModelVersion(Spec):
    source: Uri = Field(
        description="Where the model artifacts are stored.",
        examples=["s3://acme-models/fraud-detector/7"],
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="Registry tags.", examples=[{"run": "abc"}]
    )


class Model(Spec):
    tenant: Name = Field(description="The owning tenant.", examples=["fraud"])
    framework: Literal[FRAMEWORKS] = Field(  # type: ignore[valid-type]
        description="The model's framework (the KServe model format).", examples=["xgboost"]
    )
    description: NonEmptyText | None = Field(
        default=None, description="Registry description.", examples=["Scores transactions."]
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="Registry tags.", examples=[{"domain": "payments"}]
    )
    versions: dict[VersionNumber, ModelVersion] = Field(
        default_factory=dict,
        description="Registered versions by number.",
        examples=[{"7": {"source": "s3://acme-models/fraud-detector/7"}}],
    )
    aliases: dict[AliasName, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Alias -> version number.",
        examples=[{"champion": 7}],
    )
    shared: bool = Field(
        default=False,
        description="Whether deployments of other tenants may serve this model.",
        examples=[True],
    )


class Replicas(Spec):
    min: int = Field(
        ge=0, le=10_000, description="Minimum replicas (0 scales to zero).", examples=[1]
    )
    max: int = Field(ge=1, le=10_000, description="Maximum replicas.", examples=[10])


class Autoscale(Spec):
    metric: Literal["concurrency", "rps", "cpu", "memory"] = Field(
        description="The metric the autoscaler follows.", examples=["concurrency"]
    )
    target: int = Field(ge=1, description="Target value per replica.", examples=[20])


class Canary(Spec):
    version: VersionRef = Field(description="The canary's model version or alias.")
    traffic: int = Field(
        ge=1, le=99, description="Percent of traffic sent to the canary.", examples=[10]
    )


class Deployment(Spec):
    tenant: Name = Field(description="The owning tenant.", examples=["fraud"])
    model: Name = Field(description="The model to serve.", examples=["fraud-detector"])
    version: VersionRef = Field(description="The version (or alias) to serve.")
    replicas: Replicas = Field(
        default_factory=lambda: Replicas(min=1, max=1),
        description="Replica bounds.",
        examples=[{"min": 2, "max": 10}],
    )
    autoscale: Autoscale | None = Field(
        default=None,
        description="Autoscaling metric and target.",
        examples=[{"metric": "concurrency", "target": 20}],
    )
    resources: Resources | None = Field(
        default=None, description="Requests per replica.", examples=[{"cpu": 2, "memory": "4Gi"}]
    )
    canary: Canary | None = Field(
        default=None,
        description="A canary version taking a share of the traffic.",
        examples=[{"version": "challenger", "traffic": 10}],
    )


class Slo(Spec):
    latency_p99: Duration | None = Field(
        default=None, description="99th percentile latency.", examples=["150ms"]
    )
    error_rate: Percent | None = Field(
        default=None, description="Highest error rate.", examples=["1%"]
    )


class Drift(Spec):
    schedule: Cron = Field(description="How often drift is computed.")
    reference: Uri = Field(
        description="Reference data set.", examples=["s3://acme-data/fraud/reference.parquet"]
    )
    features: list[NonEmptyText] = Field(
        min_length=1, description="Features to compare.", examples=[["amount"]]
    )
    method: Literal["psi", "ks", "js", "kl", "wasserstein", "chi2"] = Field(
        default="psi", description="Drift statistic.", examples=["psi"]
    )
    threshold: float = Field(gt=0, description="Drift above this alerts.", examples=[0.2])


class Alert(Spec):
    severity: Literal["page", "ticket", "info"] = Field(
        description="Alert severity.", examples=["page"]
    )
    route: Name = Field(description="Alertmanager receiver.", examples=["fraud-oncall"])


class OnDrift(Spec):
    retrain: Name = Field(description="The pipeline to run on drift.", examples=["fraud-train"])


class Monitor(Spec):
    tenant: Name = Field(description="The owning tenant.", examples=["fraud"])
    deployment: Name = Field(description="The deployment watched.", examples=["fraud-scorer"])
    slo: Slo | None = Field(
        default=None,
        description="Service level objectives that alert.",
        examples=[{"latencyP99": "150ms", "errorRate": "1%"}],
    )
    drift: Drift | None = Field(
        default=None,
        description="Scheduled drift detection.",
        examples=[
            {
                "schedule": "*/30 * * * *",
                "reference": "s3://d/ref.parquet",
                "features": ["amount"],
                "threshold": 0.2,
            }
        ],
    )
    alert: Alert = Field(
        description="Where alerts go.", examples=[{"severity": "page", "route": "fraud-oncall"}]
    )
    on_drift: OnDrift | None = Field(
        default=None, description="What to do on drift.", examples=[{"retrain": "fraud-train"}]
    )


# --- cluster-wide settings ---------------------------------------------------------------


class Scheduling(Spec):
    cohort: Name | None = Field(
        default=None,
        description="Kueue cohort of the tenants' ClusterQueues (default: the platform name).",
        examples=["acme-ml"],
    )
    gpu_taint: NonEmptyText = Field(
        default="nvidia.com/gpu",
        description="Taint key on GPU nodes; GPU workloads tolerate it.",
        examples=["nvidia.com/gpu"],
    )


class Serving(Spec):
    mode: Literal["standard", "knative"] = Field(
        default="standard",
        description=(
            "KServe deployment mode of every InferenceService: `standard` (Kubernetes "
            "Deployments; canaries through `spec.canary`, KServe >= 0.20 with the Gateway API; "
            "rps/concurrency autoscaling through KEDA) or `knative` (Knative revisions; "
            "canaries through `canaryTrafficPercent`, relative to the last rolled-out revision)."
        ),
        examples=["standard"],
    )
    ingress_namespace: Name = Field(
        default="istio-system",
        description="Namespace of the serving ingress gateway, allowed into tenants.",
        examples=["istio-system"],
    )


class Monitoring(Spec):
    namespace: Name = Field(
        default="monitoring",
        description="Namespace of Prometheus, allowed into tenants to scrape.",
        examples=["monitoring"],
    )
    drift_image: NonEmptyText = Field(
        default="ghcr.io/mlspec/drift-checker:0.1.0",
        description="Image of the scheduled drift checker.",
        examples=["ghcr.io/mlspec/drift-checker:0.1.0"],
    )
    prometheus_url: Uri = Field(
        default="http://prometheus-operated.monitoring.svc:9090",
        description="Prometheus that KEDA queries to scale predictors on rps or concurrency.",
        examples=["http://prometheus-operated.monitoring.svc:9090"],
    )
    pushgateway_url: Uri = Field(
        default="http://prometheus-pushgateway.monitoring.svc:9091",
        description="Pushgateway the drift checker pushes its scores to.",
        examples=["http://prometheus-pushgateway.monitoring.svc:9091"],
    )
    selector_labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        description=(
            "Labels on every PrometheusRule and PodMonitor, so that Prometheus' ruleSelector "
            "and podMonitorSelector pick them up."
        ),
        examples=[{"release": "kube-prometheus-stack"}],
    )
    grafana_dashboard_label: NonEmptyText = Field(
        default="grafana_dashboard",
        description='Label (value "1") the Grafana dashboard sidecar looks for on ConfigMaps.',
        examples=["grafana_dashboard"],
    )


# --- the platform ---------------------------------------------------------------------------


class Platform(Spec):
    """An ML platform: tenants, GPU pools, pipelines, models, deployments and monitors."""

    model_config = ConfigDict(title="mlspec Platform", defer_build=False)

    api_version: Literal["mlspec.dev/v1alpha1"] = Field(
        description="The spec language version.", examples=[API_VERSION]
    )
    kind: Literal["Platform"] = Field(description="Always Platform.", examples=["Platform"])
    metadata: Metadata = Field(
        description="The platform's name and labels.", examples=[{"name": "acme-ml"}]
    )
    gitops: GitOps = Field(
        description="Where the compiled tree goes and who syncs it.",
        examples=[{"engine": "argocd", "repoURL": "https://git.example/ml-gitops.git"}],
    )
    registry: Registry | None = Field(
        default=None,
        description="The model registry that `mlspec registry` reconciles.",
        examples=[{"mlflow": {"trackingUri": "https://mlflow.acme.example"}}],
    )
    scheduling: Scheduling = Field(
        default_factory=Scheduling,
        description="Kueue and GPU scheduling settings.",
        examples=[{"cohort": "acme-ml"}],
    )
    serving: Serving = Field(
        default_factory=Serving,
        description="KServe settings.",
        examples=[{"mode": "knative"}],
    )
    monitoring: Monitoring = Field(
        default_factory=Monitoring,
        description="Prometheus and drift settings.",
        examples=[{"namespace": "monitoring"}],
    )
    environments: dict[Name, Environment] = Field(
        default_factory=dict,
        description="One output tree per environment, each a patch of this document.",
        examples=[{"prod": {"cluster": "prod-eu"}}],
    )
    gpu_pools: dict[Name, GpuPool] = Field(
        default_factory=dict,
        description="Physical GPU capacity shared by quota.",
        examples=[
            {
                "a100": {
                    "product": "NVIDIA-A100-SXM4-80GB",
                    "nodes": 4,
                    "gpusPerNode": 8,
                    "costPerGpuHour": 2.93,
                }
            }
        ],
    )
    tenants: dict[Name, Tenant] = Field(
        default_factory=dict,
        description="Teams and their quotas.",
        examples=[
            {
                "fraud": {
                    "displayName": "Fraud",
                    "owners": ["a@acme.example"],
                    "costCenter": "CC-1",
                    "quota": {"cpu": 8, "memory": "32Gi"},
                }
            }
        ],
    )
    templates: dict[Name, Template] = Field(
        default_factory=dict,
        description="Reusable pipeline templates.",
        examples=[{"train": {"steps": {"train": {"image": "ghcr.io/acme/train:{{ version }}"}}}}],
    )
    pipelines: dict[Name, Pipeline] = Field(
        default_factory=dict,
        description="Kubeflow pipelines.",
        examples=[
            {"fraud-train": {"tenant": "fraud", "template": "train", "with": {"version": "1.0.0"}}}
        ],
    )
    models: dict[Name, Model] = Field(
        default_factory=dict,
        description="Registered models.",
        examples=[
            {
                "fraud-detector": {
                    "tenant": "fraud",
                    "framework": "xgboost",
                    "versions": {"1": {"source": "s3://m/1"}},
                }
            }
        ],
    )
    deployments: dict[Name, Deployment] = Field(
        default_factory=dict,
        description="KServe model deployments.",
        examples=[
            {"fraud-scorer": {"tenant": "fraud", "model": "fraud-detector", "version": "champion"}}
        ],
    )
    monitors: dict[Name, Monitor] = Field(
        default_factory=dict,
        description="SLO alerts and drift detection.",
        examples=[
            {
                "fraud-health": {
                    "tenant": "fraud",
                    "deployment": "fraud-scorer",
                    "alert": {"severity": "page", "route": "oncall"},
                }
            }
        ],
    )
