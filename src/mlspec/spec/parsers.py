"""The two YAML parsers behind the loader, reduced to one small event type.

    fast_events(text)   libyaml (PyYAML's bindings, libyaml 0.2.x): ~30x faster
    pure_events(text)   ruamel.yaml's pure-Python parser: the YAML 1.2 reference

Both yield `Event`s, and both raise `YamlSyntaxError` when they refuse the text, so the
loader never sees a YAML library's own classes. Each library is imported on first
use: a spec that libyaml accepts never imports ruamel.yaml.

PyYAML's libyaml, not ruamel.yaml.clib's: the latter bundles libyaml 0.1.7, which
refuses a ``:`` inside a plain scalar in a flow collection (``{default: s3://bucket}``),
so the reference spec always fell back to the pure parser (~0.05-0.2 s). libyaml 0.2
reads it as YAML 1.2 does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

# Event kinds, as the loader sees them.
DOCUMENT = "document"
ALIAS = "alias"
SCALAR = "scalar"
MAPPING = "mapping"
SEQUENCE = "sequence"
END = "end"  # of a mapping or a sequence

_KINDS = {
    "DocumentStartEvent": DOCUMENT,
    "AliasEvent": ALIAS,
    "ScalarEvent": SCALAR,
    "MappingStartEvent": MAPPING,
    "SequenceStartEvent": SEQUENCE,
    "MappingEndEvent": END,
    "SequenceEndEvent": END,
}


class Event(NamedTuple):
    """One parser event that the loader acts on (stream and document ends are dropped)."""

    kind: str
    line: int  # 0-based, as the parsers count
    column: int
    value: str | None = None  # scalars
    anchor: str | None = None
    tag: str | None = None
    plain: bool = False  # an unquoted scalar
    directives: bool = False  # a document that starts with %YAML or %TAG


# `Event(...)` without the Python-level `__new__` of a NamedTuple: all fields, in order.
_new = tuple.__new__


class YamlSyntaxError(Exception):
    """The parser refused the text: what it said, and where (0-based)."""

    def __init__(self, problem: str, line: int = 0, column: int = 0) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column = problem, line, column


def fast_events(text: str) -> Iterator[Event]:
    """libyaml's events, one at a time (so that caps stop the parse early).

    Raises YamlSyntaxError on any complaint, or at once when libyaml is not installed:
    the caller then asks `pure_events`, whose verdict counts.
    """
    parser_class, errors = _libyaml()
    if parser_class is None:
        raise YamlSyntaxError("libyaml is not available")
    refused: tuple[type[Exception], ...] = (*errors, UnicodeEncodeError)  # lone surrogates
    kinds = _libyaml_kinds()
    try:
        next_event = parser_class(text).get_event
        while True:  # the loop of `_event`, inlined: a spec of 1,000 tenants has 250k events
            raw = next_event()
            kind = kinds.get(type(raw), "")
            if kind == SCALAR:
                mark = raw.start_mark
                scalar = (raw.value, raw.anchor, raw.tag, not raw.style, False)
                yield _new(Event, (SCALAR, mark.line, mark.column, *scalar))
            elif kind == END:
                mark = raw.start_mark
                yield _new(Event, (END, mark.line, mark.column, None, None, None, False, False))
            elif kind:
                event = _event(raw)
                assert event is not None  # the kind is known
                yield event
            elif raw is None or type(raw).__name__ == "StreamEndEvent":
                return
    except refused as exc:
        raise YamlSyntaxError(str(exc)) from exc


def pure_events(text: str) -> Iterator[Event]:
    """ruamel.yaml's pure-Python parser's events (the safe one: the round-trip parser
    adds comment handling we do not need and marks folds in ``>`` scalars with ``\\a``)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        for raw in YAML(typ="safe", pure=True).parse(text):
            event = _event(raw)
            if event is not None and event.kind:
                yield event
    except MarkedYAMLError as exc:
        raise _marked_problem(exc) from exc
    except YAMLError as exc:
        raise YamlSyntaxError(str(exc)) from exc
    except AssertionError as exc:  # ruamel asserts on a %YAML version it does not know
        raise YamlSyntaxError(str(exc)) from exc


def _libyaml() -> tuple[Callable[[str], Any] | None, tuple[type[Exception], ...]]:
    try:
        from yaml import YAMLError
        from yaml._yaml import CParser
    except ImportError:  # pragma: no cover - PyYAML built without libyaml
        return None, ()
    return CParser, (YAMLError,)


@functools.cache
def _libyaml_kinds() -> dict[type, str]:
    """The loader's kind of each of PyYAML's event classes, by class."""
    from yaml import events

    return {getattr(events, name): kind for name, kind in _KINDS.items()}


def _event(raw: Any) -> Event | None:
    """Our `Event` for a parser's event; kind "" for one the loader ignores, None at
    the end of the stream."""
    name = type(raw).__name__
    if name == "StreamEndEvent":
        return None
    kind = _KINDS.get(name, "")
    mark = raw.start_mark
    if kind == DOCUMENT:
        directives = raw.version is not None or bool(raw.tags)
        return Event(kind, mark.line, mark.column, directives=directives)
    if not kind or kind == END:
        return Event(kind, mark.line, mark.column)
    tag = getattr(raw, "tag", None)
    value = raw.value if kind == SCALAR else None
    plain = kind == SCALAR and not raw.style  # None (ruamel) or "" (libyaml)
    return Event(kind, mark.line, mark.column, value, raw.anchor, tag, plain)


def _marked_problem(exc: Any) -> YamlSyntaxError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem:
        problem = f"{exc.problem} ({exc.context})"
    line, column = (mark.line, mark.column) if mark else (0, 0)
    return YamlSyntaxError(str(problem), line, column)
