"""Environment patches and environment selection (MLS4xx), errors located in the patch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    Case,
    OutTree,
    Rejects,
    assert_no_crash,
    case,
    position,
    run_cli,
    spec_with,
    write_spec,
)

PATCH = (
    "    patch:\n"
    "      deployments:\n"
    "        fraud-scorer:\n"
    "          replicas: {min: 1, max: 2}\n"
    "          canary: null\n"
)
PATCH_REPLICAS = "replicas: {min: 1, max: 2}"
STAGING = " (environment staging)"
PROD = " (environment prod)"


def _patch(case_id: str, extra: str, code: str, marker: str, at: str, **kwargs: Any) -> Any:
    """The staging patch with ``extra`` lines added to it; expect ``code`` at ``at``."""
    text = spec_with(replace=[(PATCH, PATCH + extra)])
    return case(case_id, text, code, position(text, marker, at=at), **kwargs)


def _replicas(case_id: str, new: str, code: str, at: str, **kwargs: Any) -> Any:
    """The staging patch's replicas replaced by ``new``."""
    text = spec_with(replace=[(PATCH_REPLICAS, new)])
    return case(case_id, text, code, position(text, new, at=at), **kwargs)


# The staging patch drops the canary, so a broken canary is broken in prod only.
PROD_ONLY = spec_with(replace=[("traffic: 10}", "traffic: 100}")])
NOT_A_MAPPING = spec_with(replace=[(PATCH, "    patch: [deployments]\n")])
NOT_A_MAPPING_AT = position(NOT_A_MAPPING, "    patch: [deployments]", at="[")

PATCH_CASES = [
    case(
        "patch-is-a-list",
        NOT_A_MAPPING,
        "MLS402",
        NOT_A_MAPPING_AT,
        message="must be a mapping",
    ),
    _patch(
        "patch-changes-environments",
        "      environments:\n        dev: {cluster: dev-eu}\n",
        "MLS402",
        "      environments:",
        at="environments",
        message="may not change `environments`" + STAGING,
    ),
    _patch(
        "patch-changes-kind",
        "      kind: Cluster\n",
        "MLS402",
        "      kind: Cluster",
        at="kind",
        message="may not change `kind`" + STAGING,
    ),
    _patch(
        "patch-changes-apiVersion",
        "      apiVersion: mlspec.dev/v2\n",
        "MLS402",
        "      apiVersion: mlspec.dev/v2",
        at="apiVersion",
    ),
    _replicas(
        "patch-sets-a-word-for-an-integer",
        "replicas: {min: 1, max: two}",
        "MLS103",
        at="two",
        message="deployments.fraud-scorer.replicas.max: Input should be a valid integer" + STAGING,
    ),
    _replicas(
        "patch-sets-min-above-max",
        "replicas: {min: 5, max: 2}",
        "MLS104",
        at="5",
        message="replicas.min is above replicas.max" + STAGING,
    ),
    _patch(
        "patch-sets-memory-16GB",
        "      tenants:\n        fraud:\n          quota:\n            memory: 16GB\n",
        "MLS105",
        "            memory: 16GB",
        at="16GB",
        message=STAGING,
    ),
    _patch(
        "patch-adds-an-unknown-field",
        "      tenants:\n        fraud:\n          quota:\n            cpuu: 3\n",
        "MLS101",
        "            cpuu: 3",
        at="cpuu",
        hint="did you mean `cpu`?",
        message=STAGING,
    ),
    _patch(
        "patch-adds-a-deployment-with-an-unknown-alias",
        "        extra:\n          tenant: fraud\n          model: fraud-detector\n"
        "          version: champ\n",
        "MLS305",
        "          version: champ",
        at="champ",
        hint="did you mean `champion`?",
    ),
    case(
        "error-only-in-prod",
        PROD_ONLY,
        "MLS104",
        position(PROD_ONLY, "traffic: 100}", at="100"),
        message="less than or equal to 99" + PROD,
    ),
]


@pytest.mark.parametrize("spec", PATCH_CASES)
def test_patch_error_is_located_in_the_patch_and_the_tree_is_kept(
    spec: Case, compile_rejects: Rejects
) -> None:
    compile_rejects(spec)


def test_error_in_every_environment_is_reported_once_without_a_suffix(
    validate_rejects: Rejects,
) -> None:
    text = spec_with(replace=[("    version: 3\n", "    version: 4\n")])
    found = validate_rejects(Case(text, "MLS305", position(text, "    version: 4", at="4")))
    assert "(environment" not in found["message"]


def test_patch_that_is_not_a_mapping_is_reported_once(tmp_path: Path) -> None:
    outcome = run_cli("validate", write_spec(tmp_path, NOT_A_MAPPING), "--format", "json")
    assert_no_crash(outcome)
    assert [(d["code"], d["line"], d["column"]) for d in outcome.errors] == [
        ("MLS402", NOT_A_MAPPING_AT.line, NOT_A_MAPPING_AT.col)
    ]


REMOVE_COST_CENTER = "      tenants:\n        fraud:\n          costCenter: null\n"
REMOVE_GITOPS = "      gitops: null\n"


@pytest.mark.parametrize(
    "extra, marker, at",
    [
        pytest.param(REMOVE_COST_CENTER, "costCenter: null", "costCenter", id="costCenter"),
        pytest.param(REMOVE_GITOPS, "gitops: null", "gitops", id="gitops"),
    ],
)
def test_patch_removing_a_required_field_is_refused_for_its_environment(
    extra: str, marker: str, at: str, tmp_path: Path, out_tree: OutTree
) -> None:
    # The position: see test_patch_removing_a_required_field_is_reported_at_the_patch.
    text = spec_with(replace=[(PATCH, PATCH + extra)])
    path = write_spec(tmp_path, text)
    outcome = run_cli("compile", path, "--out", out_tree.path, "--format", "json")
    assert_no_crash(outcome)
    assert outcome.exit_code == 1, outcome.describe()
    [found] = outcome.errors
    assert found["code"] == "MLS102"
    assert found["message"].endswith(f"missing required field `{at}`{STAGING}")
    out_tree.assert_unchanged()


@pytest.mark.parametrize(
    "extra, marker, at",
    [
        pytest.param(REMOVE_COST_CENTER, "costCenter: null", "costCenter", id="costCenter"),
        pytest.param(REMOVE_GITOPS, "gitops: null", "gitops", id="gitops"),
    ],
)
def test_patch_removing_a_required_field_is_reported_at_the_patch(
    extra: str, marker: str, at: str, validate_rejects: Rejects
) -> None:
    text = spec_with(replace=[(PATCH, PATCH + extra)])
    validate_rejects(Case(text, "MLS102", position(text, marker, at=at)))


@pytest.mark.parametrize(
    "name, hint",
    [
        pytest.param("nosuch", "environments: prod, staging", id="nosuch"),
        pytest.param("prd", "did you mean `prod`?", id="typo"),
    ],
)
def test_unknown_environment_is_an_input_error_at_environments(
    name: str, hint: str, compile_rejects: Rejects
) -> None:
    text = spec_with()
    found = compile_rejects(
        Case(text, "MLS401", position(text, "environments:"), hint=hint, env=(name,))
    )
    assert found["message"] == f"unknown environment `{name}`"


def test_selecting_an_environment_skips_errors_of_the_others(tmp_path: Path) -> None:
    outcome = run_cli("validate", write_spec(tmp_path, PROD_ONLY), "--env", "staging")
    assert_no_crash(outcome)
    assert outcome.exit_code == 0, outcome.describe()
