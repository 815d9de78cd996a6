"""Schedules: a CronJob per scheduled pipeline, and the runner it starts."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from mlspec import kfp_runner
from mlspec.compilers import schedules
from mlspec.compilers.base import Artifact, CompileContext
from mlspec.compilers.kubeflow import KubeflowCompiler
from mlspec.diagnostics import Diagnostic
from mlspec.kfp_runner import Outcome, Target, start_run
from mlspec.output.kubeschema import check_object
from mlspec.spec.frontend import SpecFile, validate_spec
from tests.conftest import EXAMPLE


def _context(text: str, env: str = "prod") -> CompileContext:
    validated = validate_spec(SpecFile("platform.yaml", "platform.yaml", text.encode()))
    assert validated.ok, [d.message for d in validated.diagnostics]
    spec = validated.environments[env]
    return CompileContext(env, spec.cluster, spec.platform, spec.sources, "platform.yaml")


@functools.cache
def _example() -> tuple[Artifact, ...]:
    result = KubeflowCompiler().compile(_context(EXAMPLE.read_text(encoding="utf-8")))
    assert result.diagnostics == []
    return tuple(result.artifacts)


def _objects(kind: str) -> list[dict[str, Any]]:
    return [a.object for a in _example() if a.object["kind"] == kind]


def _cron_job(pipeline: str) -> dict[str, Any]:
    [job] = [o for o in _objects("CronJob") if o["metadata"]["name"] == f"{pipeline}-schedule"]
    return job


def _version(pipeline: str) -> str:
    [version] = [o for o in _objects("PipelineVersion") if o["spec"]["pipelineName"] == pipeline]
    name: str = version["spec"]["versionName"]
    return name


# --- the compiled objects --------------------------------------------------------------------


def test_each_scheduled_pipeline_gets_a_cron_job_with_its_five_field_schedule() -> None:
    assert sorted(o["metadata"]["name"] for o in _objects("CronJob")) == [
        "fraud-train-schedule",
        "search-rerank-train-schedule",
    ]
    spec = _cron_job("fraud-train")["spec"]
    assert spec["schedule"] == "0 3 * * *"  # as written: a CronJob reads five fields
    assert _cron_job("search-rerank-train")["spec"]["schedule"] == "0 */6 * * *"
    assert spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == schedules.STARTING_DEADLINE_SECONDS  # no catch-up
    assert _cron_job("fraud-train")["metadata"]["namespace"] == "fraud"


def test_the_job_starts_exactly_the_compiled_version() -> None:
    pod = _cron_job("fraud-train")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["command"] == ["python", "-m", "mlspec.kfp_runner"]
    host, target = kfp_runner.parse_arguments(container["args"])
    assert host == schedules.KFP_HOST
    assert target == Target("fraud", "fraud-train", _version("fraud-train"), "fraud-train")
    assert pod["serviceAccountName"] == schedules.RUNNER


def test_the_runner_token_is_projected_where_kfp_client_reads_it() -> None:
    from kfp.client import KF_PIPELINES_SA_TOKEN_PATH

    pod = _cron_job("search-rerank-train")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [volume] = pod["volumes"]
    [source] = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"
    [mount] = pod["containers"][0]["volumeMounts"]
    assert f"{mount['mountPath']}/{source['serviceAccountToken']['path']}" == (
        KF_PIPELINES_SA_TOKEN_PATH
    )


def test_the_runner_may_read_pipelines_and_start_runs_in_its_tenant_only() -> None:
    roles = _objects("Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["fraud", "search"]
    rules = {tuple(rule["resources"]): rule["verbs"] for rule in roles[0]["rules"]}
    assert rules == {
        ("pipelines", "pipelineversions"): ["get", "list"],
        ("experiments", "runs"): ["create", "get", "list"],
    }
    for binding in _objects("RoleBinding"):
        [subject] = binding["subjects"]
        assert subject["namespace"] == binding["metadata"]["namespace"]
        assert (subject["name"], binding["roleRef"]["name"]) == (schedules.RUNNER, schedules.RUNNER)


def test_schedule_objects_validate_strictly() -> None:
    kinds = ("CronJob", "ServiceAccount", "Role", "RoleBinding")
    objects = [a.object for a in _example() if a.object["kind"] in kinds]
    assert len(objects) == 8
    for obj in objects:
        assert check_object(obj) == [], obj["metadata"]["name"]


def test_an_unscheduled_pipeline_gets_no_cron_job_and_its_tenant_no_runner() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace('    schedule: "0 */6 * * *"\n', "")
    result = KubeflowCompiler().compile(_context(text))
    kinds = {(a.object["kind"], a.object["metadata"]["namespace"]) for a in result.artifacts}
    assert ("CronJob", "search") not in kinds and ("Role", "search") not in kinds
    assert ("CronJob", "fraud") in kinds and ("PipelineVersion", "search") in kinds


def _problems(text: str) -> list[Diagnostic]:
    result = KubeflowCompiler().compile(_context(text))
    return result.diagnostics


def test_a_scheduled_parameter_without_default_is_reported_at_the_parameter() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "corpus_uri: {type: string, default: s3://acme-data/search/clicks}",
        "corpus_uri: {type: string}",
    )
    [problem] = _problems(text)
    assert problem.code == "MLS834" and "corpus_uri" in problem.message
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "corpus_uri: {type" in t)
    assert problem.location is not None and problem.location.line == line


def test_a_scheduled_pipeline_name_too_long_for_a_cron_job_is_reported() -> None:
    long_name = "search-" + "r" * 40  # 47 + len("-schedule") > 52
    text = EXAMPLE.read_text(encoding="utf-8").replace("search-rerank-train:", f"{long_name}:")
    [problem] = _problems(text)
    assert problem.code == "MLS834" and "52" in problem.message
    assert problem.hint is not None and "43" in problem.hint


# --- the runner ----------------------------------------------------------------------------

TARGET = Target("fraud", "fraud-train", "sha256-0123456789abcdef", "fraud-train")
NOW = datetime(2025, 1, 2, 3, 0, 5, tzinfo=UTC)


def _page(field_name: str, items: list[Any], token: str = "") -> SimpleNamespace:
    return SimpleNamespace(**{field_name: items, "next_page_token": token})


@dataclass
class FakeKfp:
    """An in-memory KFP API: pipelines, versions and runs of one namespace."""

    pipelines: list[SimpleNamespace] = field(default_factory=list)
    versions: list[SimpleNamespace] = field(default_factory=list)
    runs: list[SimpleNamespace] = field(default_factory=list)
    started: list[dict[str, Any]] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)

    def list_pipelines(self, **kwargs: Any) -> Any:
        self.filters.append(kwargs["filter"])
        return _page("pipelines", self.pipelines)

    def list_pipeline_versions(self, pipeline_id: str, **kwargs: Any) -> Any:
        mine = [v for v in self.versions if v.pipeline_id == pipeline_id]
        return _page("pipeline_versions", mine)

    def create_experiment(self, name: str, **kwargs: Any) -> Any:
        return SimpleNamespace(experiment_id=f"exp-{name}")

    def list_runs(self, **kwargs: Any) -> Any:
        size, start = kwargs["page_size"], int(kwargs["page_token"] or 0)
        more = start + size < len(self.runs)
        return _page("runs", self.runs[start : start + size], str(start + size) if more else "")

    def run_pipeline(self, experiment_id: str, job_name: str, **kwargs: Any) -> Any:
        run_id = f"run-{len(self.runs) + 1}"
        self.started.append({"experiment_id": experiment_id, "job_name": job_name, **kwargs})
        reference = SimpleNamespace(pipeline_id=kwargs["pipeline_id"])
        run = SimpleNamespace(run_id=run_id, state="PENDING", pipeline_version_reference=reference)
        self.runs.insert(0, run)
        return run


def _run(state: str, pipeline_id: str = "p-1", run_id: str = "old") -> SimpleNamespace:
    reference = SimpleNamespace(pipeline_id=pipeline_id)
    return SimpleNamespace(run_id=run_id, state=state, pipeline_version_reference=reference)


def _kfp(runs: list[SimpleNamespace] | None = None) -> FakeKfp:
    return FakeKfp(
        pipelines=[
            SimpleNamespace(name="fraud-training", pipeline_id="p-0"),  # the filter is not trusted
            SimpleNamespace(name="fraud-train", pipeline_id="p-1"),
        ],
        versions=[
            SimpleNamespace(
                name="sha256-aaaaaaaaaaaaaaaa", pipeline_id="p-1", pipeline_version_id="v-0"
            ),
            SimpleNamespace(name=TARGET.version, pipeline_id="p-1", pipeline_version_id="v-1"),
        ],
        runs=list(runs or []),
    )


def test_runner_starts_a_run_of_the_named_version() -> None:
    kfp = _kfp([_run("SUCCEEDED"), _run("RUNNING", pipeline_id="another-pipeline")])
    outcome = start_run(kfp, TARGET, NOW)
    assert outcome == Outcome(0, f"started run run-3 of fraud-train {TARGET.version}", "run-3")
    [started] = kfp.started
    assert (started["pipeline_id"], started["version_id"]) == ("p-1", "v-1")
    assert started["experiment_id"] == "exp-fraud-train"
    assert started["job_name"] == f"fraud-train {TARGET.version} 2025-01-02T03:00:05Z"
    predicate = json.loads(kfp.filters[0])["predicates"][0]
    assert predicate == {"operation": "EQUALS", "key": "name", "stringValue": "fraud-train"}


@pytest.mark.parametrize("state", sorted(kfp_runner.ACTIVE_STATES))
def test_runner_starts_nothing_while_a_run_of_the_pipeline_is_active(state: str) -> None:
    kfp = _kfp([_run(state, run_id="busy")])
    outcome = start_run(kfp, TARGET, NOW)
    assert outcome.code == 0 and outcome.run_id is None and "busy" in outcome.message
    assert kfp.started == []


def test_a_retried_runner_does_not_start_a_second_run() -> None:
    kfp = _kfp()
    assert start_run(kfp, TARGET, NOW).run_id == "run-1"
    assert start_run(kfp, TARGET, NOW).run_id is None
    assert len(kfp.started) == 1


def test_runner_finds_an_active_run_on_a_later_page() -> None:
    runs = [_run("FAILED", run_id=f"r{i}") for i in range(kfp_runner.PAGE_SIZE + 5)]
    runs.append(_run("RUNNING", run_id="deep"))
    kfp = _kfp(runs)
    assert "deep" in start_run(kfp, TARGET, NOW).message
    assert kfp.started == []


def test_runner_fails_when_the_pipeline_or_version_is_missing() -> None:
    kfp = _kfp()
    kfp.versions = kfp.versions[:1]
    outcome = start_run(kfp, TARGET, NOW)
    assert outcome.code == 1 and TARGET.version in outcome.message
    kfp.pipelines = []
    assert start_run(kfp, TARGET, NOW).code == 1
    assert kfp.started == []


def test_runner_main_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    import kfp

    fake = _kfp()
    monkeypatch.setattr(kfp, "Client", lambda host, namespace: fake)
    argv = schedules.runner_arguments("fraud-train", "fraud", TARGET.version)
    assert kfp_runner.main(argv) == 0 and len(fake.started) == 1
    fake.pipelines = []
    assert kfp_runner.main(argv) == 1

    def unreachable(host: str, namespace: str) -> Any:
        raise ConnectionError("connection refused")

    monkeypatch.setattr(kfp, "Client", unreachable)
    assert kfp_runner.main(argv) == 2
