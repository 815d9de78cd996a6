"""Strict YAML loading that keeps source positions (RELIABILITY.md rules 1 and 2).

We do not use a YAML constructor at all: a parser yields events (libyaml's, or
ruamel.yaml's pure-Python one when libyaml refuses the text: see parsers.py), and
`_Builder` turns them into plain data (dict / list / str / int / float / bool /
None) while recording a `SourceMap`. Working at the event level lets us refuse
anchors, aliases, tags and directives before any of them is expanded, check depth
and size as the events arrive, and decide ourselves how plain scalars resolve.

Plain scalars resolve by the YAML 1.2 core schema. Scalars that a YAML 1.1 reader
(PyYAML, go-yaml v2, hence kubectl) would read differently -- ``yes``/``no``/``on``,
``0755``, ``1:20``, ``2024-01-01`` -- are errors with a hint to quote them. Floats
whose text differs from their value (``1.10``) are kept as numbers; the original
text is recorded so that a type error on them can say "quote it".
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from mlspec.diagnostics import Diagnostic, Location, safe_text
from mlspec.spec.parsers import (
    ALIAS,
    DOCUMENT,
    END,
    MAPPING,
    SCALAR,
    Event,
    YamlSyntaxError,
    fast_events,
    pure_events,
)
from mlspec.spec.source import NodeSource, SourceMap, escape_token


@dataclass(frozen=True)
class Limits:
    """Caps checked before or during parsing, so hostile input fails fast."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 64
    max_scalar_chars: int = 64 * 1024
    max_nodes: int = 5_000_000


DEFAULT_LIMITS = Limits()


@dataclass
class Loaded:
    """A loaded document: its data, where each node came from, and what went wrong."""

    data: dict[str, Any] | None
    sources: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)


class _FatalProblemError(Exception):
    """Raised inside the builder once a fatal problem has been recorded."""


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f\ufeff\ufffe\uffff]")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL_12 = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOL_12["FALSE"] = False
# YAML 1.1 also lists y/Y/n/N as booleans; PyYAML ignores them and keys such as `n` or
# `y` are common, so we accept them as strings (the emitter still quotes them).
_BOOL_11_WORDS = frozenset(
    ("yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF")
)
_NULL_WORDS = frozenset(("null", "Null", "NULL"))
_LETTERS = frozenset(string.ascii_letters)
_INT_DEC = re.compile(r"^[-+]?[0-9]+$")
_INT_LEADING_ZERO = re.compile(r"^[-+]?0[0-9_]+$")
_INT_OCT = re.compile(r"^0o[0-7]+$")
_INT_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_FLOAT_SPECIAL = re.compile(r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$")
_YAML11_NUMBER = re.compile(
    r"^(?:[-+]?0b[01_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[-+]?(?:[0-9][0-9_]*)?\.?[0-9_]*_[0-9_]*(?:[eE][-+][0-9]+)?|[-+]0x[0-9a-fA-F_]+)$"
)
_NUMBER_TEXT = re.compile(r"^[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?$")
_MAX_NUMBER_CHARS = 100
# A decimal integer that every YAML reader reads as the same number (no octal `0755`).
_SAFE_INT = re.compile(r"^(?:0|[1-9][0-9]{0,99})$")
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9].*)?$")


def load_text(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """Load one YAML document from text. Never raises for bad input."""
    precheck = _check_text(text, file, limits)
    if precheck is not None:
        return Loaded(None, SourceMap(), [precheck])
    builder = _Builder(file, limits)
    try:
        builder.run(text)
    except _FatalProblemError:
        pass
    except YamlSyntaxError as exc:
        builder.diagnostics.append(_syntax_error(exc, file))
    except RecursionError:
        builder.diagnostics.append(
            Diagnostic("MLS011", "the document is nested too deeply", Location(file, 1, 1))
        )
    if builder.diagnostics:
        return Loaded(None, builder.sources, builder.diagnostics)
    return _root_mapping(builder, file)


def load_bytes(raw: bytes, file: str, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """Load from bytes: size cap and UTF-8 decoding are checked first."""
    if len(raw) > limits.max_bytes:
        message = f"the file is {len(raw)} bytes, over the limit of {limits.max_bytes} bytes"
        return Loaded(None, SourceMap(), [Diagnostic("MLS010", message, Location(file, 1, 1))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Loaded(None, SourceMap(), [_decode_error(raw, exc, file)])
    return load_text(text.removeprefix("\ufeff"), file, limits)


def _root_mapping(builder: _Builder, file: str) -> Loaded:
    root = builder.root
    if builder.documents == 0 or root is None:
        diag = Diagnostic(
            "MLS014",
            "the file is empty: expected a platform spec",
            Location(file, 1, 1),
            hint="start with `apiVersion: mlspec.dev/v1alpha1` and `kind: Platform`",
        )
        return Loaded(None, builder.sources, [diag])
    if not isinstance(root, dict):
        loc = builder.sources.value_location("")
        diag = Diagnostic("MLS014", "the document must be a mapping", loc, pointer="")
        return Loaded(None, builder.sources, [diag])
    return Loaded(root, builder.sources, [])


def _check_text(text: str, file: str, limits: Limits) -> Diagnostic | None:
    if len(text) > limits.max_bytes:
        message = f"the text is {len(text)} characters, over the limit of {limits.max_bytes}"
        return Diagnostic("MLS010", message, Location(file, 1, 1))
    found = _CONTROL_CHARS.search(text)
    if found is None:
        return None
    return Diagnostic(
        "MLS008",
        f"control character U+{ord(found.group()):04X} is not allowed",
        _offset_location(text, found.start(), file),
        hint="remove it; use a quoted escape such as \\t or \\n if it belongs in a string",
    )


def _offset_location(text: str, offset: int, file: str) -> Location:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Location(file, line, col)


def _decode_error(raw: bytes, exc: UnicodeDecodeError, file: str) -> Diagnostic:
    good = raw[: exc.start].decode("utf-8", errors="replace")
    return Diagnostic(
        "MLS007",
        f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
        _offset_location(good, len(good), file),
        hint="save the file as UTF-8",
    )


def _syntax_error(exc: YamlSyntaxError, file: str) -> Diagnostic:
    location = Location(file, exc.line + 1, exc.column + 1)
    return Diagnostic("MLS001", f"invalid YAML: {safe_text(exc.problem, 200)}", location)


@dataclass(slots=True)
class _Frame:
    """An open mapping or sequence: where it is, and (in a mapping) the key to fill."""

    container: dict[str, Any] | list[Any]
    pointer: str
    depth: int  # of the container: 0 for the root
    key: str | None = None
    key_at: tuple[int, int] | None = None  # where that key is: (line, col), 1-based
    keys_at: dict[str, tuple[int, int]] = field(default_factory=dict)


class _Builder:
    """Turns parser events into data + SourceMap, refusing what we do not accept.

    A spec of 1,000 tenants is 250k events, so the common case (a node without anchor
    or tag, a plain scalar that is a word) is decided in a few lines per event; anything
    else goes through the full checks of `_check_node`, `_check_plain_key` and
    `_plain_value`, in the same order as ever, so that the same problem is reported.
    """

    def __init__(self, file: str, limits: Limits) -> None:
        self.file = file
        self.limits = limits
        self._text = ""
        self._reset()

    def _reset(self) -> None:
        self.sources = SourceMap()
        self.diagnostics: list[Diagnostic] = []
        self.root: Any = None
        self.documents = 0
        self._stack: list[_Frame] = []
        self._nodes = 0

    def run(self, text: str) -> None:
        """Build from libyaml's events when it accepts the text, else from ruamel's parser.

        libyaml is ~30x faster and yields the same events, but it is not a YAML 1.2
        parser: it refuses some valid YAML 1.2 text (a plain scalar that starts with
        ``:`` in a flow collection, ``[:x]``). On its first complaint we start over with
        the pure-Python parser, whose verdict (and message) counts. Events stream into
        the builder either way, so the caps stop the parse early.
        """
        self._text = text
        try:
            self._build(fast_events(text))
            return
        except YamlSyntaxError:
            self._reset()
        self._build(pure_events(text))

    def _build(self, parsed: Iterator[Event]) -> None:
        stack = self._stack
        for event in parsed:
            kind = event.kind
            if kind == END:
                stack.pop()
            elif kind == DOCUMENT:
                self._on_document_start(event)
            elif kind == ALIAS:
                self._fail(event, "MLS004", "aliases (*name) are not allowed", _NO_ANCHORS_HINT)
            else:
                self._on_node(event)

    def _on_document_start(self, event: Event) -> None:
        self.documents += 1
        if self.documents > 1:
            self._fail(
                event,
                "MLS006",
                "only one YAML document is allowed per file",
                "remove the second `---` and merge the content into one document",
            )
        if event.directives:
            directive = re.search(r"^%", self._text, re.MULTILINE)
            offset = directive.start() if directive else 0
            self.diagnostics.append(
                Diagnostic(
                    "MLS005",
                    "YAML directives (%YAML, %TAG) are not allowed",
                    _offset_location(self._text, offset, self.file),
                    hint="remove the directive; mlspec reads YAML 1.2",
                )
            )
            raise _FatalProblemError

    def _on_node(self, event: Event) -> None:
        self._nodes += 1
        unusual = event.anchor is not None or event.tag is not None
        if unusual or self._nodes > self.limits.max_nodes:
            self._check_node(event)
        frame = self._stack[-1] if self._stack else None
        if frame is not None and frame.key is None and isinstance(frame.container, dict):
            self._on_key(frame, event)
        else:
            self._on_value(frame, event)

    def _check_node(self, event: Event) -> None:
        """Fail on a node over the cap, with an anchor, or with an explicit tag."""
        if self._nodes > self.limits.max_nodes:
            self._fail(event, "MLS010", f"more than {self.limits.max_nodes} YAML nodes")
        if event.anchor is not None:
            self._fail(event, "MLS004", "anchors (&name) are not allowed", _NO_ANCHORS_HINT)
        if event.tag is not None and not _implicit_tag(event):
            self._fail(
                event,
                "MLS003",
                f"explicit tag {safe_text(_short_tag(event.tag))} is not allowed",
                "remove the tag; write plain values",
            )

    def _on_key(self, frame: _Frame, event: Event) -> None:
        if event.kind != SCALAR:
            self._fail(event, "MLS009", "mapping keys must be strings, not collections")
        key = str(event.value)
        if event.plain and (key[:1] not in _LETTERS or key in _NOT_STRING_WORDS):  # else a word
            self._check_plain_key(event, key)
        if len(key) > self.limits.max_scalar_chars:
            self._scalar_too_long(event, key)
        first = frame.keys_at.get(key)
        if first is not None:
            self._duplicate_key(frame, event, key, Location(self.file, *first))
        at = (event.line + 1, event.column + 1)
        frame.keys_at[key] = at
        frame.key, frame.key_at = key, at

    def _duplicate_key(self, frame: _Frame, event: Event, key: str, first: Location) -> NoReturn:
        self.diagnostics.append(
            Diagnostic(
                "MLS002",
                f"duplicate key {safe_text(key)!r} (first defined at line {first.line})",
                Location(self.file, event.line + 1, event.column + 1),
                pointer=f"{frame.pointer}/{escape_token(key)}",
                hint="remove one of the two; YAML readers disagree on which one wins",
                related=(first,),
            )
        )
        raise _FatalProblemError

    def _check_plain_key(self, event: Event, key: str) -> None:
        if key == "<<":
            self._fail(event, "MLS004", "merge keys (<<) are not allowed", _NO_ANCHORS_HINT)
        if _INT_DEC.match(key) and not _INT_LEADING_ZERO.match(key):
            return  # version numbers such as `7:` are keys written as integers
        ambiguity = _plain_scalar_problem(key)
        resolved = None if ambiguity else _resolve_plain(key)
        if ambiguity or not isinstance(resolved, str):
            self._fail(
                event,
                "MLS009",
                f"mapping key {safe_text(key)!r} is not a string to every YAML reader",
                f'quote it: "{safe_text(key)}"',
            )

    def _on_value(self, frame: _Frame | None, event: Event) -> None:
        """Build the node, record where it is, attach it to its parent, open it if it
        is a collection."""
        key, key_at = "", None
        if frame is None:
            ptr, depth = "", 0
        elif isinstance(frame.container, dict):
            assert frame.key is not None
            key, key_at = frame.key, frame.key_at
            token = key if "~" not in key and "/" not in key else escape_token(key)
            ptr, depth = f"{frame.pointer}/{token}", frame.depth + 1
        else:
            ptr, depth = f"{frame.pointer}/{len(frame.container)}", frame.depth + 1
        if depth > self.limits.max_depth:
            self._fail(event, "MLS011", f"nesting deeper than {self.limits.max_depth} levels")
        value: Any
        plain_text: str | None = None
        kind = event.kind
        if kind == SCALAR:
            value = str(event.value)
            if len(value) > self.limits.max_scalar_chars:
                self._scalar_too_long(event, value)
            if event.plain:
                plain_text = value
                if value[:1] not in _LETTERS or value in _NOT_STRING_WORDS:  # else a word
                    value = self._plain_value(event, value, ptr)
        else:
            value = {} if kind == MAPPING else []
        source = (self.file, event.line + 1, event.column + 1, key_at, plain_text)
        self.sources.set(ptr, _new(NodeSource, source))
        if frame is None:
            self.root = value
        elif isinstance(frame.container, dict):
            frame.container[key] = value
            frame.key = None
        else:
            frame.container.append(value)
        if kind != SCALAR:
            self._stack.append(_Frame(value, ptr, depth))

    def _plain_value(self, event: Event, text: str, ptr: str) -> Any:
        if _SAFE_INT.match(text):  # the most common non-word: decide it in one step
            return int(text)
        problem = _plain_scalar_problem(text)
        if problem is not None:
            self._fail(event, "MLS013", problem[0], problem[1], ptr)
        return _resolve_plain(text)

    def _scalar_too_long(self, event: Event, text: str) -> NoReturn:
        self._fail(
            event,
            "MLS012",
            f"a scalar of {len(text)} characters is over the limit of "
            f"{self.limits.max_scalar_chars}",
        )

    def _fail(
        self,
        event: Event,
        code: str,
        message: str,
        hint: str | None = None,
        ptr: str | None = None,
    ) -> NoReturn:
        location = Location(self.file, event.line + 1, event.column + 1)
        self.diagnostics.append(Diagnostic(code, message, location, ptr, hint))
        raise _FatalProblemError


_NO_ANCHORS_HINT = "write the value out in full; mlspec templates cover reuse"
_new = tuple.__new__  # a NamedTuple without the Python-level `__new__`: all fields, in order
# The plain words that are not strings to some YAML reader: any other plain scalar that
# starts with a letter is a string to all of them (see `_resolve_plain` and
# `_plain_scalar_problem`, which decide for everything else).
_NOT_STRING_WORDS = _BOOL_11_WORDS | _NULL_WORDS | frozenset(_BOOL_12)


def _implicit_tag(event: Event) -> bool:
    """ruamel reports ``!`` (non-specific tag) for quoted scalars in some versions."""
    return event.kind == SCALAR and not event.plain and event.tag == "!"


def _short_tag(tag: object) -> str:
    """``tag:yaml.org,2002:str`` is written ``!!str``: say it the way the user wrote it."""
    return str(tag).replace("tag:yaml.org,2002:", "!!")


def _resolve_plain(text: str) -> Any:
    """Resolve a plain scalar by the YAML 1.2 core schema."""
    if text[:1] in _LETTERS:  # most scalars: a word is a null, a boolean or a string
        return None if text in _NULL_WORDS else _BOOL_12.get(text, text)
    if _NULL.match(text):
        return None
    if text in _BOOL_12:
        return _BOOL_12[text]
    if _INT_DEC.match(text):
        return int(text)
    if _INT_OCT.match(text):
        return int(text[2:], 8)
    if _INT_HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text) and any(c.isdigit() for c in text):
        return float(text)
    return text


def _plain_scalar_problem(text: str) -> tuple[str, str] | None:
    """Why a plain scalar is unsafe to read, or None. Returns (message, hint)."""
    if text[:1] in _LETTERS and text not in _BOOL_11_WORDS:
        return None  # of the patterns below, only the YAML 1.1 booleans start with a letter
    shown = safe_text(text)
    if text in _BOOL_11_WORDS:
        return (
            f"plain `{shown}` is a boolean to YAML 1.1 readers and a string to YAML 1.2",
            f'write `true` or `false` for a boolean, or quote it for a string: "{shown}"',
        )
    if _INT_LEADING_ZERO.match(text):
        return (
            f"plain `{shown}` is an octal number to YAML 1.1 readers and decimal to YAML 1.2",
            f'quote it for a string ("{shown}") or drop the leading zero for a number',
        )
    if _YAML11_NUMBER.match(text) and any(c.isdigit() for c in text):
        return (
            f"plain `{shown}` is a number to YAML 1.1 readers and a string to YAML 1.2",
            f'quote it: "{shown}"',
        )
    if _TIMESTAMP.match(text):
        return (
            f"plain `{shown}` is a timestamp to YAML 1.1 readers",
            f'quote it: "{shown}"',
        )
    if _NUMBER_TEXT.match(text) and len(text) > _MAX_NUMBER_CHARS:
        return (f"a {len(text)}-character number is not allowed", "quote it if it is an id")
    if _FLOAT.match(text) and not math.isfinite(float(text)):
        return (f"`{shown}` is too large for a number", "write a finite number")
    if _FLOAT_SPECIAL.match(text):
        return (f"`{shown}` (infinity or NaN) is not allowed", "write a finite number")
    if text == "<<":
        return ("merge keys (<<) are not allowed", _NO_ANCHORS_HINT)
    return None
