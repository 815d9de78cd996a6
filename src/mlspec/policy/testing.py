"""`mlspec policy test`: run the ``test_*`` rules of ``*_test.rego`` modules.

regopy has no ``opa test``, so this is it: every module under the directories (policies
and tests) is loaded, each ``test_*`` rule of a test module is queried, and a test
passes when it is ``true``. Undefined or false is a failure, an evaluation error is an
error; ``todo_test_*`` rules are listed as skipped. No test at all is an error (exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.diagnostics import Diagnostic, MlspecError, safe_text
from mlspec.policy.engine import Engine, Outcome
from mlspec.policy.modules import PolicySet, RuleRef, find_tests, load_data, load_modules

PASS, FAIL, ERROR, SKIP = "pass", "fail", "error", "skip"


@dataclass(frozen=True)
class TestResult:
    rule: RuleRef
    status: str
    message: str | None = None

    __test__ = False  # not a pytest test class


@dataclass
class TestReport:
    results: list[TestResult] = field(default_factory=list)

    __test__ = False

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        return self.count(FAIL) == 0 and self.count(ERROR) == 0


def run_tests(dirs: Sequence[Path], data_files: Sequence[Path], engine: Engine) -> TestReport:
    modules = load_modules(dirs, include_tests=True)
    tests, todo = find_tests(modules)
    if not tests:
        where = ", ".join(str(d) for d in dirs)
        message = f"no tests found in {where}: no test_* rule in any *_test.rego module"
        raise MlspecError(Diagnostic("MLS720", message))
    policies = PolicySet(modules, load_data(data_files))
    outcomes = engine.evaluate(policies, {"tests": None}, tests, "running policy tests")
    results = [_result(outcome) for outcome in outcomes["tests"]]
    results += [TestResult(rule, SKIP) for rule in todo]
    return TestReport(sorted(results, key=lambda r: (r.rule.location, r.rule.name)))


def _result(outcome: Outcome) -> TestResult:
    if outcome.error is not None:
        return TestResult(outcome.rule, ERROR, safe_text(outcome.error, 300))
    if outcome.defined and outcome.value is True:
        return TestResult(outcome.rule, PASS)
    if outcome.defined:
        return TestResult(outcome.rule, FAIL, f"the test is {safe_text(outcome.value)}, not true")
    return TestResult(
        outcome.rule, FAIL, "the test is undefined: one of its expressions is not true"
    )
