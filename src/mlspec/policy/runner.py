"""The policy run of `mlspec validate`: load, build the inputs, evaluate, locate."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from mlspec.diagnostics import Diagnostic, MlspecError
from mlspec.policy import DEFAULT_BUNDLE, PolicyOptions, PolicyReport, new_run
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
from mlspec.spec.frontend import EnvironmentSpec, Validated


def run_policies(validated: Validated, options: PolicyOptions) -> PolicyReport:
    return start_policies(validated, options).report()


def start_policies(validated: Validated, options: PolicyOptions) -> PolicyRun:
    """Start evaluating every environment and return at once; `PolicyRun.report` waits."""
    run = new_run(options, len(validated.spec.raw))
    for _, env in sorted(validated.environments.items()):
        run.start(env)
    run.launch()
    return run


def _what(environments: list[str]) -> str:
    return f"evaluating policies (environment {', '.join(environments)})"


class PolicyRun:
    """Policies evaluated environment by environment, in child processes.

    `start` an environment as soon as it is valid. With ``parallel``, its evaluation
    starts at once in a process of its own, while the caller goes on (validating the
    next environment, compiling) on another core. Otherwise the environments wait for
    `launch`, which evaluates them all, one after another, in a single process: rego-cpp
    needs about 1.5 KiB of memory per node of the input document (some 3.5 GiB per
    environment at 5,000 tenants), and one such process at a time is enough.

    `report` waits for the evaluations (launching them first if need be); `cancel` stops
    them when the spec turns out invalid after all. A policy that does not load is an
    error of `report`, not of `start`: an invalid spec is reported as such, whatever the
    policies.
    """

    def __init__(self, options: PolicyOptions, parallel: bool = True) -> None:
        self._options = options
        self._parallel = parallel
        self._loaded: tuple[PolicySet, list[RuleRef], frozenset[str] | None, Engine] | None = None
        self._environments: dict[str, EnvironmentSpec] = {}
        self._queued: list[EnvironmentSpec] = []
        self._pending: dict[str, Pending] = {}
        self._error: MlspecError | None = None
        self._report: PolicyReport | None = None

    def start(self, env: EnvironmentSpec) -> None:
        self._queued.append(env)
        if self._parallel:
            self.launch()

    def launch(self) -> None:
        """Evaluate the environments started so far (in one process: see the class)."""
        queued, self._queued = self._queued, []
        if self._error is not None or not queued:
            return
        try:
            policies, rules, keys, engine = self._load()
            names = [env.name for env in queued]
            documents = {env.name: partial(build_input, env, keys) for env in queued}
            pending = engine.start(policies, documents, rules, _what(names))
        except MlspecError as exc:
            self._error = exc
            self.cancel()
            return
        for env in queued:
            self._environments[env.name] = env
            self._pending[env.name] = pending

    def report(self) -> PolicyReport:
        """The located denies and warnings of every started environment. Raises
        MlspecError (exit 2) when the policies failed to load or an evaluation failed;
        with several failures, that of the first environment."""
        self.launch()
        if self._error is not None:
            raise self._error
        if self._report is None:
            try:
                outcomes = {name: run.result()[name] for name, run in self._pending.items()}
            finally:
                self.cancel()  # after a failure, the other environments' evaluations
            _, rules, _, _ = self._load()
            self._report = _report(self._environments, rules, outcomes)
        return self._report

    def cancel(self) -> None:
        self._queued = []
        for pending in self._pending.values():
            pending.cancel()

    def _load(self) -> tuple[PolicySet, list[RuleRef], frozenset[str] | None, Engine]:
        if self._loaded is None:
            policies = load_policy_set(self._options)
            rules = result_rules(policies.modules)
            keys = input_keys(policies.modules)
            self._loaded = policies, rules, keys, make_engine(self._options)
        return self._loaded


def _report(
    environments: dict[str, EnvironmentSpec],
    rules: list[RuleRef],
    outcomes: dict[str, list[Outcome]],
) -> PolicyReport:
    per_env: dict[str, list[Diagnostic]] = {}
    excepted: set[tuple[str, str, str]] = set()
    for name, env in sorted(environments.items()):
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
