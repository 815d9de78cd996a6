"""Compiler `kubeflow`: pipelines as KFP Pipeline / PipelineVersion objects built with kfp."""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp import compiler, dsl
from kfp.pipeline_spec import pipeline_spec_pb2

from mlspec.api import compile_spec
from mlspec.compilers import kfp_builder
from mlspec.compilers.base import Artifact, CompileContext
from mlspec.compilers.kubeflow import KubeflowCompiler
from mlspec.diagnostics import Diagnostic
from mlspec.output.emit import dump_yaml
from mlspec.output.kubeschema import check_object
from mlspec.spec.frontend import SpecFile, validate_spec
from mlspec.spec.model import Pipeline, Step
from tests.conftest import EXAMPLE, ROOT

VERSION_NAME = re.compile(r"^[a-z0-9]([a-z0-9\.\-]*[a-z0-9])?$")  # the CRD's versionName
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _context(text: str, env: str = "prod", name: str = "platform.yaml") -> CompileContext:
    validated = validate_spec(SpecFile(name, name, text.encode()))
    assert validated.ok, [str(d.message) for d in validated.diagnostics]
    spec = validated.environments[env]
    return CompileContext(env, spec.cluster, spec.platform, spec.sources, name)


def _compile(text: str, env: str = "prod") -> tuple[list[Artifact], list[Diagnostic]]:
    result = KubeflowCompiler().compile(_context(text, env))
    return result.artifacts, result.diagnostics


@functools.cache
def _example() -> tuple[Artifact, ...]:
    artifacts, diagnostics = _compile(EXAMPLE.read_text(encoding="utf-8"))
    assert diagnostics == []
    return tuple(artifacts)


def _one(kind: str, pipeline: str) -> dict[str, Any]:
    [obj] = [
        a.object
        for a in _example()
        if a.object["kind"] == kind and a.source.startswith(f"/pipelines/{pipeline}")
    ]
    return obj


def _ir(pipeline: str) -> dict[str, Any]:
    spec: dict[str, Any] = _one("PipelineVersion", pipeline)["spec"]["pipelineSpec"]
    return spec


def _executor_platform(pipeline: str, step: str) -> dict[str, Any]:
    platform = _one("PipelineVersion", pipeline)["spec"].get("platformSpec", {})
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    found: dict[str, Any] = executors.get(f"exec-{step}", {})
    return found


# --- the Done-when of the issue ------------------------------------------------------------


def test_every_version_ir_parses_as_pipeline_spec_without_ignoring_unknown_fields() -> None:
    versions = [a.object for a in _example() if a.object["kind"] == "PipelineVersion"]
    assert len(versions) == 2
    for version in versions:
        message = json_format.ParseDict(
            version["spec"]["pipelineSpec"], pipeline_spec_pb2.PipelineSpec()
        )
        assert message.pipeline_info.name == version["spec"]["pipelineName"]
        assert message.schema_version == "2.1.0"
        json_format.ParseDict(version["spec"]["platformSpec"], pipeline_spec_pb2.PlatformSpec())


def test_every_object_validates_strictly_against_its_schema() -> None:
    kinds = sorted({a.object["kind"] for a in _example()})
    assert kinds == [
        "CronJob",
        "Pipeline",
        "PipelineVersion",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ]
    for artifact in _example():
        assert check_object(artifact.object) == [], artifact.path


def test_fraud_train_has_the_template_steps_wired_by_their_data() -> None:
    tasks = _ir("fraud-train")["root"]["dag"]["tasks"]
    assert sorted(tasks) == ["evaluate", "prepare", "train"]
    assert "dependentTasks" not in tasks["prepare"]
    assert tasks["train"]["dependentTasks"] == ["prepare"]
    assert tasks["evaluate"]["dependentTasks"] == ["prepare", "train"]
    model = tasks["evaluate"]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]
    assert model == {"producerTask": "train", "outputArtifactKey": "model"}
    components = _ir("fraud-train")["components"]
    artifact = components["comp-train"]["outputDefinitions"]["artifacts"]["model"]
    assert artifact["artifactType"]["schemaTitle"] == "system.Model"


def test_train_runs_on_one_a100_of_its_pool() -> None:
    executor = _ir("fraud-train")["deploymentSpec"]["executors"]["exec-train"]["container"]
    accelerator = executor["resources"]["accelerator"]
    assert (accelerator["resourceType"], accelerator["resourceCount"]) == ("nvidia.com/gpu", "1")
    platform = _executor_platform("fraud-train", "train")
    assert platform["nodeSelector"]["labels"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    assert platform["tolerations"] == [toleration]
    assert _executor_platform("fraud-train", "prepare") == {}


def test_mig_pool_step_asks_for_its_slices() -> None:
    executor = _ir("search-rerank-train")["deploymentSpec"]["executors"]["exec-finetune"]
    accelerator = executor["container"]["resources"]["accelerator"]
    assert (accelerator["resourceType"], accelerator["resourceCount"]) == (
        "nvidia.com/mig-1g.10gb",
        "2",
    )
    selector = _executor_platform("search-rerank-train", "finetune")["nodeSelector"]["labels"]
    assert selector == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}


def test_cpu_and_memory_requests_and_the_memory_limit() -> None:
    executor = _ir("fraud-train")["deploymentSpec"]["executors"]["exec-prepare"]["container"]
    resources = executor["resources"]
    assert resources["resourceCpuRequest"] == "4"
    assert (resources["resourceMemoryRequest"], resources["resourceMemoryLimit"]) == (
        "16Gi",
        "16Gi",
    )


def test_retries_and_timeout() -> None:
    tasks = _ir("fraud-train")["root"]["dag"]["tasks"]
    assert tasks["train"]["retryPolicy"]["maxRetryCount"] == 2
    assert "retryPolicy" not in tasks["prepare"]
    assert _executor_platform("fraud-train", "train")["activeDeadlineSeconds"] == str(4 * 3600)
    finetune = _ir("search-rerank-train")["root"]["dag"]["tasks"]["finetune"]
    assert finetune["retryPolicy"]["maxRetryCount"] == 1
    assert "activeDeadlineSeconds" not in _executor_platform("search-rerank-train", "finetune")


def test_parameters_are_typed_with_defaults_after_the_template_merge() -> None:
    parameters = _ir("fraud-train")["root"]["inputDefinitions"]["parameters"]
    assert parameters["data_uri"] == {
        "parameterType": "STRING",
        "defaultValue": "s3://acme-data/fraud/latest",  # the pipeline's, over the template's
        "isOptional": True,
    }
    assert parameters["max_depth"]["parameterType"] == "NUMBER_INTEGER"
    assert parameters["max_depth"]["defaultValue"] == 8  # the template's
    args = _ir("fraud-train")["deploymentSpec"]["executors"]["exec-train"]["container"]["args"]
    assert args[3] == "{{$.inputs.parameters['max_depth']}}"
    assert args[1] == "{{$.inputs.artifacts['dataset'].path}}"


def test_version_name_is_stable_and_changes_with_one_field() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")

    def versions(spec_text: str) -> dict[str, str]:
        artifacts, diagnostics = _compile(spec_text)
        assert diagnostics == []
        kinds = (a.object for a in artifacts if a.object["kind"] == "PipelineVersion")
        return {o["spec"]["pipelineName"]: o["spec"]["versionName"] for o in kinds}

    first, again = versions(text), versions(text)
    assert first == again
    assert all(VERSION_NAME.match(v) and v.startswith("sha256-") for v in first.values())
    changed = versions(text.replace("retries: 2", "retries: 3", 1))
    assert changed["fraud-train"] != first["fraud-train"]
    assert changed["search-rerank-train"] == first["search-rerank-train"]
    rescheduled = versions(text.replace('schedule: "0 3 * * *"', 'schedule: "0 4 * * *"'))
    assert rescheduled == first  # the schedule is not part of the pipeline version


def test_version_objects_are_named_pipeline_dash_version() -> None:
    version = _one("PipelineVersion", "fraud-train")
    name = version["metadata"]["name"]
    assert name == f"fraud-train-{version['spec']['versionName']}"
    assert SUBDOMAIN.match(name) and len(name) <= 253
    assert version["metadata"]["namespace"] == "fraud"
    assert version["spec"]["pipelineName"] == _one("Pipeline", "fraud-train")["metadata"]["name"]


def test_produces_annotates_pipeline_and_version() -> None:
    for kind in ("Pipeline", "PipelineVersion"):
        annotations = _one(kind, "fraud-train")["metadata"]["annotations"]
        assert annotations["mlspec.dev/produces"] == "fraud-detector=train.model"
        assert annotations["mlspec.dev/source"] == "platform.yaml#/pipelines/fraud-train"
        labels = _one(kind, "search-rerank-train")["metadata"]["labels"]
        assert labels["mlspec.dev/tenant"] == "search"
        assert labels["app.kubernetes.io/managed-by"] == "mlspec"


def test_no_kfp_version_in_the_output() -> None:
    text = "".join(dump_yaml(a.object) for a in _example())
    assert "sdkVersion" not in text and "kfp-2" not in text


# --- equal to what kfp's own APIs produce ----------------------------------------------------


def test_objects_match_kfp_compilers_kubernetes_manifest(tmp_path: Path) -> None:
    platform = _context(EXAMPLE.read_text(encoding="utf-8")).platform
    compiled = kfp_builder.compile_pipeline(platform, "fraud-train")
    options = compiler.KubernetesManifestOptions(
        pipeline_name="fraud-train",
        pipeline_version_name=compiled.version_object_name,
        namespace="fraud",
        include_pipeline_manifest=True,
    )
    path = tmp_path / "fraud-train.yaml"
    compiler.Compiler().compile(
        kfp_builder.pipeline_component(platform, "fraud-train"),
        str(path),
        kubernetes_manifest_format=True,
        kubernetes_manifest_options=options,
    )
    theirs_pipeline, theirs = yaml.safe_load_all(path.read_text())
    theirs["spec"]["pipelineSpec"].pop("sdkVersion")
    ours = _one("PipelineVersion", "fraud-train")
    for key in ("pipelineName", "pipelineSpec", "platformSpec"):
        assert ours["spec"][key] == theirs["spec"][key], key
    assert ours["metadata"]["name"] == theirs["metadata"]["name"]
    assert _one("Pipeline", "fraud-train")["spec"] == theirs_pipeline["spec"]


def test_resources_equal_those_of_kfps_task_setters() -> None:
    def train() -> dsl.ContainerSpec:
        return dsl.ContainerSpec(image="x")

    train.__annotations__["return"] = dsl.ContainerSpec  # not the string of __future__
    component = dsl.container_component(train)

    def body() -> None:
        task = component().set_cpu_request("8").set_memory_request("32Gi").set_memory_limit("32Gi")
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(1)

    body.__annotations__["return"] = None
    setters = dsl.pipeline(name="setters")(body)
    spec = json_format.MessageToDict(setters.pipeline_spec)
    expected = spec["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]
    ours = _ir("fraud-train")["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert ours["resources"] == expected


# --- determinism -----------------------------------------------------------------------------

_DUMP = """
import sys
from mlspec.compilers.base import CompileContext
from mlspec.compilers.kubeflow import KubeflowCompiler
from mlspec.output.emit import dump_yaml
from mlspec.spec.frontend import SpecFile, validate_spec
from mlspec.spec.model import Pipeline, Step
spec = validate_spec(SpecFile.read(sys.argv[1])).environments["prod"]
ctx = CompileContext("prod", spec.cluster, spec.platform, spec.sources, "platform.yaml")
for a in KubeflowCompiler().compile(ctx).artifacts:
    sys.stdout.write(a.path + "\\n" + dump_yaml(a.object))
"""


def test_same_bytes_under_another_hash_seed_time_zone_locale_and_cache_default() -> None:
    env = {
        **os.environ,
        "PYTHONHASHSEED": "4242",
        "TZ": "Pacific/Chatham",
        "LANG": "tr_TR.UTF-8",
        "KFP_DISABLE_EXECUTION_CACHING_BY_DEFAULT": "true",
    }
    out = subprocess.run(
        [sys.executable, "-c", _DUMP, str(EXAMPLE)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    here = "".join(a.path + "\n" + dump_yaml(a.object) for a in _example())
    assert out.stdout == here


def test_validate_never_imports_kfp() -> None:
    code = (
        "import sys; from mlspec.api import validate; from mlspec.spec.frontend import SpecFile;"
        "import mlspec.compilers.kubeflow;"
        f"assert validate(SpecFile.read({str(EXAMPLE)!r})).ok;"
        "print(sorted(m for m in sys.modules if m == 'kfp' or m.startswith('kfp.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_compile_spec_with_the_kubeflow_compiler_reports_nothing() -> None:
    compiled = compile_spec(SpecFile.read(EXAMPLE), compilers=["kubeflow"])
    assert compiled.ok and compiled.diagnostics == []
    assert "prod/tenants/fraud/pipeline-fraud-train.yaml" in compiled.files
    assert any(p.startswith("staging/tenants/search/pipelineversion-") for p in compiled.files)


# --- problems are located at the spec line ----------------------------------------------------

SMALL = """\
apiVersion: mlspec.dev/v1alpha1
kind: Platform
metadata: {name: small}
gitops: {engine: argocd, repoURL: https://git.example/ml.git}
tenants:
  team:
    displayName: Team
    owners: [a@b.example]
    costCenter: CC-1
    quota: {cpu: 8, memory: 32Gi}
pipelines:
  job:
    tenant: team
    parameters:
      PARAMETERS
    steps:
      STEPS
"""


def _small(steps: str, parameters: str = "{}") -> str:
    def indent(block: str) -> str:
        return textwrap.indent(textwrap.dedent(block).strip(), "      ").lstrip()

    return SMALL.replace("PARAMETERS", indent(parameters)).replace("STEPS", indent(steps))


def _problem(text: str) -> Diagnostic:
    artifacts, diagnostics = _compile(text, env="default")
    assert artifacts == []
    [diagnostic] = diagnostics
    return diagnostic


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_a_cycle_between_steps_is_refused_at_the_inputs() -> None:
    # references.py reports cycles before compiling; the builder refuses them too.
    steps = {
        "a": Step(image="x", inputs={"i": "b.o"}, outputs={"o": "Dataset"}),
        "b": Step(image="x", inputs={"i": "a.o"}, outputs={"o": "Dataset"}),
        "c": Step(image="x", outputs={"o": "Dataset"}),
    }
    with pytest.raises(kfp_builder.BuildError) as raised:
        kfp_builder.ordered_steps("job", Pipeline(tenant="team", steps=steps))
    assert raised.value.code == "MLS831" and "a, b" in raised.value.message
    assert raised.value.pointer == "/pipelines/job/steps/a/inputs"
    dag = {"z": Step(image="x", inputs={"i": "y.o"}), "y": Step(image="x", outputs={"o": "Model"})}
    assert kfp_builder.ordered_steps("job", Pipeline(tenant="team", steps=dag)) == ["y", "z"]


def test_a_placeholder_in_an_image_is_reported_at_the_image() -> None:
    text = _small(
        """
        a: {image: "x:{{ params.tag }}", args: ["{{ params.tag }}"]}
        """,
        "tag: {type: string, default: v1}",
    )
    found = _problem(text)
    assert found.code == "MLS833" and found.pointer == "/pipelines/job/steps/a/image"
    assert found.location is not None and found.location.line == _line(text, "a: {image")


def test_a_python_keyword_parameter_is_reported_at_the_parameter() -> None:
    text = _small('a: {image: x, args: ["{{ params.from }}"]}', "from: {type: string}")
    found = _problem(text)
    assert found.code == "MLS832" and "keyword" in found.message
    assert found.location is not None and found.location.line == _line(text, "from: {type")


def test_a_parameter_and_an_input_of_one_name_are_reported_at_the_input() -> None:
    text = _small(
        """
        a: {image: x, outputs: {data: Dataset}}
        b: {image: x, args: ["{{ params.data }}", "{{ inputs.data }}"], inputs: {data: a.data}}
        """,
        "data: {type: string, default: d}",
    )
    found = _problem(text)
    assert found.code == "MLS832" and found.pointer == "/pipelines/job/steps/b/inputs/data"
    assert found.location is not None and found.location.line == _line(text, "b: {image")


def test_steps_without_resources_caching_off_and_concatenated_args() -> None:
    text = _small(
        """
        a:
          image: x
          command: [run]
          args: ["--rate={{ params.rate }}/s", "{{ outputs.o }}"]
          outputs: {o: Artifact}
          caching: false
          timeout: 1500ms
        """,
        "rate: {type: number, default: 1}",
    )
    artifacts, diagnostics = _compile(text, env="default")
    assert diagnostics == []
    [version] = [a.object for a in artifacts if a.object["kind"] == "PipelineVersion"]
    ir = version["spec"]["pipelineSpec"]
    assert ir["root"]["dag"]["tasks"]["a"]["cachingOptions"] == {}  # enableCache: false
    args = ir["deploymentSpec"]["executors"]["exec-a"]["container"]["args"]
    assert args[0] == '{"Concat": ["--rate=", "{{$.inputs.parameters[\'rate\']}}", "/s"]}'
    rate = ir["root"]["inputDefinitions"]["parameters"]["rate"]
    assert (rate["parameterType"], rate["defaultValue"]) == ("NUMBER_DOUBLE", 1.0)
    executors = version["spec"]["platformSpec"]["platforms"]["kubernetes"]["deploymentSpec"]
    assert executors["executors"]["exec-a"]["activeDeadlineSeconds"] == "2"  # rounded up
    json_format.ParseDict(ir, pipeline_spec_pb2.PipelineSpec())
