"""The policy engine: loading, fail-closed cases, result mapping, the input document."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from mlspec.diagnostics import Location, MlspecError, Severity
from mlspec.policy import PARALLEL_SPEC_BYTES, PolicyOptions, check
from mlspec.policy.engine import Deferred, EmbeddedEngine, Outcome
from mlspec.policy.inputs import API_VERSION, build_input
from mlspec.policy.modules import (
    PolicySet,
    input_keys,
    load_data,
    load_modules,
    result_rules,
    scan_module,
)
from mlspec.policy.runner import PolicyRun, start_policies
from mlspec.policy.sandbox import _run_in_thread, run_bounded, start_bounded
from mlspec.spec.frontend import SpecFile, Validated, validate_spec
from tests.conftest import EXAMPLE

HEADER = "package mlspec.custom\n\nimport rego.v1\n\n"


@pytest.fixture(scope="module")
def validated() -> Validated:
    return validate_spec(SpecFile.read(EXAMPLE), ["prod"])


def write_policy(directory: Path, body: str, name: str = "custom.rego") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def run_only(validated: Validated, directory: Path, **options: object) -> list[str]:
    """Run just the policies under ``directory`` and render the diagnostics."""
    report = check(validated, PolicyOptions((directory,), default_bundle=False, **options))  # type: ignore[arg-type]
    return [f"{d.location}: {d.severity.value}[{d.code}] {d.message}" for d in report.diagnostics]


def failure(validated: Validated, directory: Path, **options: object) -> MlspecError:
    with pytest.raises(MlspecError) as raised:
        run_only(validated, directory, **options)
    return raised.value


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def position_of(text: str, line_needle: str, word: str) -> str:
    """``line:col`` of ``word`` on the line holding ``line_needle``."""
    line = line_of(text, line_needle)
    return f"{line}:{text.splitlines()[line - 1].index(word) + 1}"


# --- fail closed ------------------------------------------------------------------------------


def test_parse_error_is_located_at_the_bad_token(tmp_path: Path, validated: Validated) -> None:
    path = write_policy(tmp_path, "deny contains msg if {\n\tmsg := := 1\n}\n")
    error = failure(validated, tmp_path).diagnostic
    assert error.code == "MLS710"
    assert error.location is not None
    assert (error.location.file, error.location.line) == (str(path.resolve()), 6)
    assert "does not compile" in error.message


def test_builtin_error_inside_a_deny_fails_instead_of_passing(
    tmp_path: Path, validated: Validated
) -> None:
    write_policy(tmp_path, 'deny contains "x" if {\n\tto_number("not a number") > 1\n}\n')
    error = failure(validated, tmp_path).diagnostic
    assert error.code == "MLS713"
    assert "mlspec.custom.deny" in error.message
    assert error.location is not None and error.location.line == 5


def test_conflicting_rule_values_fail(tmp_path: Path, validated: Validated) -> None:
    body = 'limit := 1\n\nlimit := 2\n\ndeny contains "x" if limit > 0\n'
    write_policy(tmp_path, body)
    error = failure(validated, tmp_path).diagnostic
    assert error.code == "MLS713"
    assert "multiple outputs" in error.message


def test_slow_policy_times_out_and_is_killed(tmp_path: Path, validated: Validated) -> None:
    body = 'deny contains "x" if {\n\tcount([n | some n in numbers.range(1, 100000000)]) < 0\n}\n'
    write_policy(tmp_path, body)
    started = time.monotonic()
    error = failure(validated, tmp_path, timeout=0.5).diagnostic
    assert error.code == "MLS714"
    assert "timed out after 0.5 s of CPU time" in error.message
    assert time.monotonic() - started < 10


def test_no_policies_at_all_is_an_error(tmp_path: Path, validated: Validated) -> None:
    write_policy(tmp_path, "helper := 1\n")
    assert failure(validated, tmp_path).diagnostic.code == "MLS712"


def test_an_empty_directory_is_an_error(tmp_path: Path, validated: Validated) -> None:
    assert "no policies loaded" in failure(validated, tmp_path).diagnostic.message


def test_deny_outside_the_mlspec_namespace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text('package main\n\ndeny contains "x" if true\n')
    with pytest.raises(MlspecError) as raised:
        result_rules(load_modules([tmp_path]))
    assert raised.value.diagnostic.code == "MLS712"
    assert raised.value.diagnostic.location is not None
    assert raised.value.diagnostic.location.line == 3


@pytest.mark.parametrize(
    "call",
    [
        "time.now_ns()",
        'rand.intn("seed", 10)',
        'http.send({"method": "get", "url": "http://127.0.0.1:1"})',
        "opa.runtime()",
        'net.lookup_ip_addr("example.com")',
        'uuid.rfc4122("x")',
    ],
)
def test_nondeterministic_builtins_are_refused_at_their_line(call: str) -> None:
    text = HEADER + f"deny contains x if {{\n\tx := {call}\n}}\n"
    with pytest.raises(MlspecError) as raised:
        scan_module("p.rego", text)
    diagnostic = raised.value.diagnostic
    assert diagnostic.code == "MLS711"
    assert diagnostic.location == Location("p.rego", 6, 7)


def test_builtin_names_in_comments_and_strings_are_fine() -> None:
    text = (
        HEADER + '# time.now_ns() would break determinism\ndeny contains "no http.send" if false\n'
    )
    assert scan_module("p.rego", text).rules["deny"].line == 6


def test_whole_input_mocks_are_refused_for_the_embedded_engine(tmp_path: Path) -> None:
    write_policy(tmp_path, 'deny contains "x" if input.a\n')
    test = (
        "package mlspec.custom_test\n\ntest_a if {\n"
        '\tdata.mlspec.custom.deny with input as {"a": true}\n}\n'
    )
    (tmp_path / "custom_test.rego").write_text(test)
    modules = load_modules([tmp_path], include_tests=True)
    with pytest.raises(MlspecError) as raised:
        EmbeddedEngine().evaluate(PolicySet(modules), {"t": None}, [], "testing")
    assert raised.value.diagnostic.location is not None
    assert raised.value.diagnostic.location.line == 4


def test_functions_of_one_name_and_two_arities_are_refused(tmp_path: Path) -> None:
    write_policy(tmp_path, 'f(x) := x\n\ndeny contains "x" if f(1) > 2\n')
    (tmp_path / "other.rego").write_text("package mlspec.other\n\nf(x, y) := x + y\n")
    with pytest.raises(MlspecError) as raised:
        EmbeddedEngine().evaluate(PolicySet(load_modules([tmp_path])), {"t": None}, [], "x")
    assert "takes 2 argument(s) here and 1" in raised.value.diagnostic.message


def test_an_engine_crash_is_an_error_not_a_pass() -> None:
    def crash() -> None:
        os.kill(os.getpid(), signal.SIGSEGV)

    with pytest.raises(MlspecError) as raised:
        run_bounded(crash, 5, "crashing")
    assert raised.value.diagnostic.code == "MLS718"
    assert "SIGSEGV" in raised.value.diagnostic.message


def test_a_started_evaluation_runs_while_the_caller_works() -> None:
    started = time.monotonic()
    pending = start_bounded(lambda: time.sleep(1) or "done", 5, "sleeping")
    time.sleep(1)  # the caller's own work, meanwhile
    assert pending.result() == "done"
    assert time.monotonic() - started < 1.8  # not 2: the two sleeps overlapped


def test_a_finished_child_is_not_timed_out_by_a_busy_caller() -> None:
    """A large answer, a short deadline, a caller that asks late: the child finished in
    time, so its answer counts (with a pipe, it would wait for the caller and be killed)."""
    pending = start_bounded(lambda: b"x" * (4 << 20), 0.3, "answering")
    time.sleep(0.8)
    assert pending.result() == b"x" * (4 << 20)


def spin() -> None:
    while True:
        pass


def test_the_cpu_budget_holds_even_when_the_caller_handles_sigprof() -> None:
    previous = signal.signal(signal.SIGPROF, lambda *_: None)
    try:
        started = time.monotonic()
        with pytest.raises(MlspecError) as raised:
            start_bounded(spin, 0.3, "spinning").result()
    finally:
        signal.signal(signal.SIGPROF, previous)
    assert raised.value.diagnostic.message.startswith(
        "policy evaluation timed out after 0.3 s of CPU time while spinning"
    )
    assert time.monotonic() - started < 1.2 + 1  # under the parent's guard


def test_a_child_that_does_not_compute_is_killed_by_the_parent() -> None:
    started = time.monotonic()
    with pytest.raises(MlspecError) as raised:
        start_bounded(lambda: time.sleep(30), 0.2, "sleeping").result()
    assert raised.value.diagnostic.code == "MLS714"
    assert "after 1.8 s while sleeping" in raised.value.diagnostic.message
    assert time.monotonic() - started < 5


def test_without_pidfd_the_parent_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "pidfd_open", raising=False)
    assert start_bounded(lambda: 7, 5, "answering").result() == 7
    with pytest.raises(MlspecError) as raised:
        start_bounded(lambda: time.sleep(30), 0.1, "sleeping").result()
    assert "timed out after 1.4 s while sleeping" in raised.value.diagnostic.message


def test_without_fork_a_thread_still_keeps_the_deadline() -> None:
    with pytest.raises(MlspecError) as raised:
        _run_in_thread(lambda: time.sleep(2), 0.1, "sleeping")
    assert raised.value.diagnostic.code == "MLS714"
    assert _run_in_thread(lambda: 42, 5, "answering") == 42


# --- results -> located diagnostics ------------------------------------------------------------


def test_object_and_field_locate_the_result_at_the_spec_line(
    tmp_path: Path, validated: Validated
) -> None:
    body = (
        'deny contains {"msg": "too much", "object": "/deployments/fraud-scorer", '
        '"field": "canary.traffic"} if true\n'
        'warn contains {"msg": "look", "object": t, "field": ["quota", "gpu", "h100-mig"]} if {\n'
        '\tsome t in input.tenants\n\tt.name == "search"\n}\n'
        'warn contains "somewhere" if true\n'
    )
    write_policy(tmp_path, body)
    text = EXAMPLE.read_text()
    canary = position_of(text, "canary: {version: challenger, traffic: 10}", "traffic")
    quota = position_of(text, "gpu: {h100-mig: 14}", "h100-mig")
    assert run_only(validated, tmp_path) == [
        f"{EXAMPLE}:4:1: warning[MLS702] somewhere (policy mlspec.custom)",
        f"{EXAMPLE}:{quota}: warning[MLS702] look (policy mlspec.custom)",
        f"{EXAMPLE}:{canary}: error[MLS701] too much (policy mlspec.custom)",
    ]


def test_a_field_the_spec_does_not_write_lands_on_the_nearest_key(
    tmp_path: Path, validated: Validated
) -> None:
    body = (
        'deny contains {"msg": "m", "object": "pipelines/search-rerank-train", '
        '"field": "/steps/finetune/timeout"} if true\n'
    )
    write_policy(tmp_path, body)
    line = line_of(EXAMPLE.read_text(), "      finetune:")
    assert run_only(validated, tmp_path) == [
        f"{EXAMPLE}:{line}:7: error[MLS701] m (policy mlspec.custom)"
    ]


@pytest.mark.parametrize(
    "result",
    [
        "42",
        '{"message": "no msg key"}',
        '{"msg": "m", "field": 3}',
        '{"msg": "m", "object": 7}',
    ],
)
def test_malformed_results_fail(tmp_path: Path, validated: Validated, result: str) -> None:
    write_policy(tmp_path, f"deny contains {result} if true\n")
    assert failure(validated, tmp_path).diagnostic.code == "MLS715"


def test_a_deny_that_is_not_a_set_fails(tmp_path: Path, validated: Validated) -> None:
    write_policy(tmp_path, 'deny := "everything"\n')
    error = failure(validated, tmp_path).diagnostic
    assert error.code == "MLS715"
    assert "must be a set" in error.message


def test_exceptions_suppress_matching_results(tmp_path: Path, validated: Validated) -> None:
    body = (
        'deny_images contains "latest everywhere" if true\n'
        'deny contains {"msg": "m", "object": "tenants/fraud", "field": "owners"} if true\n'
        'deny contains {"msg": "kept", "object": "tenants/search"} if true\n'
        'exception contains ["images"]\n'
        'exception contains {"object": "tenants/fraud", "msg": "approved by the CISO"}\n'
    )
    write_policy(tmp_path, body)
    report = check(validated, PolicyOptions((tmp_path,), default_bundle=False))
    assert [d.message for d in report.diagnostics] == ["kept (policy mlspec.custom)"]
    assert report.excepted == 2


def test_results_are_sorted_and_repeatable(tmp_path: Path, validated: Validated) -> None:
    body = (
        "warn contains result if {\n"
        "\tsome tenant in input.tenants\n"
        '\tresult := {"msg": sprintf("tenant %s", [tenant.name]), "object": tenant}\n'
        "}\n"
    )
    write_policy(tmp_path, body)
    first = run_only(validated, tmp_path)
    assert first == run_only(validated, tmp_path)
    assert [line.split(": ", 1)[0] for line in first] == sorted(
        (line.split(": ", 1)[0] for line in first), key=lambda s: int(s.split(":")[-2])
    )
    assert len(first) == 2


def test_a_result_in_every_environment_is_reported_once(tmp_path: Path) -> None:
    both = validate_spec(SpecFile.read(EXAMPLE))
    body = (
        'warn contains {"msg": "everywhere", "object": "tenants/fraud"} if true\n'
        'warn contains {"msg": "here", "object": "tenants/fraud"} if '
        'input.environment.name == "prod"\n'
    )
    write_policy(tmp_path, body)
    messages = [
        d.message for d in check(both, PolicyOptions((tmp_path,), default_bundle=False)).diagnostics
    ]
    assert messages == [
        "everywhere (policy mlspec.custom)",
        "here (policy mlspec.custom) (environment prod)",
    ]


# --- data ---------------------------------------------------------------------------------------


def test_data_files_are_merged_into_data(tmp_path: Path, validated: Validated) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"limits": {"canary": 5}}))
    (tmp_path / "b.yaml").write_text("limits:\n  tenants: 1\n")
    assert load_data([tmp_path / "a.json", tmp_path / "b.yaml"]) == {
        "limits": {"canary": 5, "tenants": 1}
    }
    policies = tmp_path / "policies"
    write_policy(
        policies, 'deny contains "too many tenants" if count(input.tenants) > data.limits.tenants\n'
    )
    found = run_only(validated, policies, data_files=(tmp_path / "a.json", tmp_path / "b.yaml"))
    assert found == [f"{EXAMPLE}:4:1: error[MLS701] too many tenants (policy mlspec.custom)"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("dup.json", '{"a": 1, "a": 2}'),
        ("list.json", "[1, 2]"),
        ("bad.json", "{nope"),
    ],
)
def test_bad_data_files_are_errors(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(MlspecError) as raised:
        load_data([tmp_path / name])
    assert raised.value.diagnostic.code == "MLS716"


def test_data_files_may_not_set_the_same_value_twice(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"settings": {"x": 1}}')
    (tmp_path / "b.json").write_text('{"settings": {"x": 2}}')
    with pytest.raises(MlspecError) as raised:
        load_data([tmp_path / "a.json", tmp_path / "b.json"])
    assert "data.settings.x" in raised.value.diagnostic.message


# --- the input document ------------------------------------------------------------------------


def test_input_groups_objects_under_their_tenant(validated: Validated) -> None:
    document = build_input(validated.environments["prod"])
    assert document["apiVersion"] == API_VERSION
    assert document["environment"] == {"name": "prod", "cluster": "prod-eu"}
    assert [t["name"] for t in document["tenants"]] == ["fraud", "search"]
    tenant = document["tenants"][1]
    assert set(tenant) == {
        "kind",
        "name",
        "tenant",
        "source",
        "spec",
        "pipelines",
        "models",
        "deployments",
        "monitors",
    }
    deployment = tenant["deployments"]["search-reranker"]
    line = line_of(EXAMPLE.read_text(), "  search-reranker:\n    tenant: search\n    model:")
    assert deployment["source"] == {
        "pointer": "/deployments/search-reranker",
        "file": str(EXAMPLE),
        "line": line,
        "col": 3,
    }
    assert deployment["kind"] == "Deployment" and deployment["tenant"] == "search"
    assert deployment["spec"]["replicas"] == {"min": 1, "max": 4}
    assert "canary" not in deployment["spec"]  # absent, never null
    assert document["platform"]["source"]["pointer"] == ""
    assert "tenant" not in document["gpuPools"]["a100-80gb"]


def test_input_carries_expanded_templates(validated: Validated) -> None:
    fraud = build_input(validated.environments["prod"])["tenants"][0]
    steps = fraud["pipelines"]["fraud-train"]["spec"]["steps"]
    assert steps["train"]["image"] == "ghcr.io/acme/tabular-train:1.4.2"
    assert steps["train"]["timeout"] == "4h"


def test_input_includes_the_analysis_figures_when_present(validated: Validated) -> None:
    analysis = pytest.importorskip("mlspec.analysis")
    if not hasattr(analysis, "figures"):
        pytest.skip("mlspec.analysis has no figures() yet")
    document = build_input(validated.environments["prod"])
    assert document["analysis"] == analysis.figures(validated.environments["prod"].platform)


def test_reports_carry_severities(tmp_path: Path, validated: Validated) -> None:
    write_policy(tmp_path, 'deny contains "d" if true\n\nwarn contains "w" if true\n')
    report = check(validated, PolicyOptions((tmp_path,), default_bundle=False))
    assert [d.severity for d in report.diagnostics] == [Severity.ERROR, Severity.WARNING]
    assert report.packages == ("mlspec.custom",)


def test_only_the_top_level_keys_the_policies_read_are_built(validated: Validated) -> None:
    modules = [scan_module("a.rego", HEADER + 'deny contains "x" if count(input.tenants) > 9\n')]
    assert input_keys(modules) == frozenset({"tenants"})
    document = build_input(validated.environments["prod"], input_keys(modules))
    assert set(document) == {"apiVersion", "environment", "tenants"}
    whole = [scan_module("b.rego", HEADER + 'deny contains "x" if count(input) > 9\n')]
    assert input_keys(modules + whole) is None


# --- environments: in parallel, or one after another --------------------------------------------


def test_one_process_for_every_environment_says_what_one_each_says() -> None:
    both = validate_spec(SpecFile.read(EXAMPLE))
    assert sorted(both.environments) == ["prod", "staging"]
    reports = {}
    for parallel in (True, False):
        run = PolicyRun(PolicyOptions(), parallel=parallel)
        for _, env in sorted(both.environments.items()):
            run.start(env)
        run.launch()
        processes = {id(pending) for pending in run._pending.values()}
        assert len(processes) == (2 if parallel else 1)
        reports[parallel] = run.report()
    assert reports[True].diagnostics == reports[False].diagnostics
    assert any("(environment prod)" in d.message for d in reports[False].diagnostics)


def test_a_large_spec_evaluates_its_environments_one_after_another() -> None:
    spec = SpecFile.read(EXAMPLE)
    large = SpecFile(spec.display, spec.name, spec.raw + b"#" * PARALLEL_SPEC_BYTES)
    run = start_policies(validate_spec(large), PolicyOptions())
    assert len({id(pending) for pending in run._pending.values()}) == 1
    assert run.report().packages


def test_a_deferred_evaluation_shared_by_environments_runs_once() -> None:
    calls: list[int] = []

    def work() -> dict[str, list[Outcome]]:
        calls.append(1)
        return {"prod": [], "staging": []}

    shared = Deferred(work)
    assert shared.result()["prod"] == [] and shared.result()["staging"] == []
    assert calls == [1]
