"""Start one run of a pipeline version: what mlspec's schedule CronJobs execute.

    python -m mlspec.kfp_runner --host URL --namespace NS --pipeline NAME \\
        --version VERSION --experiment NAME

The CronJob (compiled by ``mlspec.compilers.schedules``) names the exact PipelineVersion
compiled with it, so git decides what runs. The runner

1. finds the pipeline and the version by name in the namespace (both must exist: a
   missing one fails the Job, and the Job retries, e.g. while Argo CD is still syncing);
2. does nothing if a run of the pipeline is still pending or running: at most one run at
   a time, which also makes a retried Job harmless;
3. otherwise starts a run with the pipeline's default parameters, in the experiment.

Exit codes: 0 started or skipped, 1 the pipeline or version is missing, 2 the KFP API
failed. Only `main` imports kfp; `start_run` works on anything shaped like kfp.Client.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "PAUSED", "CANCELING"})
PAGE_SIZE = 100
MAX_PAGES = 50  # a namespace with more pipelines, versions or runs than this is paged no further


class KfpClient(Protocol):
    """The part of ``kfp.Client`` the runner uses."""

    def list_pipelines(self, **kwargs: Any) -> Any: ...
    def list_pipeline_versions(self, pipeline_id: str, **kwargs: Any) -> Any: ...
    def create_experiment(self, name: str, **kwargs: Any) -> Any: ...
    def list_runs(self, **kwargs: Any) -> Any: ...
    def run_pipeline(self, experiment_id: str, job_name: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Target:
    namespace: str
    pipeline: str
    version: str
    experiment: str


@dataclass(frozen=True)
class Outcome:
    code: int  # the exit code
    message: str
    run_id: str | None = None


class NotFoundError(Exception):
    """The pipeline or the version is not (yet) known to KFP."""


def start_run(client: KfpClient, target: Target, now: datetime) -> Outcome:
    try:
        pipeline_id = _pipeline_id(client, target)
        version_id = _version_id(client, pipeline_id, target)
    except NotFoundError as exc:
        return Outcome(1, str(exc))
    experiment = client.create_experiment(target.experiment, namespace=target.namespace)
    active = _active_run(client, experiment.experiment_id, pipeline_id)
    if active is not None:
        return Outcome(0, f"skipped: run {active} of {target.pipeline} is still active")
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run = client.run_pipeline(
        experiment.experiment_id,
        f"{target.pipeline} {target.version} {stamp}",
        pipeline_id=pipeline_id,
        version_id=version_id,
    )
    return Outcome(0, f"started run {run.run_id} of {target.pipeline} {target.version}", run.run_id)


def _pipeline_id(client: KfpClient, target: Target) -> str:
    def page(token: str) -> Any:
        return client.list_pipelines(
            page_token=token,
            page_size=PAGE_SIZE,
            filter=name_filter(target.pipeline),
            namespace=target.namespace,
        )

    for pipeline in _items(page, "pipelines"):
        if pipeline.name == target.pipeline:
            return str(pipeline.pipeline_id)
    raise NotFoundError(f"pipeline {target.pipeline} not found in namespace {target.namespace}")


def _version_id(client: KfpClient, pipeline_id: str, target: Target) -> str:
    def page(token: str) -> Any:
        return client.list_pipeline_versions(
            pipeline_id, page_token=token, page_size=PAGE_SIZE, filter=name_filter(target.version)
        )

    for version in _items(page, "pipeline_versions"):
        if version.name == target.version:
            return str(version.pipeline_version_id)
    raise NotFoundError(f"version {target.version} of pipeline {target.pipeline} not found")


def _active_run(client: KfpClient, experiment_id: str, pipeline_id: str) -> str | None:
    def page(token: str) -> Any:
        return client.list_runs(
            page_token=token,
            page_size=PAGE_SIZE,
            sort_by="created_at desc",
            experiment_id=experiment_id,
        )

    for run in _items(page, "runs"):
        reference = run.pipeline_version_reference
        if run.state in ACTIVE_STATES and reference and reference.pipeline_id == pipeline_id:
            return str(run.run_id)
    return None


def _items(page: Callable[[str], Any], field: str) -> Iterator[Any]:
    """Every item of a paged KFP list call, up to `MAX_PAGES` pages."""
    token = ""
    for _ in range(MAX_PAGES):
        response = page(token)
        yield from getattr(response, field, None) or []
        token = getattr(response, "next_page_token", None) or ""
        if not token:
            return


def name_filter(name: str) -> str:
    """A KFP API filter: ``name`` equals ``name`` (checked again on the results)."""
    predicate = {"operation": "EQUALS", "key": "name", "stringValue": name}
    return json.dumps({"predicates": [predicate]})


def parse_arguments(argv: Sequence[str]) -> tuple[str, Target]:
    parser = argparse.ArgumentParser(prog="python -m mlspec.kfp_runner", description=__doc__)
    parser.add_argument("--host", required=True, help="KFP API endpoint")
    for name in ("namespace", "pipeline", "version", "experiment"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    return args.host, Target(args.namespace, args.pipeline, args.version, args.experiment)


def main(argv: Sequence[str] | None = None) -> int:
    host, target = parse_arguments(sys.argv[1:] if argv is None else argv)
    import kfp  # the runner image has kfp; nothing else in mlspec needs it at import

    try:
        client = kfp.Client(host=host, namespace=target.namespace)
        outcome = start_run(client, target, datetime.now(UTC))
    except Exception as exc:  # the API or the network: report it, let the Job retry
        print(f"error: KFP API at {host}: {exc}", file=sys.stderr)
        return 2
    print(outcome.message, file=sys.stdout if outcome.code == 0 else sys.stderr)
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
