"""Registry plan/apply for one environment: what `mlspec registry` and library users call.

    prepare(spec, env, uri)      validate, build the desired state, pick the tracking URI
    open_registry(prepared)      connect (the first and only place MLflow is imported)
    plan(prepared, registry)     read MLflow, diff, locate the conflicts in the spec
    apply(prepared, registry)    plan afresh, then run it (idempotent, resumable)

Which tracking URI: ``--tracking-uri`` if given, else the environment's
``registry.mlflow.trackingUri``, else `DEFAULT_TRACKING_URI`, a sqlite file in the current
directory, so that the commands work offline out of the box. An unreachable URI is an
error (exit 2), never a reason to fall back to the local file: a plan against the wrong
registry would be worse than none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlspec.diagnostics import Diagnostic, has_errors, sorted_unique
from mlspec.registry.apply import ApplyResult, apply_plan
from mlspec.registry.desired import DesiredState, check_desired, desired_state, locate, redact_uri
from mlspec.registry.plan import Action, Plan, make_plan
from mlspec.registry.render import Header
from mlspec.spec.frontend import EnvironmentSpec, SpecFile, validate_spec

if TYPE_CHECKING:
    from mlspec.registry.mlflow_client import MlflowRegistry, RetryPolicy

DEFAULT_TRACKING_URI = "sqlite:///mlruns.db"
DEFAULT_WORKERS = {"sqlite": 1, "other": 8}


@dataclass(frozen=True)
class Target:
    uri: str
    origin: str  # "--tracking-uri", "the spec" or "the default"

    @property
    def workers(self) -> int:
        """sqlite takes one writer at a time; a server takes several."""
        return DEFAULT_WORKERS["sqlite" if self.uri.startswith("sqlite:") else "other"]


@dataclass
class Prepared:
    """A validated environment, its desired registry state, and where the registry is."""

    env: str
    diagnostics: list[Diagnostic]
    spec: EnvironmentSpec | None = None
    desired: DesiredState | None = None
    target: Target | None = None

    @property
    def ok(self) -> bool:
        return self.spec is not None and not has_errors(self.diagnostics)

    def header(self) -> Header:
        assert self.target is not None
        return Header(self.env, redact_uri(self.target.uri), self.target.origin)


@dataclass
class Applied:
    plan: Plan
    result: ApplyResult
    diagnostics: list[Diagnostic] = field(default_factory=list)


def prepare(spec: SpecFile, env: str, tracking_uri: str | None = None) -> Prepared:
    validated = validate_spec(spec, [env])
    found = validated.environments.get(env)
    if not validated.ok or found is None:
        return Prepared(env, list(validated.diagnostics))
    desired = desired_state(found.platform)
    problems = locate(check_desired(desired), found.sources)
    diagnostics = sorted_unique([*validated.diagnostics, *problems])
    return Prepared(env, diagnostics, found, desired, resolve_target(found, tracking_uri))


def resolve_target(env: EnvironmentSpec, override: str | None) -> Target:
    if override:
        return Target(override, "--tracking-uri")
    registry = env.platform.registry
    if registry is not None:
        return Target(registry.mlflow.tracking_uri, "the spec")
    return Target(DEFAULT_TRACKING_URI, "the default")


def open_registry(prepared: Prepared, retry: RetryPolicy | None = None) -> MlflowRegistry:
    """Connect to the registry; raises `RegistryUnavailableError` when that fails."""
    from mlspec.registry.mlflow_client import MlflowRegistry

    assert prepared.target is not None
    return MlflowRegistry(prepared.target.uri, retry)


def plan(prepared: Prepared, registry: MlflowRegistry) -> tuple[Plan, list[Diagnostic]]:
    """The plan and every diagnostic so far (validation, spec checks, conflicts), located."""
    assert prepared.desired is not None and prepared.spec is not None
    desired = prepared.desired
    actual = registry.read(desired.names, desired.platform)
    result = make_plan(desired, actual)
    conflicts = locate(result.diagnostics, prepared.spec.sources)
    return result, sorted_unique([*prepared.diagnostics, *conflicts])


def apply(
    prepared: Prepared,
    registry: MlflowRegistry,
    current: Plan | None = None,
    workers: int | None = None,
    after_each: Callable[[Action], None] | None = None,
) -> Applied:
    """Run ``current`` (or a fresh plan): what conflicts leaves alone is not touched."""
    assert prepared.spec is not None and prepared.target is not None
    if current is None:
        current, _ = plan(prepared, registry)
    result = apply_plan(current, registry, workers or prepared.target.workers, after_each)
    refused = locate(result.diagnostics, prepared.spec.sources)
    return Applied(current, result, sorted_unique(refused))
