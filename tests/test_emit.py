"""The YAML emitter: exact style, and data that every YAML reader reads back unchanged."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from mlspec.output.emit import dump_json, dump_yaml, is_plain_safe

# Strings YAML 1.1 (PyYAML, Go yaml.v2) or 1.2 readers resolve to something else, or
# that break the structure when written plain.
# fmt: off
AMBIGUOUS = [
    "yes", "Yes", "YES", "no", "No", "NO", "y", "Y", "n", "N", "on", "On", "ON", "off",
    "OFF", "true", "False", "TRUE", "null", "Null", "NULL", "~", "", "0", "-1", "+1",
    "0755", "0o17", "0x1F", "0X1f", "0b101", "1_000", "0_x1", "1.10", "1.", ".5", "1e3",
    "1E-3", "1.0e+16", "-.inf", ".inf", ".Inf", ".NaN", ".nan", "NaN", "inf", "-inf",
    "2024-01-01", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5",
    "1:20", "190:20:30.15", "<<", "=", "- a", "-", "---", "...", "a: b", "a:", "#x",
    "a #b", "?", "? a", ":", "[a]", "{a}", "&a", "*a", "!a", "!!str", "|", ">", "'a'",
    '"a"', "%a", "@a", "`a", ",a", " lead", "trail ", "tab\tx", "line\nbreak",
    "\u2028", "x\u2029y", "nel\x85", "bom\ufeff", "del\x7f", "é", "\x00", "\x1b",
    "1.2.3", "10.0.0.1", "_",
]
SAFE_PLAIN = [
    "v1", "apps/v1", "Namespace", "fraud", "nginx:1.25", "app.kubernetes.io/name",
    "http://example.com/a", "--port=8080", "-Xmx4g", "100m", "1Gi", "500Mi", "a b c",
    "/var/lib", "_private", "x-1.2.3", "a:b", "user@example.com",
]
# fmt: on

ruamel_safe = YAML(typ="safe", pure=True)


def load_yaml11(text: str) -> object:
    return yaml.safe_load(text)


def load_yaml12(text: str) -> object:
    return ruamel_safe.load(io.StringIO(text))


def typed(obj: object) -> object:
    """Tag every value with its type so that ``True == 1 == 1.0`` cannot hide a bug."""
    if isinstance(obj, dict):
        return ("dict", {key: typed(value) for key, value in obj.items()})
    if isinstance(obj, list):
        return ("list", [typed(item) for item in obj])
    if isinstance(obj, float):
        return ("float", obj, math.copysign(1.0, obj))
    return (type(obj).__name__, obj)


tricky_text = st.one_of(
    st.sampled_from(AMBIGUOUS + SAFE_PLAIN),
    st.text(),
    st.text(alphabet=" \t\n\r-?:,[]{}#&*!|>'\"%@`~=<.0123456789eExXoObB_+yYnN"),
    st.lists(st.sampled_from(AMBIGUOUS + SAFE_PLAIN + [" ", "\n", ": ", " #"])).map("".join),
    st.text(alphabet=st.characters(codec="utf-8")),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    tricky_text,
)
json_like = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(tricky_text, children, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_like)
def test_round_trips_through_yaml_1_1_reader(data: Any) -> None:
    assert typed(load_yaml11(dump_yaml(data))) == typed(data)


@settings(max_examples=400, deadline=None)
@given(json_like)
def test_round_trips_through_yaml_1_2_reader(data: Any) -> None:
    assert typed(load_yaml12(dump_yaml(data))) == typed(data)


@given(json_like)
def test_output_is_deterministic_and_ends_with_one_newline(data: Any) -> None:
    text = dump_yaml(data)
    assert text == dump_yaml(data)
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


@pytest.mark.parametrize("text", AMBIGUOUS)
def test_ambiguous_string_is_quoted_and_keeps_its_type(text: str) -> None:
    out = dump_yaml({text: text})
    assert out.startswith('"')
    assert load_yaml11(out) == {text: text}
    assert load_yaml12(out) == {text: text}


@pytest.mark.parametrize("text", SAFE_PLAIN)
def test_unambiguous_string_is_plain(text: str) -> None:
    assert is_plain_safe(text)
    assert dump_yaml({"k": text}) == f"k: {text}\n"


KUBERNETES_OBJECT = {
    "kind": "Deployment",
    "apiVersion": "apps/v1",
    "metadata": {
        "name": "fraud-scorer",
        "namespace": "fraud",
        "labels": {"app.kubernetes.io/name": "fraud-scorer", "tier": "on"},
        "annotations": {},
    },
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "scorer",
                        "image": "registry.example.com/fraud:1.10",
                        "args": ["--port=8080", "--verbose"],
                        "env": [{"name": "THRESHOLD", "value": "0.75"}],
                        "ports": [{"containerPort": 8080}],
                        "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                        "volumeMounts": [],
                    }
                ],
                "nodeSelector": {"gpu": "yes"},
            }
        },
    },
}

KUBERNETES_YAML = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  annotations: {}
  labels:
    app.kubernetes.io/name: fraud-scorer
    tier: "on"
  name: fraud-scorer
  namespace: fraud
spec:
  replicas: 2
  template:
    spec:
      containers:
      - args:
        - --port=8080
        - --verbose
        env:
        - name: THRESHOLD
          value: "0.75"
        image: registry.example.com/fraud:1.10
        name: scorer
        ports:
        - containerPort: 8080
        resources:
          limits:
            cpu: 500m
            memory: 1Gi
        volumeMounts: []
      nodeSelector:
        gpu: "yes"
"""


def test_kubernetes_object_style_is_pinned() -> None:
    assert dump_yaml(KUBERNETES_OBJECT) == KUBERNETES_YAML


def test_keys_are_sorted_by_plain_string_order() -> None:
    assert dump_yaml({"b": 1, "B": 2, "a": 3, "_a": 4}) == "B: 2\n_a: 4\na: 3\nb: 1\n"


def test_shared_object_is_emitted_twice_without_anchors() -> None:
    shared = {"x": [1]}
    assert dump_yaml({"a": shared, "b": shared}) == "a:\n  x:\n  - 1\nb:\n  x:\n  - 1\n"


def test_nested_sequences_and_empty_collections_are_compact() -> None:
    data = [[1, [2]], {}, [], {"a": {}}, [{"b": None}]]
    assert dump_yaml(data) == "- - 1\n  - - 2\n- {}\n- []\n- a: {}\n- - b: null\n"


def test_top_level_scalars() -> None:
    assert dump_yaml(None) == "null\n"
    assert dump_yaml("yes") == '"yes"\n'
    assert dump_yaml({}) == "{}\n"
    assert dump_yaml([]) == "[]\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (1e16, "1.0e+16"),
        (1.5e-7, "1.5e-07"),
        (5e-324, "5.0e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
    ],
)
def test_float_reads_back_as_float_in_both_yaml_versions(value: float, text: str) -> None:
    assert dump_yaml(value) == text + "\n"
    assert typed(load_yaml11(text)) == typed(value)
    assert typed(load_yaml12(text)) == typed(value)


def test_bools_ints_and_none() -> None:
    assert dump_yaml([True, False, 0, -12, 10**30, None]) == (
        "- true\n- false\n- 0\n- -12\n- 1000000000000000000000000000000\n- null\n"
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_is_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        dump_yaml({"a": [value]})


@pytest.mark.parametrize(
    ("value", "name"),
    [((1, 2), "tuple"), ({1}, "set"), (b"x", "bytes"), (object(), "object")],
)
def test_unsupported_type_is_rejected_by_name(value: object, name: str) -> None:
    with pytest.raises(TypeError, match=name):
        dump_yaml({"a": value})


def test_non_string_key_is_rejected() -> None:
    with pytest.raises(TypeError, match="key of type int"):
        dump_yaml({1: "a"})


def test_cyclic_data_is_a_value_error() -> None:
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="cyclic"):
        dump_yaml(cycle)


def test_multiline_strings_use_literal_blocks_when_exact() -> None:
    data = {"clip": "a\nb\n", "strip": "a\n\nb", "script": "#!/bin/sh\necho 'hi: there'\n"}
    assert dump_yaml(data) == (
        "clip: |\n  a\n  b\nscript: |\n  #!/bin/sh\n  echo 'hi: there'\nstrip: |-\n  a\n\n  b\n"
    )


@pytest.mark.parametrize(
    "text",
    ["a\nb\n\n", "trailing \nspace", " indented\nfirst", "\n\n", "tab\there\n", "é\n"],
)
def test_multiline_strings_fall_back_to_double_quotes(text: str) -> None:
    out = dump_yaml({"k": text})
    assert out.startswith('k: "')
    assert load_yaml11(out) == {"k": text}
    assert load_yaml12(out) == {"k": text}


def test_line_separators_and_controls_are_escaped() -> None:
    assert dump_yaml("a\u2028b\x85c\x7fd\x00") == '"a\\u2028b\\u0085c\\u007fd\\u0000"\n'


def test_key_longer_than_yaml_implicit_key_limit_uses_explicit_form() -> None:
    key = "k" * 1500
    data = {key: {"a": [1]}, "b": [key]}
    out = dump_yaml(data)
    assert out.startswith(f"b:\n- {key}\n? {key}\n:\n  a:\n  - 1\n")
    assert load_yaml11(out) == data
    assert load_yaml12(out) == data


def test_dump_json_is_canonical() -> None:
    assert (
        dump_json({"b": [1, "é"], "a": None})
        == '{\n  "a": null,\n  "b": [\n    1,\n    "é"\n  ]\n}\n'
    )
    with pytest.raises(ValueError):
        dump_json({"a": math.nan})


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON_DATA = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(_JSON_DATA)
@settings(max_examples=400, deadline=None)
def test_dump_json_is_the_json_module_text(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    assert dump_json(value) == expected + "\n"


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key"},
        {"a": (1, 2)},
        {"nested": {"t": ("tuple",)}},
        [True, 1, 1.5, None, "\u2028\x7f\x00\ud800"],
    ],
)
def test_dump_json_leaves_anything_else_to_the_json_module(value: Any) -> None:
    expected = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    assert dump_json(value) == expected + "\n"


@pytest.mark.parametrize("value", [math.nan, [math.inf], {"x": -math.inf}])
def test_dump_json_refuses_non_finite_floats(value: Any) -> None:
    with pytest.raises(ValueError):
        dump_json(value)
