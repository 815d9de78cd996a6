"""Names that would become bad Kubernetes names, paths or identifiers (MLS2xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlspec.spec.references import CRONJOB_NAME_MAX

from .conftest import (
    Case,
    Rejects,
    assert_no_crash,
    case,
    position,
    run_cli,
    spec_with,
    write_spec,
)

SEARCH_TENANT = "  search:\n    displayName: Search Ranking\n"
MONITOR = "  fraud-scorer-health:\n"
DEPLOYMENTS_END = "\nmonitors:\n"
# A new deployment, so that no monitor refers to a renamed one.
NEW_DEPLOYMENT = "  {name}:\n    tenant: search\n    model: search-reranker\n    version: 3\n"


def _key_case(case_id: str, old: str, new: str, name: str, code: str, **kwargs: Any) -> Any:
    """Replace ``old`` with ``new``; the diagnostic is expected at the key ``name``."""
    text = spec_with(replace=[(old, new)])
    marker = kwargs.pop("marker", f"  {name}:")
    return case(case_id, text, code, position(text, marker, at=name), **kwargs)


def _tenant(case_id: str, name: str, **kwargs: Any) -> Any:
    new = SEARCH_TENANT.replace("search:", f"{name}:", 1)
    return _key_case(case_id, SEARCH_TENANT, new, name, "MLS201", **kwargs)


def _monitor_name(length: int) -> str:
    stem = "fraud-scorer-health-"
    return stem + "x" * (length - len(stem))


TOO_LONG_MONITOR = _monitor_name(CRONJOB_NAME_MAX - len("-drift") + 1)
METADATA_NAME = spec_with(replace=[("  name: acme-ml\n", "  name: Acme ML\n")])

NAME_CASES = [
    _tenant("tenant-Fraud_Team", "Fraud_Team", hint="try `fraud-team`", message="RFC 1123"),
    _tenant("tenant-64-chars", "a" * 64, message="64 characters long; the limit is 63"),
    _tenant("tenant-with-dots", "search.team", hint="try `search-team`"),
    _tenant("tenant-trailing-dash", "search-", hint="try `search`"),
    _key_case(
        "deployment-starts-with-digit",
        DEPLOYMENTS_END,
        "\n" + NEW_DEPLOYMENT.format(name="7up") + DEPLOYMENTS_END,
        "7up",
        "MLS202",
        message="RFC 1035",
    ),
    _key_case(
        "parameter-with-dash",
        "      corpus_uri: {type",
        "      corpus-uri: {type",
        "corpus-uri",
        "MLS201",
        hint="try `corpus_uri`",
        message="lower-case identifier",
    ),
    _key_case(
        "output-with-capital",
        "outputs: {features: Dataset}",
        "outputs: {Features: Dataset}",
        "Features",
        "MLS201",
        marker="{Features: Dataset}",
    ),
    _key_case(
        "monitor-too-long-for-drift-cronjob",
        MONITOR,
        f"  {TOO_LONG_MONITOR}:\n",
        TOO_LONG_MONITOR,
        "MLS202",
        message=f"{TOO_LONG_MONITOR}-drift` is over {CRONJOB_NAME_MAX} characters",
    ),
    _key_case(
        "pool-with-capital",
        "  l4-shared:\n    product",
        "  L4-shared:\n    product",
        "L4-shared",
        "MLS201",
        also=["MLS302"],  # tenant fraud still asks for l4-shared
        hint="try `l4-shared`",
    ),
    case(
        "platform-name-with-space",
        METADATA_NAME,
        "MLS201",
        position(METADATA_NAME, "name: Acme ML", at="Acme ML"),
        hint="try `acme-ml`",
    ),
]


@pytest.mark.parametrize("spec", NAME_CASES)
def test_invalid_name_is_refused_at_its_key_and_the_tree_is_kept(
    spec: Case, compile_rejects: Rejects
) -> None:
    compile_rejects(spec)


def test_monitor_name_at_the_cronjob_limit_is_accepted(tmp_path: Path) -> None:
    name = _monitor_name(CRONJOB_NAME_MAX - len("-drift"))
    text = spec_with(replace=[(MONITOR, f"  {name}:\n")])
    outcome = run_cli("validate", write_spec(tmp_path, text), "--format", "json")
    assert_no_crash(outcome)
    assert outcome.exit_code == 0, outcome.describe()


def test_name_error_names_the_path_and_the_rule(validate_rejects: Rejects) -> None:
    spec = NAME_CASES[0].values[0]
    found = validate_rejects(spec)
    assert found["message"].startswith("tenants.Fraud_Team: name 'Fraud_Team' must consist")
    assert found["pointer"] == "/tenants/Fraud_Team"
