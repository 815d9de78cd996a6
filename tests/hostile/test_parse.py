"""Hostile YAML: what the strict loader must refuse, each at its own line:col (MLS0xx).

The loader has two parsers: libyaml's (fast) and, whenever libyaml complains about the
text, ruamel's pure-Python one. Every case runs on a small spec that libyaml accepts and
on the same spec plus one line only the pure parser accepts (a plain scalar that starts
with `:` inside a flow sequence), so both paths are held to the same answer.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from mlspec.spec import parsers
from mlspec.spec.loader import Limits, load_text

from .conftest import (
    Case,
    Loc,
    RealProcesses,
    Rejects,
    assert_no_crash,
    assert_rejected,
    case,
    in_real_process,
    position,
    reference_text,
    run_cli,
    spec_with,
    write_spec,
)

LIMITS = Limits()
# A small valid spec: the loader's verdict does not depend on the rest of the reference
# spec, and a short file keeps these cases fast. test_base_spec_is_valid keeps it honest.
TINY = """\
apiVersion: mlspec.dev/v1alpha1
kind: Platform
metadata:
  name: tiny
  labels:
    org: acme
gitops:
  engine: argocd
  repoURL: https://git.acme.example/platform/ml-gitops.git
  branch: main
gpuPools:
  a100-80gb:
    product: NVIDIA-A100-SXM4-80GB
    nodes: 4
    gpusPerNode: 8
    costPerGpuHour: 2.93
tenants:
  fraud:
    displayName: Fraud Detection
    owners: [alice@acme.example]
    costCenter: CC-1042
    quota: {cpu: 64, memory: 256Gi, gpu: {a100-80gb: 8}}
"""
# libyaml refuses a plain scalar that starts with `:` in a flow sequence (`[:verbose]`;
# YAML 1.2 allows it): the pure parser decides.
TINY_PURE = TINY + (
    'pipelines: {nightly: {tenant: fraud, steps: {train: {image: "busybox:1.36", '
    "args: [:verbose]}}}}\n"
)
BASES = {"libyaml": TINY, "pure": TINY_PURE}

BRANCH = "  branch: main\n"
LABEL = "    org: acme\n"
DISPLAY = "    displayName: Fraud Detection\n"
BILLION_LAUGHS = "".join(
    [
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n',
        *(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
            for i in range(8)
        ),
    ]
)
LIST_DOC = "# a platform spec\n- apiVersion: mlspec.dev/v1alpha1\n- kind: Platform\n"


def _cases(base: str, parser: str) -> list[Any]:
    """Every hostile-YAML case, built from ``base``; ids end with the parser's name."""

    def edit(old: str, new: str) -> str:
        return spec_with(replace=[(old, new)], base=base)

    def branch(case_id: str, value: str, code: str, **kwargs: Any) -> Any:
        text = edit(BRANCH, f"  branch: {value}\n")
        where = position(text, f"  branch: {value}", at=value)
        return case(f"{case_id}-{parser}", text, code, where, **kwargs)

    def yaml11(case_id: str, value: str, why: str) -> Any:
        return branch(case_id, value, "MLS013", message=why, hint=f'"{value}"')

    def at(case_id: str, text: str, code: str, marker: str, spot: str, **kwargs: Any) -> Any:
        return case(f"{case_id}-{parser}", text, code, position(text, marker, at=spot), **kwargs)

    duplicate = edit(BRANCH, BRANCH + "  branch: dev\n")
    merge = edit(LABEL, LABEL + "    <<: {team: fraud}\n")
    bel = edit(DISPLAY, "    displayName: Fraud\aDetection\n")
    nul = edit(DISPLAY, "    displayName: Fraud\0Detection\n")
    latin1 = edit(DISPLAY, "    displayName: Fraud Détection\n")
    overflow = edit("costPerGpuHour: 2.93", "costPerGpuHour: 1e999")
    big_int = edit("    nodes: 4\n", "    nodes: " + "9" * 5000 + "\n")
    # A flow sequence nested far deeper than the cap. `metadata.labels.org` is at level 3
    # (path metadata/labels/org) and each `[` goes one level deeper, so the first node over
    # the cap is the `[` at index max_depth - 2 of the run.
    deep_flow = edit(LABEL, "    org: " + "[" * 300 + "]" * 300 + "\n")
    first_bracket = position(deep_flow, "    org: [", at="[")
    # The same with block mappings: the mapping that starts at key k<i> is at level 3 + i.
    deep_block = edit(
        LABEL,
        "    org:\n" + "".join("  " * (i + 3) + f"k{i}:\n" for i in range(200)) + " " * 406 + "x\n",
    )
    deepest = f"k{LIMITS.max_depth - 2}"
    return [
        at("duplicate-key", duplicate, "MLS002", "  branch: dev", "branch"),
        branch("python-object-tag", "!!python/object:os.system main", "MLS003"),
        branch("ref-tag", "!Ref main", "MLS003", message="!Ref"),
        at("anchor", edit(LABEL, "    org: &org acme\n"), "MLS004", "org: &org", "&org"),
        at("alias", edit(LABEL, "    org: *org\n"), "MLS004", "org: *org", "*org"),
        at("merge-key", merge, "MLS004", "<<:", "<<"),
        at("collection-key", edit(LABEL, "    ? [a, b]\n    : acme\n"), "MLS009", "?", "["),
        at("boolean-key", edit(LABEL, "    true: acme\n"), "MLS009", "true:", "true"),
        at("second-document", base + "---\nkind: Platform\n", "MLS006", "---", "---"),
        at("bell-character", bel, "MLS008", "Fraud\a", "\a", message="U+0007"),
        at("nul-character", nul, "MLS008", "Fraud\0", "\0", message="U+0000"),
        case(
            f"latin-1-byte-{parser}",
            latin1.encode("latin-1"),
            "MLS007",
            position(latin1, "Fraud Détection", at="é"),
            message="0xe9",
        ),
        yaml11("yes", "yes", "boolean to YAML 1.1"),
        yaml11("no", "no", "boolean to YAML 1.1"),
        yaml11("on", "on", "boolean to YAML 1.1"),
        yaml11("octal-0755", "0755", "octal number to YAML 1.1"),
        yaml11("sexagesimal-1-20", "1:20", "number to YAML 1.1"),
        yaml11("date-2024-01-01", "2024-01-01", "timestamp to YAML 1.1"),
        at("infinity", edit("2.93", ".inf"), "MLS013", "costPerGpuHour", ".inf"),
        at("float-overflow-1e999", overflow, "MLS013", "costPerGpuHour", "1e999"),
        at("integer-of-5000-digits", big_int, "MLS013", "nodes: 999", "999", hint="quote it"),
        at(
            "mapping-value-in-scalar",
            edit(BRANCH, "  branch: main: extra\n"),
            "MLS001",
            "branch: main: extra",
            ": extra",  # the second `:`, not where the value starts
            message="mapping values are not allowed here",
        ),
        branch("reserved-character", "@main", "MLS001", message="'@'"),
        case(
            f"nesting-flow-{parser}",
            deep_flow,
            "MLS011",
            Loc(first_bracket.line, first_bracket.col + LIMITS.max_depth - 2),
        ),
        at("nesting-block", deep_block, "MLS011", f" {deepest}:", deepest),
        branch(
            "oversized-scalar",
            "x" * (LIMITS.max_scalar_chars + 1),
            "MLS012",
            message=f"over the limit of {LIMITS.max_scalar_chars}",
        ),
    ]


PARSE_CASES = [param for parser, base in BASES.items() for param in _cases(base, parser)]
PARSE_CASES += [
    case("empty-file", "", "MLS014", Loc(1, 1), message="empty"),
    case("comments-only", "# nothing here\n", "MLS014", Loc(1, 1), message="empty"),
    case("top-level-list", LIST_DOC, "MLS014", Loc(2, 1), message="must be a mapping"),
]


@pytest.mark.parametrize("text", [pytest.param(t, id=p) for p, t in BASES.items()])
def test_base_spec_is_valid(text: str, tmp_path: Path) -> None:
    outcome = run_cli("validate", write_spec(tmp_path, text), "--format", "json")
    assert_no_crash(outcome)
    assert outcome.exit_code == 0, outcome.describe()
    assert outcome.diagnostics == []


def test_pure_base_really_takes_the_pure_parser() -> None:
    list(parsers.fast_events(TINY))
    with pytest.raises(parsers.YamlSyntaxError, match="did not find expected node content"):
        list(parsers.fast_events(TINY_PURE))
    assert list(parsers.pure_events(TINY_PURE))


def test_libyaml_reads_a_colon_inside_a_flow_scalar() -> None:
    # The reference spec has `{default: s3://...}`: it must not need the slow parser.
    text = reference_text()
    assert "{default: s3://" in text
    assert list(parsers.fast_events(text)) == list(parsers.pure_events(text))


@pytest.mark.parametrize("spec", PARSE_CASES)
def test_hostile_yaml_is_refused_at_its_position_and_the_tree_is_kept(
    spec: Case, compile_rejects: Rejects
) -> None:
    compile_rejects(spec)


DUPLICATE = spec_with(replace=[(BRANCH, BRANCH + "  branch: dev\n")], base=TINY)
BIG_INT = spec_with(replace=[("    nodes: 4\n", "    nodes: " + "9" * 5000 + "\n")], base=TINY)


def test_duplicate_key_is_reported_at_second_key_and_names_the_first(
    validate_rejects: Rejects,
) -> None:
    first = position(DUPLICATE, BRANCH.rstrip("\n"), at="branch")
    found = validate_rejects(
        Case(DUPLICATE, "MLS002", position(DUPLICATE, "  branch: dev", at="branch"))
    )
    assert f"first defined at line {first.line}" in found["message"]
    assert found["related"] == [f"{found['file']}:{first.line}:{first.col}"]


def test_billion_laughs_is_refused_at_the_first_anchor_before_expansion(
    validate_rejects: Rejects,
) -> None:
    started = time.monotonic()
    validate_rejects(Case(BILLION_LAUGHS, "MLS004", Loc(1, 4)))
    assert time.monotonic() - started < 5


def test_file_over_the_size_cap_is_refused_before_parsing(compile_rejects: Rejects) -> None:
    padding = "#" * (LIMITS.max_bytes + 1 - len(TINY))
    compile_rejects(Case(TINY + padding, "MLS010", Loc(1, 1)))


DIRECTIVES = {"yaml": "%YAML 1.1\n---\n", "tag": "%TAG !acme! tag:acme.example,2024:\n---\n"}


# Regression: the pure-Python parser reported a directive at the `---` on line 2.
@pytest.mark.parametrize(
    "directive, base",
    [
        pytest.param(d, base, id=f"{name}-{parser}")
        for name, d in DIRECTIVES.items()
        for parser, base in [*BASES.items(), ("reference", reference_text())]
    ],
)
def test_directive_is_reported_at_the_directive_line(
    directive: str, base: str, compile_rejects: Rejects
) -> None:
    compile_rejects(Case(directive + base, "MLS005", Loc(1, 1)))


NODES_BOMB = "a: [" + "1, " * 20_000 + "1]\n"


def test_node_cap_stops_the_parser_before_the_whole_document_is_read() -> None:
    # Regression: libyaml's events were once collected in a list before any cap was checked
    # (a 20,001-node list under max_nodes=1000 peaked at ~7 MB, memory grew with the whole
    # document). Loader level, with a small cap: a CLI case over the real 5,000,000-node cap
    # would take minutes. The text is allocated before tracing starts.
    tracemalloc.start()
    try:
        loaded = load_text(NODES_BOMB, "bomb.yaml", Limits(max_nodes=1_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [d.code for d in loaded.diagnostics] == ["MLS010"]
    assert peak < 3_000_000, f"{peak / 1e6:.1f} MB to refuse a document over the node cap"


# --- the real process: exit codes as a shell or CI sees them ------------------------------

REAL_PROCESS_CASES = {
    "duplicate-key": Case(DUPLICATE, "MLS002", position(DUPLICATE, "  branch: dev", at="branch")),
    "billion-laughs": Case(BILLION_LAUGHS, "MLS004", Loc(1, 4)),
    "integer-of-5000-digits": Case(
        BIG_INT, "MLS013", position(BIG_INT, "    nodes: 999", at="999")
    ),
}
for _name, _spec in REAL_PROCESS_CASES.items():
    in_real_process(f"parse/{_name}", _spec.text)


@pytest.mark.parametrize("name", list(REAL_PROCESS_CASES))
def test_real_process_exits_1_on_hostile_yaml(name: str, real_processes: RealProcesses) -> None:
    spec = REAL_PROCESS_CASES[name]
    path, outcome = real_processes.outcome(f"parse/{name}")
    assert_rejected(outcome, path, spec.code, spec.where, spec.also)
    assert outcome.stderr == ""
