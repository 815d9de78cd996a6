"""A fast validator for the subset of JSON Schema that Kubernetes schemas use.

`jsonschema` is general and exact, and spends most of its time on machinery these
schemas never need (vocabularies, dynamic scopes, a resolver per `$ref`): on a
1,000-tenant platform it was the slowest stage of `compile`. Kubernetes schemas
(the strict CRD conversions and kubernetes-validate's) use a small, fixed set of
keywords, which this module interprets directly:

    $ref (into the shared definitions), type, enum, properties, patternProperties,
    additionalProperties, required, maxProperties, items, minItems, maxItems,
    pattern (RE2), minLength, maxLength, minimum, maximum, exclusiveMinimum,
    exclusiveMaximum, anyOf, oneOf, allOf

Any other keyword that asserts something makes `FastValidator` refuse the schema
(`UnsupportedSchema`), so the caller falls back to `jsonschema`: a keyword is
never skipped silently. Errors are reported like `jsonschema.ValidationError`s
(the attributes kubeschema reads), one per failing keyword, with the same
semantics as jsonschema for each (tests compare the two on valid and invalid
objects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$defs",
        "title",
        "description",
        "default",
        "example",
        "examples",
        "format",
    }
)
ASSERTIONS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "maxProperties",
        "items",
        "minItems",
        "maxItems",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "anyOf",
        "oneOf",
        "allOf",
    }
)


class UnsupportedSchemaError(Exception):
    """The schema uses a keyword this validator does not implement."""


@dataclass(frozen=True)
class Error:
    """The attributes of a jsonschema ValidationError that kubeschema reads."""

    absolute_path: tuple[Any, ...]
    validator: str
    validator_value: Any
    instance: Any
    schema: dict[str, Any]
    message: str


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class FastValidator:
    def __init__(
        self,
        schema: dict[str, Any],
        definitions: dict[str, Any],
        search: Callable[[str], Callable[[str], object]],
    ) -> None:
        self.schema = schema
        self.definitions = definitions
        self.search = search
        self._check_supported(schema, set())

    def _check_supported(self, schema: Any, seen: set[int]) -> None:
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        seen.add(id(schema))
        for key, value in schema.items():
            if key.startswith("x-") or key in ANNOTATIONS:
                continue
            if key not in ASSERTIONS:
                raise UnsupportedSchemaError(key)
            for sub in _subschemas(key, value):
                self._check_supported(sub, seen)
        if "$ref" in schema:
            self._check_supported(self._resolve(schema["$ref"]), seen)

    def _resolve(self, ref: str) -> dict[str, Any]:
        _, _, fragment = ref.partition("#/$defs/")
        if not fragment or fragment not in self.definitions:
            raise UnsupportedSchemaError(f"$ref {ref}")
        resolved: dict[str, Any] = self.definitions[fragment]
        return resolved

    def iter_errors(self, instance: Any) -> Iterator[Error]:
        yield from self._errors(self.schema, instance, ())

    def is_valid(self, schema: dict[str, Any], instance: Any) -> bool:
        return next(self._errors(schema, instance, ()), None) is None

    def _errors(
        self, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]
    ) -> Iterator[Error]:
        if "$ref" in schema:
            yield from self._errors(self._resolve(schema["$ref"]), instance, path)
        expected = schema.get("type")
        if expected is not None and not _has_type(instance, expected):
            yield Error(path, "type", expected, instance, schema, "wrong type")
            return
        if "enum" in schema and not any(_equal(instance, v) for v in schema["enum"]):
            yield Error(path, "enum", schema["enum"], instance, schema, "not in enum")
        if isinstance(instance, dict):
            yield from self._object(schema, instance, path)
        elif isinstance(instance, list):
            yield from self._array(schema, instance, path)
        elif isinstance(instance, str):
            yield from _string(self, schema, instance, path)
        elif isinstance(instance, int | float) and not isinstance(instance, bool):
            yield from _number(schema, instance, path)
        yield from self._combinators(schema, instance, path)

    def _object(
        self, schema: dict[str, Any], instance: dict[str, Any], path: tuple[Any, ...]
    ) -> Iterator[Error]:
        properties = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        extra = schema.get("additionalProperties", True)
        unknown = False
        for key, value in instance.items():
            matched = False
            if key in properties:
                matched = True
                yield from self._errors(properties[key], value, (*path, key))
            for pattern, sub in patterns.items():
                if self.search(pattern)(key):
                    matched = True
                    yield from self._errors(sub, value, (*path, key))
            if not matched:
                if extra is False:
                    unknown = True
                elif isinstance(extra, dict):
                    yield from self._errors(extra, value, (*path, key))
        if unknown:
            yield Error(path, "additionalProperties", False, instance, schema, "unknown field")
        required = schema.get("required", ())
        if any(field not in instance for field in required):
            yield Error(path, "required", required, instance, schema, "missing field")
        limit = schema.get("maxProperties")
        if limit is not None and len(instance) > limit:
            yield Error(path, "maxProperties", limit, instance, schema, "too many fields")

    def _array(
        self, schema: dict[str, Any], instance: list[Any], path: tuple[Any, ...]
    ) -> Iterator[Error]:
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(instance):
                yield from self._errors(items, item, (*path, index))
        for keyword, fails in (
            ("minItems", len(instance).__lt__),
            ("maxItems", len(instance).__gt__),
        ):
            bound = schema.get(keyword)
            if bound is not None and fails(bound):
                yield Error(path, keyword, bound, instance, schema, keyword)

    def _combinators(
        self, schema: dict[str, Any], instance: Any, path: tuple[Any, ...]
    ) -> Iterator[Error]:
        for sub in schema.get("allOf", ()):
            yield from self._errors(sub, instance, path)
        if "anyOf" in schema and not any(self.is_valid(s, instance) for s in schema["anyOf"]):
            yield Error(path, "anyOf", schema["anyOf"], instance, schema, "no branch matches")
        if "oneOf" in schema:
            matches = sum(1 for s in schema["oneOf"] if self.is_valid(s, instance))
            if matches != 1:
                yield Error(path, "oneOf", schema["oneOf"], instance, schema, "not exactly one")


def _string(
    v: FastValidator, schema: dict[str, Any], instance: str, path: tuple[Any, ...]
) -> Iterator[Error]:
    pattern = schema.get("pattern")
    if pattern is not None and not v.search(pattern)(instance):
        yield Error(path, "pattern", pattern, instance, schema, "no match")
    length = len(instance)
    for keyword, fails in (("minLength", length.__lt__), ("maxLength", length.__gt__)):
        bound = schema.get(keyword)
        if bound is not None and fails(bound):
            yield Error(path, keyword, bound, instance, schema, keyword)


def _number(schema: dict[str, Any], instance: float, path: tuple[Any, ...]) -> Iterator[Error]:
    checks = (
        ("minimum", instance.__lt__),
        ("maximum", instance.__gt__),
        ("exclusiveMinimum", instance.__le__),
        ("exclusiveMaximum", instance.__ge__),
    )
    for keyword, fails in checks:
        bound = schema.get(keyword)
        if bound is not None and not isinstance(bound, bool) and fails(bound):
            yield Error(path, keyword, bound, instance, schema, keyword)


def _has_type(instance: Any, expected: str | list[str]) -> bool:
    if isinstance(expected, str):
        return _TYPES[expected](instance)
    return any(_TYPES[t](instance) for t in expected)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _subschemas(key: str, value: Any) -> list[Any]:
    if key in ("properties", "patternProperties"):
        return list(value.values())
    if key in ("anyOf", "oneOf", "allOf"):
        return list(value)
    if key in ("items", "additionalProperties") and isinstance(value, dict):
        return [value]
    return []
