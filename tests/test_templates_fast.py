"""Simple template strings render without Jinja, exactly as Jinja renders them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec.spec.source import SourceMap
from mlspec.spec.templates import _WHOLE_VARIABLE, _Expansion, _render_simple
from tests.conftest import modules_loaded_by_validate

_NAMES = ["x", "y", "version", "n", "missing", "_x", "X1_", "true", "None", "not", "range"]
_NAMES += ["self", "loop", "params", "inputs"]
_VALUES = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["{{ x }}", "a\r\nb", "é😀", "", "True"]),
    st.integers(),
    st.sampled_from([10**30, -0, 7]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e20, 1e-7, -0.0, 0.1, 2.5]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["a"]), st.integers(), max_size=1),
)
_SPACES = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "-", "- ", "+"])
_TARGETS = st.one_of(
    st.sampled_from(_NAMES),
    st.builds(
        "{}.{}".format,
        st.sampled_from(["params", "inputs", "outputs", "x", "params "]),
        st.sampled_from(["data_uri", "m", "_x", "if", "true", "a.b", "x['a']"]),
    ),
    st.sampled_from(["x|upper", "x | lower", "n * 2", '"lit"', "1", "x ~ y", "{ x }"]),
)
_EXPRESSIONS = st.builds("{{{{{}{}{}}}}}".format, _SPACES, _TARGETS, _SPACES)
_TEXTS = st.sampled_from(["{", "}", "}}", "{{", "{%", "{#", "#}", "%}", "a", " ", "\n", "\r\n"])
_FRAGMENTS = st.one_of(
    _EXPRESSIONS,
    _TEXTS,
    st.sampled_from(["\r", "é", "😀", "{x}", "a}}b", "{{{ x }}", "img:", "--out"]),
    st.text(max_size=3),
)
_TEMPLATES = st.lists(_FRAGMENTS, min_size=1, max_size=6).map("".join)


def _render(text: str, values: dict[str, Any], jinja: bool) -> tuple[Any, set[str], list[Any]]:
    expansion = _Expansion("p", "t", values, SourceMap())
    if jinja:
        rendered = expansion._render_with_jinja(text, "/templates/t/steps/s/image")
    else:
        rendered = expansion._render_string(text, "/templates/t/steps/s/image")
    return rendered, expansion.used, expansion.diagnostics


@settings(max_examples=1000, deadline=None)
@given(_TEMPLATES, st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=6))
def test_simple_strings_render_as_jinja_renders_them(text: str, values: dict[str, Any]) -> None:
    simple = _render_simple(text, values)
    if simple is not None:
        assert _render(text, values, jinja=True) == (simple[0], set(simple[1]), [])
    whole = _WHOLE_VARIABLE.match(text)
    if whole and whole.group(1) in values:
        return  # `count: "{{ gpus }}"`: the value itself, with its type (not Jinja's text)
    assert _render(text, values, jinja=False) == _render(text, values, jinja=True)


_PLAIN_VALUES = st.one_of(
    st.text(max_size=6),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
_SIMPLE_EXPRESSIONS = st.builds(
    "{{{{{}{}{}}}}}".format,
    st.sampled_from(["", " ", "\t", "\n"]),
    st.sampled_from(["x", "y", "version", "params.a", "inputs.model", "outputs.m"]),
    st.sampled_from(["", " ", "  \n"]),
)
_MOSTLY_SIMPLE = st.lists(
    st.one_of(_SIMPLE_EXPRESSIONS, st.text(alphabet="{}ab é\n-:%#", max_size=4)),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_MOSTLY_SIMPLE, st.dictionaries(st.sampled_from(["x", "y", "version"]), _PLAIN_VALUES))
def test_mostly_simple_strings_render_as_jinja_renders_them(
    text: str, values: dict[str, Any]
) -> None:
    whole = _WHOLE_VARIABLE.match(text)
    if not (whole and whole.group(1) in values):
        assert _render(text, values, jinja=False) == _render(text, values, jinja=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("img:{{ version }}", "img:1.0.0"),
        ("{{version}}-{{ n }}", "1.0.0-3"),
        ("{{ params.data_uri }}", "{{ params.data_uri }}"),
        ("--in={{inputs.model}}/{{ outputs.m }}\n", "--in={{ inputs.model }}/{{ outputs.m }}\n"),
        ("{x}", "{x}"),
        ("a}}b {{ version }}", "a}}b 1.0.0"),
        ("{{ version }}}}", "1.0.0}}"),
        ("é {{ f }} {{ b }}", "é 1e+20 True"),
        ("{{\tversion\n}}", "1.0.0"),
    ],
)
def test_common_strings_take_the_fast_path(text: str, expected: str) -> None:
    values = {"version": "1.0.0", "n": 3, "f": 1e20, "b": True}
    assert _render_simple(text, values) is not None
    assert _render(text, values, jinja=False)[0] == expected
    assert _render(text, values, jinja=True)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "{{{ version }}",  # Jinja reads `{{` at the first brace
        "{{ params }}",  # the namespace itself
        "{{- version }}",  # whitespace control
        "{{ version -}}",
        "{{ version|upper }}",
        "{{ missing }}",  # undefined: Jinja's error
        "{{ nothing }}",  # None: Jinja's rendering
        "{{ items }}",  # a list
        "{{ params._secret }}",
        "{{ _version }}",
        "{{ true }}",  # a constant, not a name
        "{{ range }}",  # a global: Jinja does not count it as used
        "a\r\n{{ version }}",  # Jinja turns \r\n into \n
        "{# c #}{{ version }}",
        "{% if 1 %}x{% endif %}",
        "{{ version }}{{ version.upper }}",
    ],
)
def test_other_strings_are_left_to_jinja(text: str) -> None:
    values = {"version": "1", "nothing": None, "items": [1], "range": "r", "params": "p"}
    assert _render_simple(text, values) is None


def test_the_size_cap_holds_on_the_fast_path() -> None:
    values = {"big": "x" * 40_000}
    assert _render_simple("{{ big }}{{ big }}", values) is not None
    fast, jinja = (_render("{{ big }}{{ big }}", values, jinja=j) for j in (False, True))
    assert fast == jinja
    assert fast[0] == "{{ big }}{{ big }}" and [d.code for d in fast[2]] == ["MLS504"]


def test_jinja_globals_are_left_to_jinja() -> None:
    from jinja2.defaults import DEFAULT_NAMESPACE

    for name in DEFAULT_NAMESPACE:
        assert _render_simple("{{ %s }}" % name, {name: "v"}) is None  # noqa: UP031


def test_validating_the_reference_spec_does_not_import_jinja() -> None:
    assert modules_loaded_by_validate(["jinja2"]) == []


@pytest.mark.parametrize("text", ["{{ params }}", "x-{{ outputs }}", "{{ inputs | string }}"])
def test_a_namespace_alone_is_an_error_not_an_address(text: str) -> None:
    rendered, _, diagnostics = _render(text, {}, jinja=False)
    assert rendered == text
    assert [d.code for d in diagnostics] == ["MLS501"]
    assert "names no value" in diagnostics[0].message
