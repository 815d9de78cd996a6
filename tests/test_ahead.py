"""The compilers run in a worker process ahead of the caller (compilers/ahead.py): the
same output as in one process, and every way the worker can fail reaches the caller."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlspec import api
from mlspec.compilers.ahead import in_order, run_compilers
from mlspec.compilers.base import Artifact, CompileContext, Compiler, CompileResult
from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.output.stream import ArtifactStream, MemorySink
from mlspec.spec.frontend import SpecFile
from mlspec.timing import recording
from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.yaml"))


@pytest.mark.parametrize("spec", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_worker_and_one_process_compile_the_same_files(spec: Path) -> None:
    ahead = api.compile_spec(SpecFile.read(spec))
    alone = api.compile_spec(SpecFile.read(spec), ahead=False)
    assert ahead.ok and alone.ok
    assert ahead.diagnostics == alone.diagnostics
    assert dict(ahead.files) == dict(alone.files)
    assert ahead.sources == alone.sources


def test_a_selected_compile_is_the_same_in_the_worker() -> None:
    spec = SpecFile.read(ROOT / "specs" / "examples" / "platform.yaml")
    select = "tenant:fraud+"
    ahead = api.compile_spec(spec, select=select)
    alone = api.compile_spec(spec, select=select, ahead=False)
    assert ahead.ok and alone.ok
    assert ahead.files and dict(ahead.files) == dict(alone.files)


class _Builds:
    name: ClassVar[str] = "builds"

    def compile(self, ctx: CompileContext) -> CompileResult:
        return CompileResult(diagnostics=[Diagnostic("MLS999", f"built for {ctx}", None)])


class _Refuses:
    name: ClassVar[str] = "refuses"

    def compile(self, ctx: CompileContext) -> CompileResult:
        raise MlspecError(Diagnostic("MLS902", "this compiler cannot run here"))


class _Breaks:
    name: ClassVar[str] = "breaks"

    def compile(self, ctx: CompileContext) -> CompileResult:
        return {}["missing"]  # type: ignore[no-any-return]


class _Dies:
    name: ClassVar[str] = "dies"

    def compile(self, ctx: CompileContext) -> CompileResult:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")


class _Slow(_Builds):
    name: ClassVar[str] = "slow"
    slow: ClassVar[bool] = True


def _contexts(*names: str) -> dict[str, Any]:
    """The fakes above do not look at their context: a name stands in for it."""
    return {name: name for name in names}


def _as_is(plugin: Compiler, env: str, result: CompileResult, spare: bool) -> CompileResult:
    return result


def _children() -> set[int]:
    found: set[int] = set()
    for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
        found |= {int(pid) for pid in children.read_text().split()}
    return found


def test_results_come_plugin_by_plugin_then_environment_by_environment() -> None:
    plugins: list[Compiler] = [_Builds(), _Slow()]
    done = list(run_compilers(plugins, _contexts("prod", "staging"), _as_is))
    assert [(d.plugin.name, d.env) for d in done] == [
        ("builds", "prod"),
        ("builds", "staging"),
        ("slow", "prod"),
        ("slow", "staging"),
    ]
    assert done[1].result.diagnostics[0].message == "built for staging"


def test_slow_compilers_run_last_and_the_others_keep_their_order() -> None:
    slow, refuses, builds = _Slow(), _Refuses(), _Builds()
    assert in_order([slow, refuses, builds]) == [refuses, builds, slow]


def test_the_worker_reports_compile_time_under_each_compiler() -> None:
    with recording() as stages:
        list(run_compilers([_Builds()], _contexts("prod"), _as_is))
    assert "compile:builds" in stages
    assert "compile (waiting for the worker)" in stages


def test_a_compiler_error_in_the_worker_reaches_the_caller_as_itself() -> None:
    with pytest.raises(MlspecError) as raised:
        list(run_compilers([_Builds(), _Refuses()], _contexts("prod"), _as_is))
    assert raised.value.diagnostic.code == "MLS902"
    assert raised.value.diagnostic.message == "this compiler cannot run here"


def test_a_bug_in_the_worker_is_an_error_with_the_workers_traceback() -> None:
    with pytest.raises(RuntimeError, match=r"(?s)in the worker process.*KeyError: 'missing'"):
        list(run_compilers([_Breaks()], _contexts("prod"), _as_is))


def test_a_worker_that_dies_is_mls905_and_is_reaped() -> None:
    before = _children()
    with pytest.raises(MlspecError) as raised:
        list(run_compilers([_Builds(), _Dies()], _contexts("prod"), _as_is))
    assert raised.value.diagnostic.code == "MLS905"
    assert "killed by SIGKILL" in raised.value.diagnostic.message
    assert _children() == before


def test_closing_the_results_early_stops_the_worker() -> None:
    before = _children()
    results = run_compilers([_Builds(), _Builds()], _contexts("prod", "staging"), _as_is)
    first = next(results)
    assert first.env == "prod"
    assert _children() - before  # the worker runs
    results.close()
    assert _children() == before


def test_without_the_worker_the_compilers_run_here() -> None:
    before = _children()
    pids: list[int] = []

    class Here(_Builds):
        def compile(self, ctx: CompileContext) -> CompileResult:
            pids.append(os.getpid())
            return super().compile(ctx)

    done = list(run_compilers([Here()], _contexts("prod"), _as_is, ahead=False))
    assert [d.env for d in done] == ["prod"]
    assert pids == [os.getpid()]
    assert _children() == before


def test_results_are_prepared_in_the_worker() -> None:
    def tagged(plugin: Compiler, env: str, result: CompileResult, spare: bool) -> tuple[str, int]:
        return f"{plugin.name}/{env}", os.getpid()

    done = list(run_compilers([_Builds()], _contexts("prod", "staging"), tagged))
    assert [d.result[0] for d in done] == ["builds/prod", "builds/staging"]
    assert {d.result[1] for d in done} != {os.getpid()}  # prepared in another process


def _artifacts() -> list[Artifact]:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fraud"}}
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "quota", "namespace": "fraud"},
        "spec": {"hard": {"cpu": "4"}, "hardest": True},  # an unknown field
    }
    return [
        Artifact("tenants/fraud/namespace.yaml", namespace, "/tenants/fraud"),
        Artifact("tenants/fraud/quota.yaml", quota, "/tenants/fraud"),
        Artifact("tenants/fraud/again.yaml", dict(namespace), "/tenants/fraud"),
    ]


def test_a_stream_given_verdicts_checks_and_emits_as_one_that_checks_itself() -> None:
    """The worker's schema checks (`verdicts`) stand in for the stream's own."""
    locate = {"prod": lambda pointer: None}
    itself, given = MemorySink(), MemorySink()
    checking = ArtifactStream(itself, locate)
    trusting = ArtifactStream(given, locate)
    verdicts = ArtifactStream(MemorySink(), locate).verdicts("tenancy", _artifacts())
    for artifact in _artifacts():
        checking.add("prod", artifact)
    for artifact, verdict in zip(_artifacts(), verdicts, strict=True):
        trusting.add("prod", artifact, verdict)
    assert [d.code for d in checking.diagnostics] == ["MLS804"]
    assert trusting.diagnostics == checking.diagnostics
    assert given.files == itself.files
    assert verdicts[0][0] == verdicts[2][0]  # equal objects, one digest
