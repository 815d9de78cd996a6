"""Compiler `mlflow`: the registry's desired state as a file in the GitOps tree.

Per environment, ``registry/registrations.yaml`` lists the registered models mlspec
owns, with description, tags, versions (spec numbers and sources) and aliases, so a
reviewer sees a promotion (``champion: 7 -> 8``) in the same diff as the serving change.
`mlspec registry apply` makes MLflow hold it. It is not a Kubernetes object (kind
``ModelRegistrations``, group ``mlspec.dev``) and sits outside ``platform/`` and
``tenants/``, so the GitOps engine must not apply it to the cluster.

This module never imports MLflow: it only reads the spec.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mlspec.compilers.base import Artifact, CompileContext, CompileResult
from mlspec.registry.desired import (
    REGISTRATIONS_KIND,
    DesiredState,
    check_desired,
    desired_state,
    locate,
    registrations_spec,
)
from mlspec.spec.model import API_VERSION

REGISTRATIONS_PATH = "registry/registrations.yaml"
SOURCE = "/models"


class MlflowCompiler:
    name: ClassVar[str] = "mlflow"

    def compile(self, ctx: CompileContext) -> CompileResult:
        if not ctx.platform.models:
            return CompileResult()
        state = desired_state(ctx.platform)
        problems = locate(check_desired(state), ctx.sources)
        if not ctx.wants(SOURCE):
            return CompileResult([], problems)
        artifact = Artifact(REGISTRATIONS_PATH, registrations_object(ctx, state), SOURCE)
        return CompileResult([artifact], problems)


def registrations_object(ctx: CompileContext, state: DesiredState) -> dict[str, Any]:
    registry = ctx.platform.registry
    uri = registry.mlflow.tracking_uri if registry is not None else None
    return {
        "apiVersion": API_VERSION,
        "kind": REGISTRATIONS_KIND,
        "metadata": {"name": ctx.platform.metadata.name, **ctx.provenance(SOURCE)},
        "spec": registrations_spec(state, uri),
    }
