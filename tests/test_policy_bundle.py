"""The default bundle on real specs: each policy's violation is reported at its line.

Each case edits the reference spec, validates it (policies included) and expects the
deny or warning at the edited line. The cases run on the embedded engine, and on OPA
too when ``MLSPEC_TEST_OPA_URL`` names a server (they are skipped otherwise).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlspec import api
from mlspec.diagnostics import Diagnostic
from mlspec.policy import DEFAULT_BUNDLE, PolicyOptions, check
from mlspec.policy.runner import make_engine
from mlspec.policy.testing import PASS, run_tests
from mlspec.spec.frontend import EnvironmentSpec, SpecFile, Validated, validate_spec
from tests.conftest import EXAMPLE

OPA_URL = os.environ.get("MLSPEC_TEST_OPA_URL")
NO_OPA = "no OPA server: set MLSPEC_TEST_OPA_URL (e.g. http://127.0.0.1:8181) to run on OPA too"


@pytest.fixture(params=["embedded", "opa"])
def options(request: pytest.FixtureRequest) -> PolicyOptions:
    if request.param == "opa":
        if not OPA_URL:
            pytest.skip(NO_OPA)
        return PolicyOptions(opa_url=OPA_URL)
    return PolicyOptions()


@dataclass(frozen=True)
class Case:
    edits: tuple[tuple[str, str], ...]
    needle: str  # the expected line holds this text (after the edits)
    code: str
    words: str  # in the message
    environments: tuple[str, ...] = ("prod",)


CASES = {
    "image-latest": Case(
        (("search-features:2.0.1", "search-features:latest"),),
        "search-features:latest",
        "MLS701",
        "uses the moving tag :latest",
    ),
    "image-without-tag": Case(
        (("search-finetune:2.0.1", "search-finetune"),),
        "image: ghcr.io/acme/search-finetune\n",
        "MLS701",
        "has neither a tag nor a digest",
    ),
    "image-latest-through-a-template": Case(
        (("with: {version: 1.4.2,", "with: {version: latest,"),),
        '"ghcr.io/acme/tabular-prep:{{ version }}"',
        "MLS701",
        "tabular-prep:latest of step prepare of pipeline fraud-train",
    ),
    "blank-cost-center": Case(
        (("costCenter: CC-2210", 'costCenter: " "'),),
        'costCenter: " "',
        "MLS701",
        "tenant search has no cost center",
    ),
    "gpu-pool-without-quota": Case(
        (
            ("gpu: {h100-mig: 14}", "gpu: {h100-mig: 14}\n      borrow: {l4-shared: 4}"),
            ("gpu: {pool: h100-mig, count: 2}", "gpu: {pool: l4-shared, count: 2}"),
        ),
        "gpu: {pool: l4-shared, count: 2}",
        "MLS701",
        "requests GPUs from pool l4-shared, where tenant search has no quota",
    ),
    "canary-over-half": Case(
        (("traffic: 10}", "traffic: 60}"),),
        "traffic: 60}",
        "MLS701",
        "takes 60% of the traffic",
    ),
    "production-deployment-without-slo": Case(
        (("    slo: {latencyP99: 400ms, errorRate: 0.5%}\n", ""),),
        "  search-reranker:\n    tenant: search\n    model:",
        "MLS701",
        "deployment search-reranker runs in prod without a monitor with an SLO",
    ),
    "production-deployment-with-one-replica": Case(
        (),
        "replicas: {min: 1, max: 4}",
        "MLS702",
        "keeps 1 replica(s) at minimum in prod",
    ),
    "unreachable-drift-threshold": Case(
        (("method: psi", "method: ks"), ("threshold: 0.2", "threshold: 1.5")),
        "threshold: 1.5",
        "MLS702",
        "drift threshold 1.5 of monitor fraud-scorer-health can never be reached",
    ),
    "gpu-step-without-retries": Case(
        (("        retries: 1\n", "        retries: 0\n"),),
        "retries: 0",
        "MLS702",
        "GPU step finetune of pipeline search-rerank-train has no retries",
    ),
    "gpu-step-without-timeout": Case(
        (),
        "      finetune:",
        "MLS702",
        "GPU step finetune of pipeline search-rerank-train has no timeout",
        ("prod", "staging"),
    ),
    "reserved-tenant-name": Case(
        (
            ("  fraud:\n    displayName", "  default:\n    displayName"),
            ("tenant: fraud", "tenant: default"),
        ),
        "  default:\n",
        "MLS701",
        "tenant name default is a namespace",
    ),
}


def line_of(text: str, needle: str) -> int:
    assert text.count(needle) == 1, needle
    return (
        text[: text.index(needle)].count("\n")
        + 1
        + needle[: len(needle) - len(needle.lstrip("\n"))].count("\n")
    )


def validate(
    tmp_path: Path, text: str, environments: tuple[str, ...], options: PolicyOptions
) -> list[Diagnostic]:
    spec = tmp_path / "platform.yaml"
    spec.write_text(text, encoding="utf-8")
    result = api.validate(SpecFile.read(spec), environments, options)
    assert result.policy is not None, result.diagnostics  # the spec itself is valid
    return result.diagnostics


@pytest.mark.parametrize("name", sorted(CASES))
def test_violation_is_reported_at_the_offending_line(
    tmp_path: Path, options: PolicyOptions, name: str
) -> None:
    case = CASES[name]
    text = EXAMPLE.read_text(encoding="utf-8")
    for old, new in case.edits:
        assert old in text, old
        text = text.replace(old, new)
    found = validate(tmp_path, text, case.environments, options)
    line = line_of(text, case.needle)
    matching = [d for d in found if d.code == case.code and case.words in d.message]
    assert matching, [f"{d.location} {d.code} {d.message}" for d in found]
    assert [d.location.line for d in matching if d.location] == [line]


def test_the_reference_spec_passes_with_two_warnings(
    tmp_path: Path, options: PolicyOptions
) -> None:
    found = validate(tmp_path, EXAMPLE.read_text(encoding="utf-8"), (), options)
    assert not [d for d in found if d.is_error]
    assert [(d.code, d.message.split(" (policy ")[0]) for d in found] == [
        ("MLS702", "GPU step finetune of pipeline search-rerank-train has no timeout"),
        (
            "MLS702",
            "deployment search-reranker keeps 1 replica(s) at minimum in prod: one node "
            "drain takes it down",
        ),
    ]


# Violations the schema or the reference checks already refuse: the policies hold them too
# (defence in depth, and for the same input on OPA). They are fed a validated platform
# with the fault put back in, keeping the spec's real line numbers.


def with_fault(env: EnvironmentSpec, section: str, name: str, update: dict[str, Any]) -> Validated:
    objects = dict(getattr(env.platform, section))
    objects[name] = objects[name].model_copy(update=update)
    platform = env.platform.model_copy(update={section: objects})
    return Validated(
        SpecFile.read(EXAMPLE), {env.name: EnvironmentSpec(env.name, platform, env.sources)}
    )


@pytest.fixture(scope="module")
def prod() -> EnvironmentSpec:
    return validate_spec(SpecFile.read(EXAMPLE), ["prod"]).environments["prod"]


def test_tenant_without_owners_is_denied_at_owners(
    prod: EnvironmentSpec, options: PolicyOptions
) -> None:
    report = check(with_fault(prod, "tenants", "search", {"owners": []}), options)
    line = line_of(EXAMPLE.read_text(), "owners: [bob@acme.example]")
    assert [
        (d.code, d.location.line if d.location else 0) for d in report.diagnostics if d.is_error
    ] == [("MLS701", line)]


def test_drift_without_threshold_is_denied_at_the_drift(
    prod: EnvironmentSpec, options: PolicyOptions
) -> None:
    monitor = prod.platform.monitors["fraud-scorer-health"]
    assert monitor.drift is not None
    drift = monitor.drift.model_copy(update={"threshold": None})
    report = check(with_fault(prod, "monitors", "fraud-scorer-health", {"drift": drift}), options)
    line = line_of(EXAMPLE.read_text(), "threshold: 0.2")
    errors = [d for d in report.diagnostics if d.is_error]
    assert [(d.code, d.location.line if d.location else 0) for d in errors] == [("MLS701", line)]
    assert "has no threshold" in errors[0].message


def test_alias_of_a_missing_version_is_denied_in_production(
    prod: EnvironmentSpec, options: PolicyOptions
) -> None:
    faulty = with_fault(
        prod, "models", "fraud-detector", {"aliases": {"champion": 9, "challenger": 8}}
    )
    report = check(faulty, options)
    text = EXAMPLE.read_text()
    errors = sorted(
        (d.location.line if d.location else 0, d.message) for d in report.diagnostics if d.is_error
    )
    assert [line for line, _ in errors] == [
        line_of(text, "aliases: {champion: 7, challenger: 8}"),
        line_of(text, "version: champion  "),
    ]
    assert "points at version 9, which is not registered" in errors[0][1]
    assert "serves champion of model fraud-detector" in errors[1][1]


# The bundle's own tests (as `mlspec policy test` runs them).


def test_every_default_policy_has_passing_tests(options: PolicyOptions) -> None:
    report = run_tests([DEFAULT_BUNDLE], [], make_engine(options))
    assert report.ok, [(r.rule.name, r.message) for r in report.results if r.status != PASS]
    tested = {r.rule.package.removesuffix("_test") for r in report.results}
    policies = {p.stem for p in DEFAULT_BUNDLE.glob("*.rego") if not p.stem.endswith("_test")}
    assert {f"mlspec.{p}" for p in policies - {"lib"}} <= tested
    assert report.count(PASS) >= 2 * len(policies - {"lib"})
