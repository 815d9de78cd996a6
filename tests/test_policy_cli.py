"""`mlspec validate` with policies, and `mlspec policy test`: exit codes and output."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlspec.cli import main
from mlspec.policy import sandbox
from tests.conftest import EXAMPLE

OPA_URL = os.environ.get("MLSPEC_TEST_OPA_URL")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def policy_dir(tmp_path: Path, body: str, name: str = "extra.rego") -> Path:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(
        f"package mlspec.extra\n\nimport rego.v1\n\n{body}", encoding="utf-8"
    )
    return directory


def test_validate_runs_the_default_bundle_and_lists_its_warnings() -> None:
    result = run("validate", EXAMPLE)
    assert result.exit_code == 0, result.output
    assert (
        "warning[MLS702]: GPU step finetune of pipeline search-rerank-train has no timeout"
        in result.output
    )
    assert (
        f"ok: {EXAMPLE} is valid (environments: prod, staging); policies: 9 packages"
        in result.output
    )


def test_fail_on_warn_turns_warnings_into_exit_1() -> None:
    result = run("validate", EXAMPLE, "--fail-on-warn")
    assert result.exit_code == 1
    assert "has warnings (--fail-on-warn)" in result.output


def test_no_policy_skips_the_policies() -> None:
    result = run("validate", EXAMPLE, "--no-policy", "--fail-on-warn")
    assert result.exit_code == 0, result.output
    assert "MLS702" not in result.output
    assert "policies skipped" in result.output


def test_a_deny_from_an_added_policy_directory_is_exit_1_at_its_line(tmp_path: Path) -> None:
    body = (
        "deny contains result if {\n"
        "\tsome tenant in input.tenants\n"
        "\ttenant.spec.priority == data.settings.forbiddenPriority\n"
        '\tresult := {"msg": sprintf("tenant %s may not be %s", [tenant.name, '
        'tenant.spec.priority]), "object": tenant, "field": "priority"}\n'
        "}\n"
    )
    settings = tmp_path / "settings.yaml"
    settings.write_text("settings:\n  forbiddenPriority: high\n")
    result = run("validate", EXAMPLE, "--policy", policy_dir(tmp_path, body), "--data", settings)
    assert result.exit_code == 1
    line = EXAMPLE.read_text().splitlines().index("    priority: high") + 1
    assert (
        f"{EXAMPLE}:{line}:5: error[MLS701]: tenant fraud may not be high (policy mlspec.extra)"
        in result.output
    )


def test_json_output_carries_policy_diagnostics() -> None:
    result = run("validate", EXAMPLE, "--env", "prod", "--format", "json")
    document = json.loads(result.output)
    assert document["ok"] is True
    codes = [d["code"] for d in document["diagnostics"]]
    assert codes == ["MLS702", "MLS702"]
    assert all(d["line"] and d["pointer"] for d in document["diagnostics"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('deny contains "x" if {\n\tx := := 1\n}\n', "MLS710"),
        ('deny contains "x" if to_number("abc") > 1\n', "MLS713"),
        ('limit := 1\n\nlimit := 2\n\ndeny contains "x" if limit > 0\n', "MLS713"),
        ("deny contains x if x := time.now_ns()\n", "MLS711"),
        ("helper := 1\n", None),  # the default bundle still runs: not "zero policies"
    ],
)
def test_broken_policies_fail_closed_with_exit_2(
    tmp_path: Path, body: str, code: str | None
) -> None:
    result = run("validate", EXAMPLE, "--env", "prod", "--policy", policy_dir(tmp_path, body))
    if code is None:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert f"error[{code}]" in result.output
    assert str(tmp_path / "policies" / "extra.rego") in result.output  # located in the policy


def test_a_slow_policy_times_out_with_exit_2(tmp_path: Path) -> None:
    body = 'deny contains "x" if count([n | some n in numbers.range(1, 100000000)]) < 0\n'
    directory = policy_dir(tmp_path, body)
    result = run(
        "validate", EXAMPLE, "--env", "prod", "--policy", directory, "--policy-timeout", "0.5"
    )
    assert result.exit_code == 2
    assert "error[MLS714]: policy evaluation timed out after 0.5 s of CPU time" in result.output


def test_policies_outside_the_namespace_fail_closed(tmp_path: Path) -> None:
    directory = tmp_path / "p"
    directory.mkdir()
    (directory / "main.rego").write_text('package main\n\ndeny contains "x" if true\n')
    result = run("validate", EXAMPLE, "--policy", directory)
    assert result.exit_code == 2
    assert "error[MLS712]" in result.output and "would never run" in result.output


@pytest.mark.parametrize("url", ["ftp://127.0.0.1", "http://127.0.0.1:1"])
def test_an_unusable_opa_server_is_exit_2(url: str) -> None:
    result = run("validate", EXAMPLE, "--env", "prod", "--opa-url", url, "--policy-timeout", "2")
    assert result.exit_code == 2, result.output
    assert "error[MLS717]" in result.output


def test_the_opa_server_gives_the_same_warnings() -> None:
    if not OPA_URL:
        pytest.skip("no OPA server: set MLSPEC_TEST_OPA_URL (e.g. http://127.0.0.1:8181)")
    embedded = run("validate", EXAMPLE)
    remote = run("validate", EXAMPLE, "--opa-url", OPA_URL)
    assert remote.exit_code == embedded.exit_code == 0
    assert remote.output == embedded.output


# --- mlspec policy test -------------------------------------------------------------------------


def test_policy_test_runs_the_bundle_tests() -> None:
    result = run("policy", "test")
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed")
    assert int(last.split()[0]) >= 40
    assert "PASS mlspec.images_test.test_latest_is_denied_at_the_step_image" in result.output


def test_policy_test_reports_a_failing_test_at_its_line(tmp_path: Path) -> None:
    directory = policy_dir(tmp_path, 'deny contains "always" if true\n')
    test = (
        "package mlspec.extra_test\n\nimport data.mlspec.extra\nimport rego.v1\n\n"
        'test_denies if "always" in extra.deny\n\n'
        "test_wrong if count(extra.deny) == 0\n\n"
        "todo_test_later if false\n\n"
        'test_error if to_number("x") == 1\n'
    )
    (directory / "extra_test.rego").write_text(test)
    result = run("policy", "test", directory)
    assert result.exit_code == 1
    test_file = directory / "extra_test.rego"
    assert f"{test_file}:6:1: PASS mlspec.extra_test.test_denies" in result.output
    assert (
        f"{test_file}:8:1: FAIL mlspec.extra_test.test_wrong: the test is undefined"
        in result.output
    )
    assert f"{test_file}:12:1: ERROR mlspec.extra_test.test_error" in result.output
    assert result.output.strip().endswith("1 passed, 2 failed, 1 skipped")

    document = json.loads(run("policy", "test", directory, "--format", "json").output)
    assert (document["ok"], document["passed"], document["failed"], document["errors"]) == (
        False,
        1,
        1,
        1,
    )
    assert document["skipped"] == 1
    assert {t["name"]: t["status"] for t in document["tests"]}["test_wrong"] == "fail"


def test_policy_test_without_tests_is_exit_2(tmp_path: Path) -> None:
    result = run("policy", "test", policy_dir(tmp_path, 'deny contains "x" if false\n'))
    assert result.exit_code == 2
    assert "error[MLS720]: no tests found" in result.output


def test_policy_test_on_opa() -> None:
    if not OPA_URL:
        pytest.skip("no OPA server: set MLSPEC_TEST_OPA_URL (e.g. http://127.0.0.1:8181)")
    result = run("policy", "test", "--opa-url", OPA_URL)
    assert result.exit_code == 0, result.output


def test_an_exception_in_the_bundle_package_switches_a_rule_off(tmp_path: Path) -> None:
    directory = tmp_path / "mine"
    directory.mkdir()
    (directory / "exceptions.rego").write_text(
        'package mlspec.production\n\nimport rego.v1\n\nexception contains ["replicas"]\n'
    )
    result = run("validate", EXAMPLE, "--policy", directory)
    assert result.exit_code == 0, result.output
    assert "replica(s) at minimum" not in result.output
    assert "has no timeout" in result.output
    assert "policies: 9 packages, 1 result excepted" in result.output


def staging_invalid(tmp_path: Path) -> Path:
    """The example, with an error in staging's patch only: prod is valid (and, sorted
    first, starts its policies) before staging turns out invalid."""
    spec = tmp_path / "platform.yaml"
    text = EXAMPLE.read_text()
    valid = "      replicas: {min: 1, max: 2}\n          canary: null"
    assert text.count("replicas: {min: 1, max: 2}\n          canary: null") == 1, valid
    spec.write_text(text.replace("replicas: {min: 1, max: 2}", 'replicas: {min: 1, max: "2"}'))
    return spec


def test_an_invalid_environment_is_exit_1_whatever_the_policies(tmp_path: Path) -> None:
    broken = policy_dir(tmp_path, "deny contains x if {\n")  # does not parse
    result = run("validate", staging_invalid(tmp_path), "--policy", broken)
    assert result.exit_code == 1, result.output
    assert "(environment staging)" in result.output and "MLS71" not in result.output


def test_policies_started_for_a_valid_environment_stop_when_another_is_invalid(
    tmp_path: Path,
) -> None:
    slow = policy_dir(
        tmp_path, 'deny contains "x" if {\n\tcount([n | some n in numbers.range(1, 1e9)]) < 0\n}\n'
    )
    before = set(sandbox._UNFINISHED)
    started = time.monotonic()
    result = run("validate", staging_invalid(tmp_path), "--policy", slow)
    assert result.exit_code == 1, result.output
    assert time.monotonic() - started < 10  # prod's evaluation did not run to its end
    assert not sandbox._UNFINISHED - before  # stopped and reaped, not left to the exit handler
