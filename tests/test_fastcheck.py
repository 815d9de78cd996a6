"""The fast schema interpreter agrees with jsonschema on Kubernetes schemas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec import api
from mlspec.output import gopatterns, kubeschema
from mlspec.output.fastcheck import FastValidator, UnsupportedSchemaError
from mlspec.spec.frontend import SpecFile
from mlspec.spec.loader import load_text
from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    compiled = api.compile_spec(SpecFile.read(EXAMPLE), ["prod"])
    assert compiled.ok
    found = []
    for path, content in sorted(compiled.files.items()):
        data = load_text(content.decode(), path).data
        if (
            data
            and "kustomize.config" not in data["apiVersion"]
            and "mlspec.dev" not in data["apiVersion"]
        ):
            found.append(data)
    return found


def _both(obj: dict[str, Any]) -> tuple[Any, Any]:
    schema = kubeschema._schema(obj["apiVersion"], obj["kind"]).validator
    assert isinstance(schema, FastValidator), f"{obj['kind']} fell back to jsonschema"
    slow = kubeschema._jsonschema_validator(schema.schema)
    return schema, slow


def _valid(validator: Any, obj: dict[str, Any]) -> bool:
    return next(iter(validator.iter_errors(obj)), None) is None


def _mutations(obj: dict[str, Any]) -> list[dict[str, Any]]:
    unknown = copy.deepcopy(obj)
    unknown["spec" if "spec" in obj else "metadata"]["tpyo"] = 1
    wrong_type = copy.deepcopy(obj)
    wrong_type["metadata"]["labels"] = ["not", "a", "map"]
    missing = copy.deepcopy(obj)
    del missing["apiVersion"]
    missing["metadata"]["name"] = 7
    return [unknown, wrong_type, missing]


def test_every_compiled_kind_uses_the_fast_validator_and_agrees(
    objects: list[dict[str, Any]],
) -> None:
    assert len({o["kind"] for o in objects}) >= 15
    for obj in objects:
        fast, slow = _both(obj)
        assert _valid(fast, obj) and _valid(slow, obj), obj["kind"]
        for mutated in _mutations(obj):
            assert not _valid(fast, mutated), obj["kind"]
            assert _valid(fast, mutated) == _valid(slow, mutated), obj["kind"]


def test_unknown_keywords_are_refused_not_skipped() -> None:
    with pytest.raises(UnsupportedSchemaError):
        FastValidator(
            {"type": "object", "dependentRequired": {"a": ["b"]}}, {}, lambda p: p.__contains__
        )


def test_bounds_enums_and_combinators_behave_like_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 3},
            "e": {"enum": ["a", 1]},
            "u": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
            "xs": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "additionalProperties": False,
        "required": ["n"],
    }
    fast = FastValidator(schema, {}, gopatterns.go_search)
    assert _valid(fast, {"n": 2, "e": 1, "u": "x", "xs": ["a"]})
    for bad in (
        {"n": 0},
        {"n": 2, "e": True},
        {"n": 2, "u": 1.5},
        {"n": 1, "xs": ["a", "b", "c"]},
        {},
    ):
        assert not _valid(fast, bad), bad
    assert _valid(fast, {"n": 2.0})  # 2.0 is an integer to JSON Schema


def _interpreted(validator: FastValidator, obj: Any) -> bool:
    return next(validator._errors(validator.schema, obj, ()), None) is None


def test_the_compiled_check_agrees_with_the_interpreter(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        fast, _ = _both(obj)
        for candidate in (obj, *_mutations(obj)):
            assert fast.valid(candidate) == _interpreted(fast, candidate), obj["kind"]
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "exclusiveMaximum": 3},
            "e": {"enum": ["a", 1]},
            "one": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
            "all": {"allOf": [{"type": "string"}, {"maxLength": 2}]},
            "xs": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "s": {"type": "string", "pattern": "^a", "minLength": 2},
            "f": {"minimum": 0.5},
            "o": {"type": ["object", "null"], "properties": {"k": {"enum": ["v", None]}}},
            "t": {"type": ["integer", "string"], "maxLength": 1},
        },
        "patternProperties": {"^x-": {"type": "boolean"}},
        "additionalProperties": {"type": "string"},
        "maxProperties": 4,
        "required": ["n"],
    }
    fast = FastValidator(schema, {}, gopatterns.go_search)
    cases: list[Any] = [
        {"n": 2},
        {"n": 3},
        {"n": 2.0, "e": 1},
        {"n": 2, "e": True},
        {"n": 2, "one": 1},
        {"n": 2, "one": 1.5},
        {"n": 2, "all": "abc"},
        {"n": 2, "xs": []},
        {"n": 2, "s": "ab"},
        {"n": 2, "s": "ba"},
        {"n": 2, "x-y": True},
        {"n": 2, "x-y": "no"},
        {"n": 2, "free": "text"},
        {"n": 2, "free": 1},
        {"n": 2, "f": 1},
        {"n": 2, "f": 0.25},
        {"n": 2, "o": None},
        {"n": 2, "o": {"k": None}},
        {"n": 2, "o": {"k": "w"}},
        {"n": 2, "o": []},
        {"n": 2, "t": 12},
        {"n": 2, "t": "12"},
        {"n": 2, "t": True},
        {"n": 1, "a": "1", "b": "2", "c": "3", "d": "4"},
        {},
        [],
        "not an object",
    ]
    outcomes = [fast.valid(case) for case in cases]
    assert outcomes == [_interpreted(fast, case) for case in cases]
    assert True in outcomes and False in outcomes


# Random schemas over every keyword the compiler specialises, and random instances over the
# same few keys: the compiled check and the interpreter must always agree.
_KEYS = ["a", "b", "x-c"]
_DEFINITIONS = {
    "node": {
        "type": ["object", "null"],
        "properties": {"a": {"$ref": "#/$defs/node"}, "b": {"type": "integer", "minimum": 0}},
        "additionalProperties": False,
    }
}
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 1.5, -2.5]),
    st.sampled_from(["", "a", "ab", "x-1", "abc\n", "B"]),
)
_instances = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner),
    max_leaves=8,
)
_type_names = st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null"])
_types = _type_names | st.lists(_type_names, max_size=3, unique=True)


def _keywords(sub: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A node with one to three keywords (more would make nearly every instance fail)."""
    small = st.integers(0, 3)
    bound = st.integers(-2, 2) | st.sampled_from([0.5, True])
    keywords: dict[str, st.SearchStrategy[Any]] = {
        "type": _types,
        "enum": st.lists(_scalars, min_size=1, max_size=3),
        "properties": st.dictionaries(st.sampled_from(_KEYS), sub, max_size=2),
        "patternProperties": st.dictionaries(st.sampled_from(["^x-", "b$", "(?i)^A"]), sub),
        "additionalProperties": st.booleans() | sub,
        "required": st.lists(st.sampled_from(_KEYS), max_size=2, unique=True),
        "maxProperties": small,
        "items": sub,
        "minItems": small,
        "maxItems": small,
        "pattern": st.sampled_from(["^a", "b$", "^(?i)(a|b)?$"]),
        "minLength": small,
        "maxLength": small,
        "minimum": bound,
        "maximum": bound,
        "exclusiveMinimum": bound,
        "exclusiveMaximum": bound,
        "anyOf": st.lists(sub, min_size=1, max_size=2),
        "oneOf": st.lists(sub, min_size=1, max_size=2),
        "allOf": st.lists(sub, min_size=1, max_size=2),
        "$ref": st.just("#/$defs/node"),
    }
    chosen = st.lists(st.sampled_from(sorted(keywords)), min_size=1, max_size=3, unique=True)
    return chosen.flatmap(lambda names: st.fixed_dictionaries({n: keywords[n] for n in names}))


_schemas = st.recursive(
    st.just({}) | st.builds(lambda t: {"type": t}, _types), _keywords, max_leaves=6
)


@settings(max_examples=600, deadline=None)
@given(_schemas, st.lists(_instances, min_size=1, max_size=6))
def test_the_compiled_check_agrees_with_the_interpreter_on_any_schema(
    schema: dict[str, Any], instances: list[Any]
) -> None:
    fast = FastValidator(schema, _DEFINITIONS, gopatterns.go_search)
    for instance in instances:
        assert fast.valid(instance) == _interpreted(fast, instance), instance


@pytest.mark.parametrize(
    ("schema", "value", "valid"),
    [
        ({"minimum": 0.5}, 1, True),
        ({"minimum": 0.5}, 0, False),
        ({"maximum": 1.5}, 1, True),
        ({"maximum": 1.5}, 2, False),
        ({"exclusiveMinimum": 1.0}, 1, False),
        ({"exclusiveMaximum": 2.5}, 2, True),
    ],
)
def test_integers_meet_float_bounds_by_value(
    schema: dict[str, Any], value: int, valid: bool
) -> None:
    schema_of_n = {"type": "object", "properties": {"n": schema}}
    validator = FastValidator(schema_of_n, {}, gopatterns.go_search)
    assert validator.valid({"n": value}) is valid
    assert _interpreted(validator, {"n": value}) is valid
