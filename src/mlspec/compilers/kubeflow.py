"""Compiler `kubeflow`: pipelines become Kubeflow Pipelines' Kubernetes-native objects.

For every pipeline, in its tenant's namespace (KFP >= 2.14 with the Kubernetes-native API):

``Pipeline <name>``
    pipelines.kubeflow.org/v2beta1; ``mlspec.dev/produces`` names the models it trains.
``PipelineVersion <name>-sha256-<16 hex>``
    The KFP IR, built with the kfp SDK (`kfp_builder`). The name is a hash of the
    version's content: KFP versions are immutable, so a changed pipeline gets a new
    version and an unchanged one keeps its name; a sync never rewrites one in place.
``CronJob <name>-schedule`` and the runner's ServiceAccount / Role / RoleBinding
    When the pipeline has a ``schedule:`` (see `schedules`).

kfp is imported only when the platform has pipelines, never by ``mlspec validate``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from mlspec.compilers import schedules
from mlspec.compilers.base import Artifact, CompileContext, CompileResult, tenant_path
from mlspec.diagnostics import Diagnostic, has_errors

if TYPE_CHECKING:
    from mlspec.compilers.kfp_builder import CompiledPipeline
    from mlspec.spec.model import Platform


class KubeflowCompiler:
    name: ClassVar[str] = "kubeflow"
    slow: ClassVar[bool] = True  # kfp compiles each pipeline: run last (compilers/ahead.py)

    def compile(self, ctx: CompileContext) -> CompileResult:
        result = CompileResult()
        scheduled: set[str] = set()
        for name, pipeline in sorted(ctx.platform.pipelines.items()):
            if not _wanted(ctx, name, pipeline.tenant, pipeline.schedule is not None):
                continue
            found = compile_one(ctx, name)
            result.artifacts += found.artifacts
            result.diagnostics += found.diagnostics
            if pipeline.schedule is not None and not has_errors(found.diagnostics):
                scheduled.add(pipeline.tenant)
        for tenant in sorted(scheduled):
            result.artifacts += schedules.runner_artifacts(ctx, tenant)
        return result


def _wanted(ctx: CompileContext, name: str, tenant: str, scheduled: bool) -> bool:
    """A pipeline is built when its objects are wanted, or when it is scheduled and the
    runner objects of its tenant are (they exist when a scheduled pipeline builds)."""
    source = f"/pipelines/{name}"
    wanted = ctx.wants(source) or ctx.wants(f"{source}/schedule")
    return wanted or (scheduled and ctx.wants(f"/tenants/{tenant}"))


def compile_one(ctx: CompileContext, name: str) -> CompileResult:
    """The objects of pipeline ``name``, or the diagnostics that stop it."""
    from mlspec.compilers import kfp_builder  # imports kfp: only when there is a pipeline

    pipeline = ctx.platform.pipelines[name]
    problems = schedules.schedule_problems(ctx, name, pipeline)
    try:
        compiled = _compile_once(ctx.platform, name)
    except kfp_builder.BuildError as exc:
        where = ctx.location(exc.pointer)
        problems.append(Diagnostic(exc.code, exc.message, where, exc.pointer, exc.hint))
        return CompileResult(diagnostics=problems)
    if has_errors(problems):
        return CompileResult(diagnostics=problems)
    artifacts = pipeline_artifacts(ctx, compiled)
    if pipeline.schedule is not None:
        artifacts.append(schedules.schedule_artifact(ctx, name, pipeline, compiled.version))
    return CompileResult(artifacts, problems)


_COMPILED: dict[str, CompiledPipeline] = {}
_COMPILED_MAX = 10_000


def _compile_once(platform: Platform, name: str) -> CompiledPipeline:
    """`kfp_builder.compile_pipeline`, once per distinct pipeline in this process.

    Environments usually share their pipelines; building one with kfp is the costliest
    step of a compile. The key is everything the build reads: the pipeline, the pools
    its steps run on and the scheduling settings.
    """
    from mlspec.compilers import kfp_builder

    pipeline = platform.pipelines[name]
    pools = sorted(
        {s.resources.gpu.pool for s in pipeline.steps.values() if s.resources and s.resources.gpu}
    )
    key = json.dumps(
        [
            name,
            pipeline.model_dump(mode="json", by_alias=True),
            [platform.gpu_pools[p].model_dump(mode="json", by_alias=True) for p in pools],
            platform.scheduling.model_dump(mode="json", by_alias=True),
        ],
        sort_keys=True,
    )
    if key not in _COMPILED:
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = kfp_builder.compile_pipeline(platform, name)
    return _COMPILED[key]


def pipeline_artifacts(ctx: CompileContext, compiled: CompiledPipeline) -> list[Artifact]:
    from mlspec.compilers import kfp_builder

    source, tenant = f"/pipelines/{compiled.name}", compiled.tenant
    pipeline = ctx.platform.pipelines[compiled.name]

    def metadata() -> dict[str, Any]:
        found = schedules.provenance(ctx, tenant, source)
        found["annotations"].update(kfp_builder.produces_annotation(pipeline))
        return found

    head = kfp_builder.pipeline_object(compiled, metadata())
    version = kfp_builder.pipeline_version_object(compiled, metadata())
    return [
        Artifact(tenant_path(tenant, "Pipeline", compiled.name), head, source),
        Artifact(
            tenant_path(tenant, "PipelineVersion", compiled.version_object_name), version, source
        ),
    ]
