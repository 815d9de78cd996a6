"""Wrong shapes and types: unknown or missing fields, strict types, quantities (MLS1xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    Case,
    Loc,
    Rejects,
    assert_rejected,
    case,
    position,
    run_cli,
    spec_with,
    write_spec,
)


def _edit(old: str, new: str, at: str, marker: str | None = None) -> tuple[str, Loc]:
    """The reference spec with one edit, and where ``at`` is on the edited line."""
    text = spec_with(replace=[(old, new)])
    return text, position(text, marker or new.strip("\n").strip(), at=at)


def _case(case_id: str, old: str, new: str, code: str, at: str, **kwargs: Any) -> Any:
    text, where = _edit(old, new, at, kwargs.pop("marker", None))
    return case(case_id, text, code, where, **kwargs)


MISSING = spec_with(replace=[("    costCenter: CC-1042\n", "")])
SLO = "slo: {latencyP99: 150ms, errorRate: 1%}"
WITH = "with: {version: 1.4.2, gpu_pool: a100-80gb}"
WITH_FLOAT = _edit(WITH, "with: {version: 1.10, gpu_pool: a100-80gb}", at="1.10")
TIMEOUT = _edit("        timeout: 4h\n", "        timeout: 4 hours\n", at="4 hours")
CPU_TRUE = _edit("      cpu: 64\n", "      cpu: true\n", at="true")
PLAIN_WORD_FOR_INT = _edit(
    "    replicas: {min: 1, max: 4}\n", "    replicas: {min: 1, max: four}\n", at="four"
)

TYPE_CASES = [
    _case(
        "unknown-field",
        "      cpu: 64\n",
        "      cpu: 64\n      cpuu: 3\n",
        "MLS101",
        at="cpuu",
        marker="cpuu: 3",
        hint="did you mean `cpu`?",
        message="tenants.fraud.quota: unknown field `cpuu`",
    ),
    _case(
        "misspelled-required-field",
        "    gpusPerNode: 4\n",
        "    gpuPerNode: 4\n",
        "MLS101",
        at="gpuPerNode",
        also=["MLS102"],  # the real name is then missing, too
        hint="did you mean `gpusPerNode`?",
    ),
    case(
        "missing-required-field",
        MISSING,
        "MLS102",
        position(MISSING, "  fraud:", at="fraud", after="tenants:"),
        message="tenants.fraud: missing required field `costCenter`",
    ),
    _case(
        "quoted-integer",
        "    nodes: 4\n",
        '    nodes: "4"\n',
        "MLS103",
        at='"4"',
        marker='nodes: "4"',
        hint="remove the quotes",
        message="gpuPools.a100-80gb.nodes",
    ),
    _case(
        "string-for-list",
        "    owners: [alice@acme.example]\n",
        "    owners: alice@acme.example\n",
        "MLS103",
        at="alice",
        message="tenants.fraud.owners",
    ),
    _case(
        "list-for-section",
        "registry:\n  mlflow:\n    trackingUri: https://mlflow.acme.example\n",
        "registry: [mlflow]\n",
        "MLS103",
        at="[",
        message="registry",
    ),
    _case(
        "float-for-string",
        "  branch: main\n",
        "  branch: 1.10\n",
        "MLS103",
        at="1.10",
        hint='quote it: "1.10"',
    ),
    _case(
        "memory-16GB",
        "      memory: 256Gi\n",
        "      memory: 16GB\n",
        "MLS105",
        at="16GB",
        message='invalid memory quantity "16GB"',
    ),
    case("timeout-4-hours", TIMEOUT[0], "MLS105", TIMEOUT[1], message='did you mean "4h"?'),
    _case(
        "error-rate-150-percent",
        SLO,
        "slo: {latencyP99: 150ms, errorRate: 150%}",
        "MLS105",
        at="150%",
        message="must be between 0% and 100%",
    ),
    _case(
        "latency-fast",
        SLO,
        "slo: {latencyP99: fast, errorRate: 1%}",
        "MLS105",
        at="fast",
        message='invalid duration "fast"',
    ),
    _case(
        "engine-argo",
        "  engine: argocd ",
        "  engine: argo ",
        "MLS104",
        at="argo",
        marker="engine: argo ",
        hint="did you mean `argocd`?",
    ),
    _case(
        "framework-xgb",
        "    framework: xgboost\n",
        "    framework: xgb\n",
        "MLS104",
        at="xgb",
        hint="did you mean `xgboost`?",
    ),
    _case(
        "api-version",
        "apiVersion: mlspec.dev/v1alpha1\n",
        "apiVersion: mlspec.dev/v1\n",
        "MLS104",
        at="mlspec.dev/v1",
        message="apiVersion",
    ),
    case(
        "with-float-1.10",
        WITH_FLOAT[0],
        "MLS103",
        WITH_FLOAT[1],
        message="pipelines.fraud-train.with.version",
    ),
    _case(
        "cron-minute-61",
        '    schedule: "0 3 * * *"\n',
        '    schedule: "61 * * * *"\n',
        "MLS105",
        at='"61',
        message="minute field '61'",
    ),
    _case(
        "cron-four-fields",
        '      schedule: "*/30 * * * *"\n',
        '      schedule: "*/30 * * *"\n',
        "MLS105",
        at='"*/30',
        message="expected 5 fields",
    ),
    _case(
        "retries-over-10",
        "        retries: 2\n",
        "        retries: 11\n",
        "MLS104",
        at="11",
        message="retries",
    ),
    _case(
        "quoted-version-number",
        "    version: 3\n",
        '    version: "3"\n',
        "MLS105",
        at='"3"',
        message="write a version number unquoted",
    ),
    case(
        "plain-word-for-integer",
        PLAIN_WORD_FOR_INT[0],
        "MLS103",
        PLAIN_WORD_FOR_INT[1],
        message="deployments.search-reranker.replicas.max",
    ),
]


@pytest.mark.parametrize("spec", TYPE_CASES)
def test_wrong_type_is_refused_at_the_value_and_the_tree_is_kept(
    spec: Case, compile_rejects: Rejects
) -> None:
    compile_rejects(spec)


def test_timeout_in_a_template_step_is_located_at_the_template_line(
    validate_rejects: Rejects,
) -> None:
    text, where = TIMEOUT
    assert where.line > text.split("\n").index("templates:")
    found = validate_rejects(Case(text, "MLS105", where))
    assert found["pointer"] == "/pipelines/fraud-train/steps/train/timeout"


def test_boolean_for_cpu_is_a_type_error(validate_rejects: Rejects) -> None:
    text, where = CPU_TRUE
    validate_rejects(Case(text, "MLS103", where))


def test_float_in_with_has_a_quote_it_hint(validate_rejects: Rejects) -> None:
    text, where = WITH_FLOAT
    validate_rejects(Case(text, "MLS103", where, hint='quote it: "1.10"'))


def test_plain_word_for_an_integer_does_not_say_remove_the_quotes(
    validate_rejects: Rejects,
) -> None:
    text, where = PLAIN_WORD_FOR_INT
    found = validate_rejects(Case(text, "MLS103", where))
    assert "quotes" not in (found["hint"] or "")


ESCAPE = _edit("  engine: argocd ", '  engine: "argo\\e[2J" ', at='"argo', marker="engine: ")


def test_terminal_escape_in_a_value_is_not_echoed_raw(tmp_path: Path) -> None:
    text, where = ESCAPE
    assert "\x1b" not in text  # the YAML escape \e, decoded by the parser
    path = write_spec(tmp_path, text)
    found = assert_rejected(
        run_cli("validate", path, "--format", "json"), str(path), "MLS104", where
    )
    assert "\x1b" not in found["message"]
    assert "x1b[2J" in found["message"]
    plain = run_cli("validate", path)
    assert plain.exit_code == 1
    assert "\x1b" not in plain.stdout + plain.stderr
