"""The strict loader: positions, YAML 1.2 resolution, and agreement with the emitter."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.output.emit import dump_yaml
from mlspec.spec.loader import Limits, load_text
from mlspec.spec.patch import apply_patch
from mlspec.spec.templates import expand_templates


def test_positions_of_keys_and_values_are_one_based() -> None:
    loaded = load_text("a:\n  bb: [1, x]\n", "f.yaml")
    assert loaded.diagnostics == []
    node = loaded.sources.get("/a/bb")
    assert node is not None and node.key is not None
    assert (node.key.line, node.key.col, node.value.line, node.value.col) == (2, 3, 2, 7)
    item = loaded.sources.get("/a/bb/1")
    assert item is not None and (item.value.line, item.value.col) == (2, 11)


def test_plain_scalars_resolve_by_yaml_1_2_core_schema() -> None:
    text = "a: 0o17\nb: 0x1f\nc: 1.5\nd: true\ne: ~\nf: 1.4.2\ng: '0755'\nh: -3\n"
    loaded = load_text(text, "f.yaml")
    assert loaded.data == {
        "a": 15,
        "b": 31,
        "c": 1.5,
        "d": True,
        "e": None,
        "f": "1.4.2",
        "g": "0755",
        "h": -3,
    }


def test_integer_keys_are_kept_as_their_text() -> None:
    loaded = load_text("versions:\n  7: {source: s3://x}\n", "f.yaml")
    assert loaded.data == {"versions": {"7": {"source": "s3://x"}}}


def test_float_keeps_its_source_text_for_hints() -> None:
    loaded = load_text("v: 1.10\n", "f.yaml")
    node = loaded.sources.get("/v")
    assert loaded.data == {"v": 1.1}
    assert node is not None and node.plain_text == "1.10"


def test_node_cap_stops_wide_documents_early() -> None:
    text = "a: [" + ", ".join(["1"] * 50) + "]\n"
    loaded = load_text(text, "f.yaml", Limits(max_nodes=20))
    assert [d.code for d in loaded.diagnostics] == ["MLS010"]


def test_merge_patch_locates_patched_values_at_the_patch() -> None:
    base = load_text("d:\n  a: 1\n  b: 2\np:\n  d:\n    a: 5\n    b: null\n", "f.yaml")
    assert base.data is not None
    data, sources = apply_patch(base.data, base.sources, base.data["p"], "/p")
    assert data["d"] == {"a": 5}
    node = sources.get("/d/a")
    assert node is not None and node.value.line == 6
    removed = sources.get("/d/b")  # kept, pointing at the patch's null
    assert removed is not None and removed.value.line == 7


def test_template_steps_point_at_the_template_lines() -> None:
    text = (
        "templates:\n"
        "  t:\n"
        "    steps:\n"
        "      s: {image: 'img:{{ tag }}', count: '{{ n }}'}\n"
        "pipelines:\n"
        "  p: {template: t, with: {tag: v1, n: 3}}\n"
    )
    loaded = load_text(text, "f.yaml")
    assert loaded.data is not None
    data, sources, problems = expand_templates(loaded.data, loaded.sources)
    assert problems == []
    assert data["pipelines"]["p"]["steps"] == {"s": {"image": "img:v1", "count": 3}}
    node = sources.get("/pipelines/p/steps/s/image")
    assert node is not None and node.value.line == 4


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["yes", "No", "on", "0755", "1.10", "2024-01-01", "1:20", "~", "<<", "- a"]),
)
_documents = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.recursive(
        _scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    ),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(_documents)
def test_what_the_emitter_writes_the_strict_loader_reads_back(data: dict[str, Any]) -> None:
    loaded = load_text(dump_yaml(data), "f.yaml")
    assert loaded.diagnostics == []
    assert loaded.data == data


# `[:x]` is YAML 1.2 that libyaml refuses: these texts take the pure-Python parser.
PURE_ONLY = "args: [:verbose]\n"


def test_folded_scalar_read_by_the_pure_parser_has_no_fold_marker() -> None:
    # Regression: ruamel's round-trip parser marked each fold of a `>` scalar with \a.
    loaded = load_text(PURE_ONLY + "note: >\n  two\n  lines\n", "f.yaml")
    assert loaded.diagnostics == []
    assert loaded.data == {"args": [":verbose"], "note": "two lines\n"}


def test_unknown_yaml_version_is_a_syntax_error_not_a_crash() -> None:
    # Regression: the pure parser asserted on `%YAML 1.3`, and the assertion escaped.
    loaded = load_text("%YAML 1.3\n---\n" + PURE_ONLY, "f.yaml")
    assert [(d.code, str(d.location)) for d in loaded.diagnostics] == [("MLS001", "f.yaml:1:1")]
