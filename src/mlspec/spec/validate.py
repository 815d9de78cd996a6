"""Validation against the pydantic models, with every error located.

pydantic reports errors by ``loc`` (a path of aliases and indexes); we turn that
path into a JSON pointer, look the pointer up in the `SourceMap`, and give each
error type a stable code and a hint.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from mlspec.diagnostics import Diagnostic, safe_text
from mlspec.spec.model import Platform
from mlspec.spec.names import IDENTIFIER_PATTERN, NAME_PATTERN, dns1123_label_problem, suggest_label
from mlspec.spec.source import SourceMap, pointer

Path = tuple[str | int, ...]


def validate_platform(
    data: dict[str, Any], sources: SourceMap
) -> tuple[Platform | None, list[Diagnostic]]:
    try:
        return Platform.model_validate(data), []
    except ValidationError as exc:
        return None, [_diagnostic(error, data, sources) for error in exc.errors(include_url=False)]


def _diagnostic(error: ErrorDetails, data: dict[str, Any], sources: SourceMap) -> Diagnostic:
    path, is_key = _data_path(error["loc"], data)
    ptr = pointer(path)
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_field(path, sources)
    if kind == "missing":
        removed = sources.get(ptr)  # an environment patch set it to null
        location = (
            removed.key or removed.value if removed else sources.key_location(pointer(path[:-1]))
        )
        return Diagnostic(
            "MLS102",
            f"{_dotted(path[:-1]) or 'the document'}: missing required field `{path[-1]}`",
            location,
            ptr,
        )
    location = sources.key_location(ptr) if is_key else sources.value_location(ptr)
    pattern = (error.get("ctx") or {}).get("pattern")
    if pattern in (NAME_PATTERN, IDENTIFIER_PATTERN) or (is_key and kind == "string_too_long"):
        return _invalid_name(path, error["input"], pattern, location, ptr)
    message = f"{_dotted(path)}: {_message(error)}"
    if kind.endswith("_type") or kind in ("model_attributes_type", "dict_type", "list_type"):
        return Diagnostic("MLS103", message, location, ptr, _type_hint(ptr, sources, error))
    if kind == "value_error" and _wrong_scalar_type(ptr, sources, error["input"]):
        return Diagnostic("MLS103", message, location, ptr, _type_hint(ptr, sources, error))
    if kind == "value_error":
        return Diagnostic("MLS105", message, location, ptr)
    return Diagnostic("MLS104", message, location, ptr, _value_hint(error))


def _data_path(loc: tuple[int | str, ...], data: Any) -> tuple[Path, bool]:
    """The path into the data of a pydantic ``loc``, and whether it names a key.

    pydantic adds entries of its own (``[key]`` for dict keys, validator names);
    we keep only the steps that exist in the data.
    """
    path: list[str | int] = []
    node = data
    for step in loc:
        if step == "[key]":
            return tuple(path), True
        if _has_child(node, step):
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str) and step == loc[-1]:
            node = None  # a missing or unknown field: still part of the path
        else:
            continue
        path.append(step)
    return tuple(path), False


def _has_child(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)


def _dotted(path: Path) -> str:
    return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")


def _message(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "literal_error":
        return f"{message}, got {safe_text(error['input'])!r}"
    return message


def _unknown_field(path: Path, sources: SourceMap) -> Diagnostic:
    ptr = pointer(path)
    allowed = _allowed_fields(path[:-1])
    close = difflib.get_close_matches(str(path[-1]), allowed, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean `{close[0]}`?"
    elif allowed:
        hint = "allowed here: " + ", ".join(allowed)
    else:
        hint = None
    where = _dotted(path[:-1]) or "the document"
    return Diagnostic(
        "MLS101",
        f"{where}: unknown field `{safe_text(path[-1])}`",
        sources.key_location(ptr),
        ptr,
        hint,
    )


def _invalid_name(
    path: Path, value: Any, pattern: str | None, location: Any, ptr: str
) -> Diagnostic:
    text = str(value)
    if pattern == IDENTIFIER_PATTERN:
        problem = "must be a lower-case identifier (letters, digits and '_')"
        hint = f"try `{text.lower().replace('-', '_')}`"
    else:
        problem = dns1123_label_problem(text) or "is not a valid name"
        hint = f"try `{suggest_label(text)}`"
    return Diagnostic(
        "MLS201", f"{_dotted(path)}: name {safe_text(text)!r} {problem}", location, ptr, hint
    )


def _wrong_scalar_type(ptr: str, sources: SourceMap, value: Any) -> bool:
    """A custom validator refused a value for its type, not its content: a boolean
    where a quantity goes, or a plain number (``1.10``) where text was meant."""
    if isinstance(value, bool):
        return True
    node = sources.get(ptr)
    return isinstance(value, float) and node is not None and node.plain_text is not None


def _type_hint(ptr: str, sources: SourceMap, error: ErrorDetails) -> str | None:
    node = sources.get(ptr)
    plain = node.plain_text if node is not None else None
    value = error["input"]
    unquoted_non_text = plain is not None and not isinstance(value, str)
    if unquoted_non_text and (error["type"] == "string_type" or isinstance(value, float)):
        return f'quote it: "{safe_text(plain)}"'
    if isinstance(value, str) and error["type"] in ("int_type", "float_type", "bool_type"):
        quoted = node is not None and node.plain_text is None
        if error["type"] == "bool_type":
            return "write true or false without quotes" if quoted else "write true or false"
        return "remove the quotes to write a number" if quoted else "write a number"
    return None


def _value_hint(error: ErrorDetails) -> str | None:
    expected = (error.get("ctx") or {}).get("expected")
    if error["type"] != "literal_error" or not isinstance(expected, str):
        return None
    options = [o.strip(" '") for o in expected.replace(" or ", ",").split(",") if o.strip(" '")]
    close = difflib.get_close_matches(str(error["input"]), options, n=1)
    return f"did you mean `{close[0]}`?" if close else None


def _allowed_fields(path: Path) -> list[str]:
    """The field names (as written in YAML) of the model at ``path``, if any."""
    annotation: Any = Platform
    for step in path:
        annotation = _child_annotation(annotation, step)
        if annotation is None:
            return []
    model = _model_of(annotation)
    if model is None:
        return []
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _child_annotation(annotation: Any, step: str | int) -> Any:
    model = _model_of(annotation)
    if model is not None:
        for name, info in model.model_fields.items():
            if step in (name, info.alias):
                return info.annotation
        return None
    origin = typing.get_origin(_unwrap(annotation))
    args = typing.get_args(_unwrap(annotation))
    if origin is dict and len(args) == 2:
        return args[1]
    if origin is list and args:
        return args[0]
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    inner = _unwrap(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
