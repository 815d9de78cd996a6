"""Pure builder: a spec `Pipeline` -> a kfp pipeline -> KFP IR -> Pipeline / PipelineVersion.

Only the ``kubeflow`` compiler imports this module, because it imports kfp (about two
seconds); ``mlspec validate`` never does. The shape follows kfp's own compiler.py over
pipeline_spec_builder.py: `compile_pipeline` is the entry point, the rest are small
functions from spec objects to kfp objects, and kfp builds all of the IR::

    Step      -> kfp ComponentSpec: image, command/args with placeholders, typed
                 inputs/outputs, cpu/memory/accelerator resources         `_component`
    Pipeline  -> kfp GraphComponent: typed parameters with defaults, tasks wired by
                 their data, retries, caching, and through kfp-kubernetes the GPU
                 pool's node selector and tolerations, and the timeout    `_graph`
    IR        -> content-hashed version name                              `version_name`
              -> Pipeline and PipelineVersion (pipelines.kubeflow.org/v2beta1)

`kfp.compiler.Compiler().compile(..., kubernetes_manifest_format=True)` can only write
a YAML file, and compilers write no files, so we take the same in-memory steps it takes
(IR proto -> dict -> Pipeline/PipelineVersion); tests/test_kubeflow.py checks the result
against the Compiler's own manifest. Resources go into the step's ComponentSpec, which is
where ``set_cpu_request`` / ``set_accelerator_type`` / ``set_accelerator_limit`` put
them too: those setters call ``inspect.stack()`` and cost milliseconds each (the test
also checks that both give the same IR).

The output does not depend on the installed kfp: ``sdkVersion`` is dropped from the IR,
and steps, inputs and parameters are handed to kfp in sorted order.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import keyword
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from kfp import dsl, kubernetes
from kfp.dsl import container_component_class, graph_component, placeholders, structures
from kfp.dsl.types import type_utils

from mlspec.compilers.gpu import placement
from mlspec.diagnostics import safe_text
from mlspec.spec import templates
from mlspec.spec.model import Pipeline, Platform, Step
from mlspec.spec.templates import PLACEHOLDER

API_VERSION = "pipelines.kubeflow.org/v2beta1"
ANNOTATION_PRODUCES = "mlspec.dev/produces"
VERSION_PREFIX = "sha256-"
# Spec parameter type -> (Python type of the default, KFP component type).
PARAMETER_TYPES: dict[str, tuple[type, str]] = {
    "string": (str, "String"),
    "integer": (int, "Integer"),
    "number": (float, "Float"),
    "boolean": (bool, "Boolean"),
}
_PLACEHOLDER_TYPES: dict[str, Callable[[str], Any]] = {
    "params": placeholders.InputValuePlaceholder,
    "inputs": placeholders.InputPathPlaceholder,
    "outputs": placeholders.OutputPathPlaceholder,
}

Json = dict[str, Any]


class BuildError(Exception):
    """A pipeline kfp cannot be built from; becomes a `Diagnostic` at ``pointer``."""

    def __init__(self, code: str, pointer: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.pointer, self.message, self.hint = code, pointer, message, hint


@dataclass(frozen=True)
class CompiledPipeline:
    """One pipeline compiled to KFP IR, with the version name its content gives it."""

    name: str
    tenant: str
    description: str | None
    pipeline_spec: Json
    platform_spec: Json

    @functools.cached_property
    def version(self) -> str:
        return version_name(self.version_spec())

    @property
    def version_object_name(self) -> str:
        """metadata.name of the PipelineVersion: ``<pipeline>-<version>``, as KFP names it."""
        return f"{self.name}-{self.version}"

    def version_spec(self) -> Json:
        """The PipelineVersion spec without the names derived from it."""
        spec: Json = {"pipelineName": self.name, "pipelineSpec": self.pipeline_spec}
        if self.platform_spec:
            spec["platformSpec"] = self.platform_spec
        if self.description:
            spec["description"] = self.description
        return spec


def compile_pipeline(platform: Platform, name: str) -> CompiledPipeline:
    """Build pipeline ``name`` of ``platform`` with kfp; raises `BuildError`."""
    pipeline = platform.pipelines[name]
    graph = pipeline_component(platform, name)
    pipeline_spec = json_format.MessageToDict(graph.pipeline_spec)
    pipeline_spec.pop("sdkVersion", None)  # the installed kfp's version: not part of the input
    platform_spec = json_format.MessageToDict(graph.platform_spec)
    return CompiledPipeline(
        name, pipeline.tenant, pipeline.description, pipeline_spec, platform_spec
    )


def version_name(spec: Json) -> str:
    """``sha256-`` + 16 hex digits of the canonical JSON of the version's spec.

    A PipelineVersion is immutable in KFP, so a changed pipeline must get a new name and
    an unchanged one must keep its name: both follow from hashing exactly what is in it.
    """
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return VERSION_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]


# --- Kubernetes objects ------------------------------------------------------------------


def produces_annotation(pipeline: Pipeline) -> dict[str, str]:
    """``mlspec.dev/produces: fraud-detector=train.model`` (sorted, comma-separated)."""
    if not pipeline.produces:
        return {}
    pairs = ",".join(f"{model}={output}" for model, output in sorted(pipeline.produces.items()))
    return {ANNOTATION_PRODUCES: pairs}


def pipeline_object(compiled: CompiledPipeline, metadata: Mapping[str, Any]) -> Json:
    spec: Json = {"displayName": compiled.name}
    if compiled.description:
        spec["description"] = compiled.description
    return {
        "apiVersion": API_VERSION,
        "kind": "Pipeline",
        "metadata": {"name": compiled.name, "namespace": compiled.tenant, **metadata},
        "spec": spec,
    }


def pipeline_version_object(compiled: CompiledPipeline, metadata: Mapping[str, Any]) -> Json:
    spec = {**compiled.version_spec(), "versionName": compiled.version}
    spec["displayName"] = compiled.version
    name = compiled.version_object_name
    return {
        "apiVersion": API_VERSION,
        "kind": "PipelineVersion",
        "metadata": {"name": name, "namespace": compiled.tenant, **metadata},
        "spec": spec,
    }


# --- the kfp pipeline -----------------------------------------------------------------------


class _PipelineFunction:
    """What ``@dsl.pipeline`` decorates, built from the spec instead of written in Python.

    kfp reads the parameter names from the signature and calls the function with one
    channel per parameter; the function adds the tasks.
    """

    def __init__(self, names: list[str], body: Callable[[dict[str, Any]], None]) -> None:
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        self.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in names])
        self._names, self._body = names, body

    def __call__(self, *channels: Any) -> None:
        self._body(dict(zip(self._names, channels, strict=True)))


def pipeline_component(platform: Platform, name: str) -> Any:
    """The kfp pipeline (a GraphComponent) of pipeline ``name``; raises `BuildError`."""
    pipeline = platform.pipelines[name]
    try:
        return _build_graph(platform, name, pipeline)
    except (ValueError, TypeError) as exc:  # kfp refusing the input is a spec problem
        message = f"kfp cannot build pipeline {name}: {safe_text(exc, 300)}"
        raise BuildError("MLS830", f"/pipelines/{name}", message) from exc


def _build_graph(platform: Platform, name: str, pipeline: Pipeline) -> Any:
    base = f"/pipelines/{name}"
    params = sorted(pipeline.parameters)
    inputs = {p: _parameter_input(f"{base}/parameters/{p}", pipeline, p) for p in params}
    order = ordered_steps(name, pipeline)
    components = {s: _component(platform, f"{base}/steps/{s}", s, pipeline) for s in order}

    def body(channels: dict[str, Any]) -> None:
        tasks: dict[str, Any] = {}
        for step_name in order:
            step = pipeline.steps[step_name]
            arguments = {p: channels[p] for p in _step_parameters(step)}
            for input_name, ref in sorted(step.inputs.items()):
                producer, _, output = ref.partition(".")
                arguments[input_name] = tasks[producer].outputs[output]
            tasks[step_name] = _configure(components[step_name](**arguments), platform, step)

    spec = structures.ComponentSpec(
        name=name,
        description=pipeline.description,
        inputs=inputs or None,
        implementation=structures.Implementation(),
    )
    return graph_component.GraphComponent(spec, _PipelineFunction(params, body))


def _parameter_input(ptr: str, pipeline: Pipeline, name: str) -> Any:
    if keyword.iskeyword(name):
        raise BuildError(
            "MLS832", ptr, f"parameter `{name}` is a Python keyword, which kfp cannot use"
        )
    parameter = pipeline.parameters[name]
    python_type, kfp_type = PARAMETER_TYPES[parameter.type or "string"]
    if parameter.default is None:
        return structures.InputSpec(type=kfp_type, description=parameter.description)
    return structures.InputSpec(
        type=kfp_type,
        default=python_type(parameter.default),
        optional=True,
        description=parameter.description,
    )


def ordered_steps(name: str, pipeline: Pipeline) -> list[str]:
    """Steps in data order, ties by name (so the IR does not depend on YAML order)."""
    waiting = {
        s: {ref.partition(".")[0] for ref in step.inputs.values()}
        for s, step in pipeline.steps.items()
    }
    order: list[str] = []
    while waiting:
        ready = sorted(s for s, needs in waiting.items() if needs <= set(order))
        if not ready:
            stuck = min(waiting)
            raise BuildError(
                "MLS831",
                f"/pipelines/{name}/steps/{stuck}/inputs",
                f"steps of pipeline {name} depend on each other in a cycle: "
                + ", ".join(sorted(waiting)),
                "a step can only consume outputs of steps that run before it",
            )
        order.append(ready[0])
        del waiting[ready[0]]
    return order


# --- one step -------------------------------------------------------------------------------


def _component(platform: Platform, ptr: str, name: str, pipeline: Pipeline) -> Any:
    step = pipeline.steps[name]
    if PLACEHOLDER.search(step.image):
        raise BuildError(
            "MLS833",
            f"{ptr}/image",
            f"step {name}: placeholders are not supported in `image`",
            "an image is fixed per pipeline version: use a template value such as {{ version }}",
        )
    inputs = _component_inputs(ptr, name, pipeline)
    outputs = {
        o: structures.OutputSpec(type=_artifact_type(t)) for o, t in sorted(step.outputs.items())
    }
    container = structures.ContainerSpecImplementation(
        image=step.image,
        command=[_command_line(text) for text in step.command],
        args=[_command_line(text) for text in step.args],
        resources=_resources(platform, step),
    )
    spec = structures.ComponentSpec(
        name=name,
        inputs=inputs or None,
        outputs=outputs or None,
        implementation=structures.Implementation(container=container),
    )
    return container_component_class.ContainerComponent(spec, pipeline_func=_no_local_run)


def _component_inputs(ptr: str, name: str, pipeline: Pipeline) -> dict[str, Any]:
    """The parameters the step's strings use, then its input artifacts, typed like the
    outputs they come from."""
    step = pipeline.steps[name]
    inputs = {p: _parameter_spec(pipeline, p) for p in _step_parameters(step)}
    for input_name, ref in sorted(step.inputs.items()):
        if input_name in inputs:
            raise BuildError(
                "MLS832",
                f"{ptr}/inputs/{input_name}",
                f"step {name}: `{input_name}` is both a parameter and an input",
                "rename the input",
            )
        producer, _, output = ref.partition(".")
        artifact = _artifact_type(pipeline.steps[producer].outputs[output])
        inputs[input_name] = structures.InputSpec(type=artifact)
    return inputs


def _no_local_run() -> None:
    """Container components keep the function they were made from; ours have none."""


def _step_parameters(step: Step) -> list[str]:
    texts = [*step.command, *step.args]
    return sorted({n for t in texts for ns, n in templates.placeholders(t) if ns == "params"})


def _parameter_spec(pipeline: Pipeline, name: str) -> Any:
    parameter_type = pipeline.parameters[name].type or "string"
    return structures.InputSpec(type=PARAMETER_TYPES[parameter_type][1])


def _artifact_type(name: str) -> str:
    cls = getattr(dsl, name)  # Dataset, Model, Metrics, ... (ARTIFACT_TYPES in the model)
    return str(type_utils.create_bundled_artifact_type(cls.schema_title, cls.schema_version))


def _command_line(text: str) -> str:
    """A command/args string with its ``{{ params.x }}``-style placeholders made kfp's.

    kfp renders placeholder objects to their IR strings when a task is made, after
    deep-copying them; rendering them once here, with the same kfp function, gives the
    same IR and takes the most expensive part of making a task away.
    """
    parts = list(_split(text))
    element = parts[0] if len(parts) == 1 else dsl.ConcatPlaceholder(parts) if parts else text
    return str(placeholders.convert_command_line_element_to_string(element))


def _split(text: str) -> Iterator[Any]:
    position = 0
    for match in PLACEHOLDER.finditer(text):
        if match.start() > position:
            yield text[position : match.start()]
        yield _PLACEHOLDER_TYPES[match.group(1)](match.group(2))
        position = match.end()
    if position < len(text):
        yield text[position:]


def _resources(platform: Platform, step: Step) -> Any:
    """Requests, the memory limit, and the GPU pool's extended resource (`gpu.placement`)."""
    resources = step.resources
    if resources is None:
        return None
    memory = resources.memory.canonical if resources.memory else None
    spec = structures.ResourceSpec(
        cpu_request=resources.cpu.canonical if resources.cpu else None,
        memory_request=memory,
        memory_limit=memory,
    )
    if resources.gpu is not None:
        where = placement(platform, resources.gpu)
        spec.accelerator_type, spec.accelerator_count = where.resource, str(where.count)
    return spec


def _configure(task: Any, platform: Platform, step: Step) -> Any:
    """Task settings: caching always set (kfp's default follows an environment variable)."""
    task.set_caching_options(enable_caching=step.caching)
    if step.retries:
        task.set_retry(num_retries=step.retries)
    if step.timeout is not None:
        kubernetes.set_timeout(task, math.ceil(step.timeout.milliseconds / 1000))
    gpu = step.resources.gpu if step.resources else None
    if gpu is not None:
        where = placement(platform, gpu)
        for label, value in sorted(where.node_selector.items()):
            kubernetes.add_node_selector(task, label_key=label, label_value=value)
        for toleration in where.tolerations:
            kubernetes.add_toleration(task, **_toleration_arguments(toleration))
    return task


def _toleration_arguments(toleration: Mapping[str, Any]) -> dict[str, Any]:
    names = {"tolerationSeconds": "toleration_seconds"}
    return {names.get(key, key): value for key, value in toleration.items()}
