"""Pipeline templates: undefined values, statements, sandbox escapes, bombs (MLS5xx)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    Case,
    RealProcesses,
    Rejects,
    assert_no_crash,
    assert_rejected,
    case,
    in_real_process,
    position,
    run_cli,
    spec_with,
    write_spec,
)

PREP_IMAGE = 'image: "ghcr.io/acme/tabular-prep:{{ version }}"'
PREP_COMMAND = "command: [python, -m, tabular.prep]"
WITH = "with: {version: 1.4.2, gpu_pool: a100-80gb}"
PIPELINE = "(used by pipeline fraud-train)"


def _command(expr: str) -> tuple[str, Any]:
    """The template step `prepare` with ``expr`` (a quoted YAML string) as a command item."""
    text = spec_with(replace=[(PREP_COMMAND, f"command: [python, -m, {expr}]")])
    return text, position(text, f"command: [python, -m, {expr}]", at=expr)


def _command_case(case_id: str, expr: str, code: str, **kwargs: Any) -> Any:
    text, where = _command(expr)
    return case(case_id, text, code, where, **kwargs)


def _image(tag: str) -> tuple[str, Any]:
    new = f'image: "ghcr.io/acme/tabular-prep:{tag}"'
    text = spec_with(replace=[(PREP_IMAGE, new)])
    return text, position(text, new, at='"ghcr.io')


VERSOIN = _image("{{ versoin }}")
SYNTAX = _image("{{ version ")
UNDEFINED = _image("{{ release_tag }}")
CPU_FROM_VERSION = spec_with(
    replace=[
        (
            "resources: {cpu: 4, memory: 16Gi}\n      train:",
            'resources: {cpu: "{{ version }}", memory: 16Gi}\n      train:',
        )
    ]
)
UNUSED_TYPO = spec_with(replace=[(WITH, WITH[:-1] + ", gpu_pol: a100-80gb}")])
UNUSED = spec_with(replace=[(WITH, WITH[:-1] + ", owner: fraud}")])
WITH_WITHOUT_TEMPLATE = spec_with(
    replace=[
        ("    tenant: search\n    schedule", "    tenant: search\n    with: {a: b}\n    schedule")
    ]
)

TEMPLATE_CASES = [
    case(
        "undefined-versoin",
        VERSOIN[0],
        "MLS502",
        VERSOIN[1],
        hint="did you mean `version`?",
        message=f"template tabular-train {PIPELINE}: 'versoin' is undefined",
    ),
    case(
        "undefined-far-from-any-value",
        UNDEFINED[0],
        "MLS502",
        UNDEFINED[1],
        hint="add `release_tag` to `with:` of pipeline fraud-train",
    ),
    case(
        "unused-with-key-typo",
        UNUSED_TYPO,
        "MLS503",
        position(UNUSED_TYPO, WITH[:-1], at="gpu_pol:"),
        hint="did you mean `gpu_pool`?",
        message="`gpu_pol` is not used by template tabular-train",
    ),
    case(
        "unused-with-key",
        UNUSED,
        "MLS503",
        position(UNUSED, WITH[:-1], at="owner"),
        hint="remove it",
    ),
    case(
        "with-without-template",
        WITH_WITHOUT_TEMPLATE,
        "MLS503",
        position(WITH_WITHOUT_TEMPLATE, "    with: {a: b}", at="with"),
        message="`with:` needs a `template:`",
    ),
    case(
        "syntax-error",
        SYNTAX[0],
        "MLS501",
        SYNTAX[1],
        message=f"{PIPELINE}: template syntax error",
    ),
    _command_case(
        "for-statement",
        '"{% for i in range(3) %}x{% endfor %}"',
        "MLS501",
        message="only {{ expressions }} are allowed",
    ),
    _command_case(
        "sandbox-escape-mro",
        "\"{{ ''.__class__.__mro__ }}\"",
        "MLS504",
        message="unsafe template expression",
    ),
    _command_case(
        "sandbox-escape-globals",
        '"{{ lipsum.__globals__ }}"',
        "MLS504",
        message="unsafe template expression",
    ),
    _command_case(
        "string-bomb-multiply", "\"{{ 'a' * 10000000 }}\"", "MLS504", message="too large"
    ),
    _command_case("number-bomb-power", '"{{ 10 ** 100000 }}"', "MLS504", message="too large"),
    _command_case(
        "string-bomb-concatenate",
        "\"{{ ('a' * 60000) ~ ('b' * 60000) }}\"",
        "MLS504",
        message="a rendered value over",
    ),
    _command_case(
        "range-bomb", '"{{ range(10000000) | list | length }}"', "MLS501", message="Range"
    ),
    _command_case("division-by-zero", '"{{ 1 // 0 }}"', "MLS501", message="division"),
    case(
        "rendered-value-of-the-wrong-type",
        CPU_FROM_VERSION,
        "MLS105",
        position(CPU_FROM_VERSION, 'cpu: "{{ version }}"', at='"{{ version }}"'),
        message='pipelines.fraud-train.steps.prepare.resources.cpu: invalid cpu quantity "1.4.2"',
    ),
]


@pytest.mark.parametrize("spec", TEMPLATE_CASES)
def test_template_problem_is_located_in_the_template_and_the_tree_is_kept(
    spec: Case, compile_rejects: Rejects
) -> None:
    compile_rejects(spec)


def test_undefined_value_points_at_the_template_line_not_the_pipeline(
    validate_rejects: Rejects,
) -> None:
    text, where = VERSOIN
    templates = position(text, "templates:")
    pipelines = position(text, "pipelines:")
    assert templates.line < where.line < pipelines.line
    found = validate_rejects(Case(text, "MLS502", where))
    assert found["pointer"] == "/templates/tabular-train/steps/prepare/image"


def test_template_error_is_reported_once(tmp_path: Path) -> None:
    text, where = VERSOIN
    outcome = run_cli("validate", write_spec(tmp_path, text), "--format", "json")
    assert_no_crash(outcome)
    assert [(d["code"], d["line"], d["column"]) for d in outcome.errors] == [
        ("MLS502", where.line, where.col)
    ]


PRIVATE_ATTRIBUTE = _command('"{{ params._secret }}"')
PRIVATE_ITEM = _command("\"{{ params['__class__'] }}\"")


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(PRIVATE_ATTRIBUTE, id="attribute"),
        pytest.param(PRIVATE_ITEM, id="item"),
    ],
)
def test_private_attribute_of_a_placeholder_namespace_is_unsafe(
    spec: tuple[str, Any], compile_rejects: Rejects
) -> None:
    text, where = spec
    compile_rejects(Case(text, "MLS504", where))


SANDBOX_ESCAPE = _command("\"{{ ''.__class__.__mro__[1].__subclasses__() }}\"")
HUGE_PAD = _command("\"{{ 'x' | center(100000000000) }}\"")
REAL_PROCESS_CASES = {
    "sandbox-escape": SANDBOX_ESCAPE,
    "private-placeholder-attribute": PRIVATE_ATTRIBUTE,
    "padding-filter-bomb": HUGE_PAD,
}
for _name, (_text, _) in REAL_PROCESS_CASES.items():
    # A 2 GB address-space cap: the padding bomb fails fast wherever the suite runs.
    in_real_process(f"templates/{_name}", _text, memory_limit=2 << 30)


@pytest.mark.parametrize(
    "name",
    [
        "sandbox-escape",
        # Regression: AttributeError from the placeholder namespace escaped as a traceback.
        "private-placeholder-attribute",
        # Regression: MemoryError (exit 2, MLS904) before filters were size-safe.
        "padding-filter-bomb",
    ],
)
def test_real_process_exits_1_on_a_hostile_template(
    name: str, real_processes: RealProcesses
) -> None:
    path, outcome = real_processes.outcome(f"templates/{name}")
    found = assert_rejected(outcome, path, "MLS504", REAL_PROCESS_CASES[name][1])
    assert "unsafe" in found["message"] or "too large" in found["message"]
    assert outcome.stderr == ""


TOWER = _command('"{{ ((10 ** 64) ** 64) ** 64 }}"')


def test_power_tower_is_an_unsafe_expression(compile_rejects: Rejects) -> None:
    text, where = TOWER
    compile_rejects(Case(text, "MLS504", where))
