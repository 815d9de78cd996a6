"""`SchemaProblem`: one reason an object does not match its schema, in words people read.

`error_problems` turns one validation error (a `jsonschema.ValidationError`, or the
`fastcheck.Error` that mimics it) into short one-line problems: every unknown field with
a "did you mean" guess, every missing required field, and the failed keyword in plain
words (``'two' is not of type 'integer'``). Paths are JSON pointers, shown dotted
(``spec.groups[0].rules``).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mlspec.output.gopatterns import QUANTITY_PATTERN, go_search

__all__ = ["SchemaProblem", "error_problems", "escape", "show"]


@dataclass(frozen=True)
class SchemaProblem:
    """One reason an object does not match its schema.

    ``str()`` gives the one-line form, e.g.
    ``spec.predictor.model.storageURI: unknown field (did you mean storageUri?)``.
    """

    path: str  # JSON pointer inside the object; "" for the object as a whole
    message: str

    @property
    def dotted_path(self) -> str:
        """``path`` as people write it: ``spec.groups[0].rules``, ``spec.hard["cpu.x/y"]``."""
        return _dotted(self.path)

    def __str__(self) -> str:
        return f"{self.dotted_path}: {self.message}" if self.path else self.message


# --- turning jsonschema errors into short messages ----------------------------------------


def error_problems(error: Any) -> Iterator[SchemaProblem]:
    """What one validation error means: a problem per unknown or missing field, else one."""
    path = list(error.absolute_path)
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if keyword == "additionalProperties" and expected is False and isinstance(instance, dict):
        yield from _unknown_fields(path, instance, error.schema)
    elif keyword == "required" and isinstance(instance, dict):
        for field in expected:
            if field not in instance:
                yield SchemaProblem(_pointer(path), f"missing required field {field!r}")
    else:
        yield SchemaProblem(_pointer(path), _message(keyword, expected, instance, error))


def _unknown_fields(
    path: list[Any], instance: dict[str, Any], schema: dict[str, Any]
) -> Iterator[SchemaProblem]:
    known = list(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key in known or any(go_search(p)(key) for p in patterns):
            continue
        guess = _did_you_mean(str(key), known)
        hint = f" (did you mean {guess}?)" if guess else ""
        yield SchemaProblem(_pointer([*path, key]), f"unknown field{hint}")


def _did_you_mean(key: str, known: list[str]) -> str | None:
    by_case = {k.lower(): k for k in known}
    if key.lower() in by_case:
        return by_case[key.lower()]
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    return close[0] if close else None


def _message(keyword: str, expected: Any, instance: Any, error: Any) -> str:
    shown = show(instance)
    if keyword == "type":
        return f"{shown} is not of type {_type_names(expected)}"
    if keyword in ("anyOf", "oneOf") and _only_types(expected):
        names = [t for sub in expected for t in _as_list(sub["type"])]
        return f"{shown} is not of type {_type_names(names)}"
    if keyword in ("anyOf", "oneOf"):
        return f"{shown} does not match any allowed form"
    if keyword == "enum":
        return f"{shown} is not one of {', '.join(show(v) for v in expected)}"
    if keyword == "pattern" and expected == QUANTITY_PATTERN:
        return f"{shown} is not a quantity (such as 500m, 2, 1.5Gi)"
    if keyword == "pattern":
        return f"{shown} does not match {expected!r}"
    if keyword in _BOUNDS:
        return f"{shown} {_BOUNDS[keyword]} {expected}"
    return _shorten(str(error.message), 160)


_BOUNDS = {
    "minimum": "is less than the minimum of",
    "maximum": "is greater than the maximum of",
    "exclusiveMinimum": "must be greater than",
    "exclusiveMaximum": "must be less than",
    "minLength": "is shorter than the minimum length",
    "maxLength": "is longer than the maximum length",
    "minItems": "has fewer items than the minimum of",
    "maxItems": "has more items than the maximum of",
    "minProperties": "has fewer fields than the minimum of",
    "maxProperties": "has more fields than the maximum of",
}


def _only_types(subschemas: Any) -> bool:
    return isinstance(subschemas, list) and all(
        isinstance(sub, dict) and set(sub) == {"type"} for sub in subschemas
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _type_names(expected: Any) -> str:
    names = [t for t in _as_list(expected) if t != "null"] or ["null"]
    return " or ".join(repr(t) for t in dict.fromkeys(names))


def show(value: Any) -> str:
    """A short rendering: strings quoted as in the brief, YAML words for true/null."""
    if isinstance(value, str):
        return _shorten(repr(value), 60)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, dict | list):
        return _shorten(json.dumps(value, default=str, sort_keys=True), 60)
    return _shorten(repr(value), 60)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape(segment: Any) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def _pointer(path: Iterable[Any]) -> str:
    return "".join(f"/{escape(segment)}" for segment in path)


_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")


def _dotted(pointer: str) -> str:
    out = ""
    for raw in pointer.split("/")[1:]:
        segment = raw.replace("~1", "/").replace("~0", "~")
        if segment.isdigit():
            out += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            out += f".{segment}" if out else segment
        else:
            out += f"[{json.dumps(segment)}]"
    return out
