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

import operator
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
        self._valid: Check | None = None

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
        if self.valid(instance):  # nearly every object: no error to describe
            return
        yield from self._errors(self.schema, instance, ())

    def valid(self, instance: Any) -> bool:
        """Whether `iter_errors` finds nothing: the same keywords, compiled into closures
        (`_Compiler`; several times faster than walking the schema)."""
        if self._valid is None:
            self._valid = _Compiler(self).compile(self.schema)
        return self._valid(instance)

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


Check = Callable[[Any], bool]


def _accept(instance: Any) -> bool:
    return True


def _reject(instance: Any) -> bool:
    return False


def _is_null(instance: Any) -> bool:
    return instance is None


# The JSON types that `isinstance` alone decides (integer and number exclude booleans).
_CLASSES: dict[str, type] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


class _Compiler:
    """Compiles a schema node into a `Check` with the meaning of `FastValidator._errors`
    being empty. Nodes are compiled once (by identity), so `$ref` cycles close.

    Most of the time of a check is Python calls, so each node becomes as few closures as
    its keywords allow: a node typed ``object`` (or ``[object, null]``) is one closure
    that tests the type and the properties together, and drops the string, array and
    number keywords, which cannot fail on a mapping. The subschemas of ``properties``
    are compiled when their key is first seen: an object uses a handful of the
    thousands of nodes of a CRD such as the InferenceService (compiling them all took
    longer than checking a thousand objects)."""

    def __init__(self, validator: FastValidator) -> None:
        self.validator = validator
        self.done: dict[int, Check] = {}

    def compile(self, schema: dict[str, Any]) -> Check:
        found = self.done.get(id(schema))
        if found is not None:
            return found
        late: list[Check] = []
        self.done[id(schema)] = lambda instance: late[0](instance)  # for recursive $refs
        late.append(_all(self._keywords(schema)))
        self.done[id(schema)] = late[0]
        return late[0]

    def _lazy(self, table: dict[str, Check], key: str, schema: dict[str, Any]) -> Check:
        """A stand-in for ``table[key]`` that compiles ``schema`` and replaces itself."""

        def compile_then_check(instance: Any) -> bool:
            table[key] = check = self.compile(schema)
            return check(instance)

        return compile_then_check

    def _keywords(self, schema: dict[str, Any]) -> list[Check]:
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.compile(self.validator._resolve(schema["$ref"])))
        checks += self._typed(schema)
        if "enum" in schema:
            checks.append(_enum(schema["enum"]))
        return checks + self._combinators(schema)

    def _typed(self, schema: dict[str, Any]) -> list[Check]:
        """``type`` and the keywords of each JSON type it allows."""
        bodies = {"object": self._object, "array": self._array, "string": self._string}
        expected = schema.get("type")
        if expected is None:
            untyped = [body(schema, _accept) for body in bodies.values()]
            return [check for check in (*untyped, _number_check(schema)) if check is not None]
        names = {expected} if isinstance(expected, str) else set(expected)
        others = names - {"null"}
        if len(others) == 1 and others <= bodies.keys():  # the usual case: one closure
            body = bodies[others.pop()](schema, _is_null if "null" in names else _reject)
            return [body if body is not None else _type_check(names)]
        checks = [body(schema, _accept) for name, body in bodies.items() if name in names]
        if names & {"integer", "number"}:
            checks.append(_number_check(schema))
        return [_type_check(names), *(check for check in checks if check is not None)]

    def _object(self, schema: dict[str, Any], otherwise: Check) -> Check | None:
        """Keywords of a mapping; anything else is ``otherwise(instance)``."""
        properties: dict[str, Check] = {}
        for key, sub in schema.get("properties", {}).items():
            properties[key] = self._lazy(properties, key, sub)
        search = self.validator.search
        patterns = [
            (search(p), self.compile(v)) for p, v in schema.get("patternProperties", {}).items()
        ]
        extra = schema.get("additionalProperties", True)
        other = (
            _reject if extra is False else self.compile(extra) if isinstance(extra, dict) else None
        )
        required = frozenset(schema.get("required", ()))
        limit = schema.get("maxProperties")
        if not (properties or patterns or other or required or limit is not None):
            return None
        known = properties.get
        default = other or _accept

        if not patterns:  # every key has one schema: its property's or the default

            def check(instance: Any) -> bool:
                if not isinstance(instance, dict):
                    return otherwise(instance)
                for key, value in instance.items():
                    if not known(key, default)(value):
                        return False
                return instance.keys() >= required and (limit is None or len(instance) <= limit)

            return check

        def check_with_patterns(instance: Any) -> bool:
            if not isinstance(instance, dict):
                return otherwise(instance)
            for key, value in instance.items():
                property_check = known(key)
                matched = property_check is not None
                if property_check is not None and not property_check(value):
                    return False
                for matches, pattern_check in patterns:
                    if matches(key):
                        matched = True
                        if not pattern_check(value):
                            return False
                if not matched and not default(value):
                    return False
            return instance.keys() >= required and (limit is None or len(instance) <= limit)

        return check_with_patterns

    def _array(self, schema: dict[str, Any], otherwise: Check) -> Check | None:
        items = schema.get("items")
        each = self.compile(items) if isinstance(items, dict) else _accept
        low, high = schema.get("minItems") or 0, schema.get("maxItems")
        if each is _accept and not low and high is None:
            return None

        def check(instance: Any) -> bool:
            if not isinstance(instance, list):
                return otherwise(instance)
            if len(instance) < low or (high is not None and len(instance) > high):
                return False
            for item in instance:  # noqa: SIM110 - see _all
                if not each(item):
                    return False
            return True

        return check

    def _string(self, schema: dict[str, Any], otherwise: Check) -> Check | None:
        pattern = schema.get("pattern")
        matches = self.validator.search(pattern) if pattern is not None else _accept
        low, high = schema.get("minLength") or 0, schema.get("maxLength")
        if matches is _accept and not low and high is None:
            return None

        def check(instance: Any) -> bool:
            if not isinstance(instance, str):
                return otherwise(instance)
            if len(instance) < low or (high is not None and len(instance) > high):
                return False
            return bool(matches(instance))

        return check

    def _combinators(self, schema: dict[str, Any]) -> list[Check]:
        checks: list[Check] = [self.compile(sub) for sub in schema.get("allOf", ())]
        if "anyOf" in schema:
            checks.append(_any([self.compile(sub) for sub in schema["anyOf"]]))
        if "oneOf" in schema:
            options = [self.compile(sub) for sub in schema["oneOf"]]

            def exactly_one(instance: Any) -> bool:
                found = 0
                for option in options:
                    if option(instance):
                        found += 1
                return found == 1

            checks.append(exactly_one)
        return checks


def _type_check(names: set[str]) -> Check:
    if len(names) == 1 and names <= _CLASSES.keys():
        # isinstance(instance, str) without a Python frame: a third of a lambda's cost
        return _CLASSES[next(iter(names))].__instancecheck__
    if names <= _CLASSES.keys():
        classes = tuple(_CLASSES[name] for name in names)
        return lambda instance: isinstance(instance, classes)
    return _any([_TYPES[name] for name in sorted(names)])


def _enum(options: list[Any]) -> Check:
    if all(isinstance(option, str) or option is None for option in options):
        allowed = frozenset(options)  # JSON equality is Python's on strings and null
        return lambda x: (x is None or isinstance(x, str)) and x in allowed
    return lambda x: any(_equal(x, option) for option in options)


def _number_check(schema: dict[str, Any]) -> Check | None:
    """The interpreter's own bounds (rare keywords: not worth a second implementation)."""
    keywords = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    if all(schema.get(k) is None or isinstance(schema[k], bool) for k in keywords):
        return None

    def check(instance: Any) -> bool:
        if not isinstance(instance, int | float) or isinstance(instance, bool):
            return True
        return next(_number(schema, instance, ()), None) is None

    return check


def _any(checks: list[Check]) -> Check:
    def check(instance: Any) -> bool:
        for one in checks:  # noqa: SIM110 - see _all
            if one(instance):
                return True
        return False

    return check


def _all(checks: list[Check]) -> Check:
    """The conjunction of ``checks`` (unrolled for the common short ones)."""
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda instance: first(instance) and second(instance)

    def conjunction(instance: Any) -> bool:
        for check in checks:  # noqa: SIM110 - a loop: all() over a generator costs twice as much
            if not check(instance):
                return False
        return True

    return conjunction


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


_NUMBER_BOUNDS = (  # keyword, and when the instance fails it
    ("minimum", operator.lt),
    ("maximum", operator.gt),
    ("exclusiveMinimum", operator.le),
    ("exclusiveMaximum", operator.ge),
)


def _number(schema: dict[str, Any], instance: float, path: tuple[Any, ...]) -> Iterator[Error]:
    for keyword, fails in _NUMBER_BOUNDS:  # operators: an int against a float bound too
        bound = schema.get(keyword)
        if bound is not None and not isinstance(bound, bool) and fails(instance, bound):
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
