"""The policy run of `mlspec validate`: load, build the inputs, evaluate, locate."""

from __future__ import annotations

from pathlib import Path

from mlspec.diagnostics import Diagnostic
from mlspec.policy import DEFAULT_BUNDLE, PolicyOptions, PolicyReport
from mlspec.policy.engine import EmbeddedEngine, Engine
from mlspec.policy.inputs import build_input
from mlspec.policy.modules import (
    PolicySet,
    input_keys,
    load_data,
    load_modules,
    result_rules,
)
from mlspec.policy.results import diagnostics, findings, merge_environments
from mlspec.spec.frontend import Validated


def run_policies(validated: Validated, options: PolicyOptions) -> PolicyReport:
    policies = load_policy_set(options)
    rules = result_rules(policies.modules)
    keys = input_keys(policies.modules)
    documents = {name: build_input(env, keys) for name, env in validated.environments.items()}
    outcomes = make_engine(options).evaluate(policies, documents, rules, "evaluating policies")
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
