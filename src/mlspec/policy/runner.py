"""The policy run of `mlspec validate`: load, build the inputs, evaluate, locate."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from mlspec.diagnostics import Diagnostic
from mlspec.policy import DEFAULT_BUNDLE, PolicyOptions, PolicyReport
from mlspec.policy.engine import EmbeddedEngine, Engine, Outcome, Pending
from mlspec.policy.inputs import build_input
from mlspec.policy.modules import (
    PolicySet,
    RuleRef,
    input_keys,
    load_data,
    load_modules,
    result_rules,
)
from mlspec.policy.results import diagnostics, findings, merge_environments
from mlspec.spec.frontend import Validated


def run_policies(validated: Validated, options: PolicyOptions) -> PolicyReport:
    return start_policies(validated, options).report()


def start_policies(validated: Validated, options: PolicyOptions) -> PolicyRun:
    """Start evaluating every environment, each in a process of its own (in parallel:
    environments are independent), and return at once; `PolicyRun.report` waits."""
    policies = load_policy_set(options)
    rules = result_rules(policies.modules)
    keys = input_keys(policies.modules)
    engine = make_engine(options)
    pending = {
        name: engine.start(policies, {name: partial(build_input, env, keys)}, rules, _what(name))
        for name, env in sorted(validated.environments.items())
    }
    return PolicyRun(validated, rules, pending)


def _what(environment: str) -> str:
    return f"evaluating policies (environment {environment})"


class PolicyRun:
    """Policies under evaluation; `report()` waits for them and locates the results."""

    def __init__(
        self, validated: Validated, rules: list[RuleRef], pending: dict[str, Pending]
    ) -> None:
        self._validated, self._rules, self._pending = validated, rules, pending
        self._report: PolicyReport | None = None

    def report(self) -> PolicyReport:
        """The located denies and warnings. Raises MlspecError (exit 2) when an
        evaluation failed; with several failures, that of the first environment."""
        if self._report is None:
            outcomes = {name: run.result()[name] for name, run in self._pending.items()}
            self._report = _report(self._validated, self._rules, outcomes)
        return self._report


def _report(
    validated: Validated, rules: list[RuleRef], outcomes: dict[str, list[Outcome]]
) -> PolicyReport:
    per_env: dict[str, list[Diagnostic]] = {}
    excepted: set[tuple[str, str, str]] = set()
    for name, env in validated.environments.items():
        kept, suppressed = findings(outcomes[name])
        per_env[name] = diagnostics(kept, env.sources)
        excepted |= {(f.rule.path, f.pointer, f.message) for f in suppressed}
    packages = tuple(sorted({rule.package for rule in rules}))
    return PolicyReport(merge_environments(per_env), packages, len(excepted))


def policy_dirs(options: PolicyOptions) -> list[Path]:
    return ([DEFAULT_BUNDLE] if options.default_bundle else []) + list(options.policy_dirs)


def load_policy_set(options: PolicyOptions, include_tests: bool = False) -> PolicySet:
    modules = load_modules(policy_dirs(options), include_tests)
    return PolicySet(modules, load_data(options.data_files))


def make_engine(options: PolicyOptions) -> Engine:
    if options.opa_url:
        from mlspec.policy.remote import RemoteEngine

        return RemoteEngine(options.opa_url, options.timeout)
    return EmbeddedEngine(options.timeout)
