"""Typed quantities of the platform spec: cpu, memory, durations and percentages.

A spec says ``cpu: 4``, ``memory: 16Gi``, ``timeout: 4h`` or ``errorRate: 0.5%``. These
are parsed into small immutable value types (`Cpu`, `Memory`, `Duration`, `Percent`)
instead of being passed through as strings, so that a typo fails validation with a
helpful message, and every value has exactly one spelling (`canonical`) in the
compiled output, however it was written in the spec.

Each type works as a pydantic v2 field annotation, in strict mode too: validation
accepts the documented input forms, serialization produces the canonical string,
and the JSON schema describes the accepted forms (``pattern``, ``examples``).
The plain functions `parse_cpu`, `parse_memory`, `parse_duration` and
`parse_percent` do the same without pydantic.

All arithmetic is exact (integers and `fractions.Fraction`): no float rounding can
turn ``0.1`` cores into a fraction of a millicore or ``1.5Gi`` into a wrong byte count.
"""

from __future__ import annotations

import abc
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, ClassVar, Self

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "Cpu",
    "Duration",
    "Memory",
    "Percent",
    "QuantityError",
    "parse_cpu",
    "parse_duration",
    "parse_memory",
    "parse_percent",
]

# Unsigned decimal number: "2", "2.", "2.5", ".5". `[0-9]`, not `\d`, which would also
# match non-ASCII digits; the same text is used in the JSON schema patterns.
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
# The number with an optional minus, so that "-1Gi" gets "must be greater than 0"
# rather than a syntax error. ("+1Gi" is valid Kubernetes, but not accepted here.)
_SIGNED_NUMBER = rf"-?{_NUMBER}"


class QuantityError(ValueError):
    """An invalid quantity. A `ValueError`, so pydantic reports it as a validation error.

    ``suggestions`` holds valid spellings the user probably meant (maybe empty), for
    callers that want to turn them into a separate hint.
    """

    def __init__(self, message: str, suggestions: Iterable[str] = ()) -> None:
        self.suggestions: tuple[str, ...] = tuple(suggestions)
        super().__init__(message + _did_you_mean(self.suggestions))


# Longer strings are rejected outright: no real quantity is this long, and huge digit
# strings would hit Python's int conversion limit with an unhelpful message.
_MAX_TEXT = 64

# --------------------------------------------------------------------------- helpers


def _did_you_mean(suggestions: tuple[str, ...]) -> str:
    if not suggestions:
        return ""
    quoted = [json.dumps(s) for s in suggestions]
    alternatives = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" (did you mean {alternatives}?)"


def _show(value: object) -> str:
    """How an offending input appears in a message: strings quoted, numbers as written."""
    if isinstance(value, str):
        text = str(value) if len(value) <= _MAX_TEXT else value[:_MAX_TEXT] + "..."
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, bool) else _number_text(value)
    return f"of type {type(value).__name__}"


def _number_text(value: int | float) -> str:
    # `float.__repr__` rather than `repr`: YAML loaders return float subclasses that
    # may override `__repr__`; this is the shortest text that reads back as the value.
    return str(int(value)) if isinstance(value, int) else float.__repr__(float(value))


def _exact(value: int | float) -> Fraction:
    """The exact value of a YAML/JSON number, taking a float as its shortest decimal text.

    ``0.1`` means one tenth here, not the binary float nearest to it.
    """
    if isinstance(value, int):
        return Fraction(int(value))
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return Fraction(float.__repr__(float(value)))


def _decimal_scale(denominator: int) -> int:
    """Digits after the point needed to write ``n / denominator`` exactly (2**a * 5**b)."""
    twos = (denominator & -denominator).bit_length() - 1
    rest, fives = denominator >> twos, 0
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        raise ValueError(f"1/{denominator} has no finite decimal expansion")
    return max(twos, fives)


def _decimal_text(value: Fraction) -> str:
    """Plain decimal notation of a value with a finite decimal expansion, no trailing zeros."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    scale = _decimal_scale(value.denominator)
    digits = str(int(value * 10**scale)).rjust(scale + 1, "0")
    if scale == 0:
        return sign + digits
    whole, frac = digits[:-scale], digits[-scale:].rstrip("0")
    return sign + whole + ("." + frac if frac else "")


def _to_decimal(value: Fraction) -> Decimal:
    # Built from text, so exact whatever the decimal context's precision is.
    return Decimal(_decimal_text(value))


def _valid_spellings(kind: type[_Quantity], candidates: Iterable[str]) -> list[str]:
    """The distinct candidates that parse as a `kind`, in order."""
    valid: list[str] = []
    for candidate in candidates:
        if candidate in valid:
            continue
        try:
            # Without suggestions: a candidate must not look for suggestions in turn.
            kind.from_text(candidate, suggest=False)
        except ValueError:
            continue
        valid.append(candidate)
    return valid


def _check_length(what: str, text: str) -> None:
    if len(text) > _MAX_TEXT:
        raise QuantityError(f"invalid {what} {_show(text)}: longer than {_MAX_TEXT} characters")


def _require_positive_int(kind: str, name: str, value: object) -> None:
    """Checks of the dataclass constructors, which take the stored magnitude directly."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{kind}: {name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{kind}: {name} must be greater than 0, got {value}")


# ------------------------------------------------------------------- pydantic glue


class _Quantity(abc.ABC):
    """Pydantic support shared by the quantity types.

    Validation is a plain function (`parse`), not pydantic's int/str schemas, because
    strict mode must still accept e.g. both ``4`` and ``"500m"`` for a cpu, while
    rejecting ``True``. Serialization always yields the canonical string.
    """

    __slots__ = ()

    # JSON schema of the accepted input (validation mode)...
    _JSON_SCHEMA: ClassVar[dict[str, Any]]
    # ...and of the canonical string that serialization produces.
    _SERIALIZED_JSON_SCHEMA: ClassVar[dict[str, Any]]

    @property
    @abc.abstractmethod
    def canonical(self) -> str:
        """The shortest exact spelling, as Kubernetes or Prometheus write it."""

    @classmethod
    @abc.abstractmethod
    def parse(cls, value: object) -> Self:
        """Parse any accepted input form; raise `QuantityError` if it is invalid."""

    @classmethod
    @abc.abstractmethod
    def from_text(cls, text: str, *, suggest: bool = True) -> Self:
        """Parse the string form; ``suggest=False`` skips looking for "did you mean"s."""

    def __str__(self) -> str:
        return self.canonical

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        serialized = handler.mode == "serialization"
        source = cls._SERIALIZED_JSON_SCHEMA if serialized else cls._JSON_SCHEMA
        # A fresh copy each time: pydantic may add keys (title, ...) to what we return.
        copied: JsonSchemaValue = json.loads(json.dumps(source))
        return copied


# ----------------------------------------------------------------------------- cpu

_CPU_PATTERN = rf"{_NUMBER}m?"
_CPU_RE = re.compile(rf"(?P<number>{_SIGNED_NUMBER})(?P<milli>m?)")
_CPU_EXPECTED = 'expected a number of cores such as 2 or 0.5, or millicores such as "500m"'
_CPU_NOISE_RE = re.compile(r"^\+|\s+|v?cpus?$|cores?$")


@dataclass(frozen=True, order=True, slots=True)
class Cpu(_Quantity):
    """A positive amount of cpu, a whole number of millicores (Kubernetes' finest unit).

    Input: an int or float number of cores (``4``, ``2.5``) or a Kubernetes cpu
    quantity string (``"2"``, ``"0.5"``, ``"500m"``).
    Canonical: whole cores as an integer (``"4"``), anything else in millicores
    (``"500m"``, ``"2500m"``).
    """

    millicores: int

    _JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": f"^{_CPU_PATTERN}$"},
        ],
        "description": (
            "CPU: a number of cores (4, 0.5) or a Kubernetes cpu quantity "
            '("2", "500m" = half a core). Must be positive, in whole millicores.'
        ),
        "examples": [4, "500m"],
    }
    _SERIALIZED_JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": "^[1-9][0-9]*m?$",
        "description": "CPU as a canonical Kubernetes quantity: whole cores, else millicores.",
        "examples": ["4", "500m"],
    }

    def __post_init__(self) -> None:
        _require_positive_int("Cpu", "millicores", self.millicores)

    @property
    def cores(self) -> Decimal:
        return _to_decimal(Fraction(self.millicores, 1000))

    @property
    def canonical(self) -> str:
        whole, rest = divmod(self.millicores, 1000)
        return str(whole) if rest == 0 else f"{self.millicores}m"

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.from_text(value)
        if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
            raise QuantityError(f"invalid cpu quantity {_show(value)}: {_CPU_EXPECTED}")
        if isinstance(value, int | float):
            return cls._from_amount(value, _exact(value))
        raise QuantityError(f"invalid cpu quantity {_show(value)}: {_CPU_EXPECTED}")

    @classmethod
    def from_text(cls, text: str, *, suggest: bool = True) -> Self:
        _check_length("cpu quantity", text)
        match = _CPU_RE.fullmatch(text)
        if match is None:
            suggestions = _cpu_suggestions(text) if suggest else []
            raise QuantityError(f"invalid cpu quantity {_show(text)}: {_CPU_EXPECTED}", suggestions)
        number = Fraction(match["number"])
        return cls._from_amount(text, number / 1000 if match["milli"] else number)

    @classmethod
    def _from_amount(cls, value: object, cores: Fraction) -> Self:
        prefix = f"invalid cpu quantity {_show(value)}"
        if cores <= 0:
            raise QuantityError(f"{prefix}: must be greater than 0")
        millicores = cores * 1000
        if millicores.denominator != 1:
            raise QuantityError(f"{prefix}: finer than 1m (one millicore), the smallest cpu unit")
        return cls(int(millicores))


def _cpu_suggestions(text: str) -> list[str]:
    # "500 m", "500M" (mega-cores: surely meant milli), "2 cores", "2vCPU", "+2".
    squeezed = _CPU_NOISE_RE.sub("", text.strip().lower())
    return _valid_spellings(Cpu, [squeezed])


def parse_cpu(value: object) -> Cpu:
    """Parse a cpu quantity (see `Cpu`); raises `QuantityError` (a `ValueError`)."""
    return Cpu.parse(value)


# -------------------------------------------------------------------------- memory

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_MEMORY_SUFFIXES = {**_BINARY_SUFFIXES, **_DECIMAL_SUFFIXES}
# Suffixes `Memory.canonical` may emit, largest first within each group: all binary
# ones, then decimal ones from M up. Never "k": a kilobyte-granular size reads better
# in plain bytes ("1000", not "1k"), and "k" is too easily misread as "Ki".
_CANONICAL_MEMORY_SUFFIXES = [
    (suffix, _MEMORY_SUFFIXES[suffix])
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki", "E", "P", "T", "G", "M")
]
_MEMORY_SUFFIX_ALTERNATION = "|".join(_MEMORY_SUFFIXES)
_MEMORY_PATTERN = rf"{_NUMBER}(?:{_MEMORY_SUFFIX_ALTERNATION})?"
_MEMORY_RE = re.compile(rf"(?P<number>{_SIGNED_NUMBER})(?P<suffix>{_MEMORY_SUFFIX_ALTERNATION})?")
_MEMORY_EXPECTED = "expected a number with a suffix Ki, Mi, Gi, Ti, Pi, Ei, k, M, G, T, P or E"
_MEMORY_LOOSE_RE = re.compile(r"(?P<number>[0-9.]+)(?P<unit>[a-z]*)")
# At most two exponent digits: "1e99999999" must not build a 100-million-digit number.
_MEMORY_EXPONENT_RE = re.compile(rf"{_NUMBER}e[+-]?[0-9]{{1,2}}")


@dataclass(frozen=True, order=True, slots=True)
class Memory(_Quantity):
    """A positive whole number of bytes.

    Input: an int number of bytes, or a string: a plain or decimal number with an
    optional binary (Ki Mi Gi Ti Pi Ei) or decimal (k M G T P E) suffix, e.g. ``"16Gi"``,
    ``"1.5Gi"``, ``"1G"``, ``"1000000"``.
    Canonical: the shortest exact spelling among plain bytes, ``N`` + a binary suffix and
    ``N`` + a decimal suffix M, G, T, P or E (``k`` is never emitted), ``N`` an integer;
    on a tie binary wins, then decimal, then plain bytes. So ``256Gi`` stays ``"256Gi"``,
    ``1.5Gi`` becomes ``"1536Mi"``, ``1G`` stays ``"1G"``, ``1000`` stays ``"1000"``.
    """

    bytes: int

    _JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"type": "integer", "exclusiveMinimum": 0},
            {"type": "string", "pattern": f"^{_MEMORY_PATTERN}$"},
        ],
        "description": (
            "Memory: a number of bytes, or a Kubernetes quantity with a binary suffix "
            "(Ki, Mi, Gi, Ti, Pi, Ei) or a decimal one (k, M, G, T, P, E), e.g. 16Gi or 1.5Gi. "
            "Must be a positive whole number of bytes."
        ),
        "examples": ["16Gi", "512Mi"],
    }
    _SERIALIZED_JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": "^[1-9][0-9]*(Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)?$",
        "description": "Memory as the shortest exact Kubernetes quantity, binary suffixes first.",
        "examples": ["16Gi", "512Mi"],
    }

    def __post_init__(self) -> None:
        _require_positive_int("Memory", "bytes", self.bytes)

    @property
    def canonical(self) -> str:
        candidates = [
            f"{self.bytes // factor}{suffix}"
            for suffix, factor in _CANONICAL_MEMORY_SUFFIXES
            if self.bytes % factor == 0
        ]
        candidates.append(str(self.bytes))
        return min(candidates, key=len)  # `min` keeps the first of equally short ones

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.from_text(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return cls._from_amount(value, Fraction(int(value)))
        suggestions: list[str] = []
        if isinstance(value, float) and not isinstance(value, bool):
            suggestions = _memory_float_suggestions(value)
        raise QuantityError(
            f"invalid memory quantity {_show(value)}: expected an integer number of bytes "
            'or a string such as "16Gi"',
            suggestions,
        )

    @classmethod
    def from_text(cls, text: str, *, suggest: bool = True) -> Self:
        _check_length("memory quantity", text)
        match = _MEMORY_RE.fullmatch(text)
        if match is None:
            suggestions = _memory_suggestions(text) if suggest else []
            raise QuantityError(
                f"invalid memory quantity {_show(text)}: {_MEMORY_EXPECTED}", suggestions
            )
        factor = _MEMORY_SUFFIXES.get(match["suffix"] or "", 1)
        return cls._from_amount(text, Fraction(match["number"]) * factor)

    @classmethod
    def _from_amount(cls, value: object, amount: Fraction) -> Self:
        prefix = f"invalid memory quantity {_show(value)}"
        if amount <= 0:
            raise QuantityError(f"{prefix}: must be greater than 0")
        if amount.denominator != 1:
            raise QuantityError(f"{prefix}: not a whole number of bytes")
        return cls(int(amount))


def _memory_suggestions(text: str) -> list[str]:
    """Likely intended spellings of "16GB", "16gi", "16 Gi", "16GiB", "16K", "1e9"."""
    squeezed = re.sub(r"\s+", "", text).lower()
    if _MEMORY_EXPONENT_RE.fullmatch(squeezed):
        exact = Fraction(squeezed)
        return [Memory(int(exact)).canonical] if exact > 0 and exact.denominator == 1 else []
    match = _MEMORY_LOOSE_RE.fullmatch(squeezed)
    if match is None:
        return []
    number, unit = match["number"], match["unit"]
    if unit.endswith("b"):  # "GB", "GiB", "B": the byte unit is implied
        unit = unit[:-1]
    candidates: list[str] = []
    if unit in {"", "k", "m", "g", "t", "p", "e"}:
        decimal = "k" if unit == "k" else unit.upper()
        candidates = [number + decimal, number + decimal.upper() + "i"] if unit else [number]
    elif unit in {"ki", "mi", "gi", "ti", "pi", "ei"}:
        candidates = [number + unit.capitalize()]
    return _valid_spellings(Memory, candidates)


def _memory_float_suggestions(value: float) -> list[str]:
    """``memory: 1024.0`` -> "1024"; a fractional float is no byte count to suggest."""
    if not math.isfinite(value) or not value.is_integer():
        return []
    return _valid_spellings(Memory, [str(int(value))])


def parse_memory(value: object) -> Memory:
    """Parse a memory quantity (see `Memory`); raises `QuantityError` (a `ValueError`)."""
    return Memory.parse(value)


# ------------------------------------------------------------------------ duration

_DURATION_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# "ms" before "m" and "s": alternation takes the first alternative that matches.
_DURATION_UNIT_ALTERNATION = "ms|s|m|h|d"
_DURATION_PATTERN = rf"(?:{_NUMBER}(?:{_DURATION_UNIT_ALTERNATION}))+"
_DURATION_RE = re.compile(rf"-?{_DURATION_PATTERN}")
_DURATION_PART_RE = re.compile(rf"(?P<number>{_NUMBER})(?P<unit>{_DURATION_UNIT_ALTERNATION})")
_DURATION_EXPECTED = (
    'expected a number with a unit ms, s, m, h or d, e.g. "30s", "150ms" or "1h30m"'
)
# Spellings people write for the units, mapped to a unit and a multiplier.
_DURATION_ALIASES: dict[str, tuple[str, int]] = {
    **{alias: ("ms", 1) for alias in ("ms", "msec", "msecs", "millisecond", "milliseconds")},
    **{alias: ("s", 1) for alias in ("s", "sec", "secs", "second", "seconds")},
    **{alias: ("m", 1) for alias in ("m", "min", "mins", "minute", "minutes")},
    **{alias: ("h", 1) for alias in ("h", "hr", "hrs", "hour", "hours")},
    **{alias: ("d", 1) for alias in ("d", "day", "days")},
    **{alias: ("d", 7) for alias in ("w", "week", "weeks")},
}
_DURATION_LOOSE_PART_RE = re.compile(r"(?P<number>[0-9.]+)(?P<unit>[a-z]+)")


@dataclass(frozen=True, order=True, slots=True)
class Duration(_Quantity):
    """A positive duration, a whole number of milliseconds.

    Input: a string of one or more ``<number><unit>`` parts with units ms, s, m, h, d
    (``"150ms"``, ``"4h"``, ``"1h30m"``, ``"1.5h"``, ``"2d"``), summed like Go's
    ``time.ParseDuration`` (plus ``d`` = 24h; parts in any order, so ``"30m1h"`` is 1h30m).
    Bare numbers are rejected: the unit is not guessable.
    Canonical: the non-zero parts of days, hours, minutes, seconds and milliseconds,
    largest first: ``"90s"`` -> ``"1m30s"``, ``"36h"`` -> ``"1d12h"``,
    ``"1500ms"`` -> ``"1s500ms"``. That is also a valid Prometheus duration.
    """

    milliseconds: int

    _JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": f"^{_DURATION_PATTERN}$",
        "description": (
            "A duration: one or more <number><unit> parts, units ms, s, m, h, d "
            "(e.g. 150ms, 4h, 1h30m). Must be positive, in whole milliseconds."
        ),
        "examples": ["150ms", "4h", "1h30m"],
    }
    _SERIALIZED_JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": "^(?=[0-9])([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$",
        "description": "A duration in canonical form: days, hours, minutes, seconds, ms.",
        "examples": ["150ms", "4h", "1h30m"],
    }

    def __post_init__(self) -> None:
        _require_positive_int("Duration", "milliseconds", self.milliseconds)

    @property
    def seconds(self) -> Decimal:
        return _to_decimal(Fraction(self.milliseconds, 1000))

    @property
    def canonical(self) -> str:
        return self._compound(("d", "h", "m", "s", "ms"))

    def to_prometheus(self) -> str:
        """A Prometheus duration (units ms s m h d w y, largest first): the canonical form."""
        return self.canonical

    def to_go(self) -> str:
        """A Go ``time.ParseDuration`` string (no ``d`` unit): ``"36h"``, ``"1m30s"``."""
        return self._compound(("h", "m", "s", "ms"))

    def _compound(self, units: tuple[str, ...]) -> str:
        parts: list[str] = []
        rest = self.milliseconds
        for unit in units:
            count, rest = divmod(rest, _DURATION_UNITS_MS[unit])
            if count:
                parts.append(f"{count}{unit}")
        return "".join(parts)

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.from_text(value)
        suggestions: list[str] = []
        if isinstance(value, int | float) and not isinstance(value, bool):
            suggestions = _valid_spellings(Duration, [_number_text(value) + "s"])
        raise QuantityError(
            f"invalid duration {_show(value)}: expected a string with a unit ms, s, m, h or d",
            suggestions,
        )

    @classmethod
    def from_text(cls, text: str, *, suggest: bool = True) -> Self:
        _check_length("duration", text)
        if _DURATION_RE.fullmatch(text) is None:
            suggestions = _duration_suggestions(text) if suggest else []
            raise QuantityError(
                f"invalid duration {_show(text)}: {_DURATION_EXPECTED}", suggestions
            )
        total = sum(
            (
                Fraction(part["number"]) * _DURATION_UNITS_MS[part["unit"]]
                for part in _DURATION_PART_RE.finditer(text)
            ),
            Fraction(0),
        )
        return cls._from_amount(text, -total if text.startswith("-") else total)

    @classmethod
    def _from_amount(cls, value: object, milliseconds: Fraction) -> Self:
        prefix = f"invalid duration {_show(value)}"
        if milliseconds <= 0:
            raise QuantityError(f"{prefix}: must be greater than 0")
        if milliseconds.denominator != 1:
            raise QuantityError(f"{prefix}: finer than 1ms, the smallest duration unit")
        return cls(int(milliseconds))


def _duration_suggestions(text: str) -> list[str]:
    """Likely intended spellings of "4 h", "4H", "1h 30m", "30sec", "2 hours", "1w", "30"."""
    squeezed = re.sub(r"\s+", "", text).lower()
    if re.fullmatch(_NUMBER, squeezed):  # a bare number: seconds are the usual unit
        return _valid_spellings(Duration, [squeezed + "s"])
    parts = list(_DURATION_LOOSE_PART_RE.finditer(squeezed))
    if not parts or "".join(part[0] for part in parts) != squeezed:
        return []
    rewritten: list[str] = []
    for part in parts:
        alias = _DURATION_ALIASES.get(part["unit"])
        if alias is None:
            return []
        unit, multiplier = alias
        try:
            number = Fraction(part["number"]) * multiplier
        except ValueError:  # "1..5h"
            return []
        rewritten.append(_decimal_text(number) + unit)
    return _valid_spellings(Duration, ["".join(rewritten)])


def parse_duration(value: object) -> Duration:
    """Parse a duration (see `Duration`); raises `QuantityError` (a `ValueError`)."""
    return Duration.parse(value)


# ------------------------------------------------------------------------- percent

_PERCENT_PATTERN = rf"{_NUMBER}%"
_PERCENT_RE = re.compile(rf"(?P<number>{_SIGNED_NUMBER})%")
_PERCENT_EXPECTED = 'expected a number followed by %, e.g. "1%" or "0.5%"'


@dataclass(frozen=True, order=True, slots=True)
class Percent(_Quantity):
    """A percentage from 0% to 100% inclusive.

    Input: a string with a ``%`` suffix only (``"1%"``, ``"0.5%"``); a bare number is
    rejected because ``0.5`` could mean 0.5% or 50%.
    Canonical: the number in plain decimal notation without trailing zeros, then ``%``
    (``"1.50%"`` -> ``"1.5%"``, ``"100.0%"`` -> ``"100%"``).
    """

    percent: Decimal

    _JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": f"^{_PERCENT_PATTERN}$",
        "description": "A percentage from 0% to 100%, written with a % sign (e.g. 1%, 0.5%).",
        "examples": ["1%", "0.5%"],
    }
    _SERIALIZED_JSON_SCHEMA: ClassVar[dict[str, Any]] = {
        "type": "string",
        "pattern": "^(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?%$",
        "description": "A percentage from 0% to 100% in canonical form.",
        "examples": ["1%", "0.5%"],
    }

    def __post_init__(self) -> None:
        value = self.percent
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError(f"Percent: percent must be a finite Decimal, got {value!r}")
        if not 0 <= value <= 100:
            raise ValueError(f"Percent: percent must be between 0 and 100, got {value}")
        # One representation per value ("1.50" -> "1.5"), so that reprs agree too.
        object.__setattr__(self, "percent", _to_decimal(Fraction(value)))

    @property
    def fraction(self) -> Decimal:
        """The percentage as a fraction of one: 1% -> 0.01."""
        return _to_decimal(Fraction(self.percent) / 100)

    @property
    def canonical(self) -> str:
        return _decimal_text(Fraction(self.percent)) + "%"

    @classmethod
    def parse(cls, value: object) -> Self:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.from_text(value)
        suggestions: list[str] = []
        if isinstance(value, int | float) and not isinstance(value, bool):
            suggestions = _percent_number_suggestions(value)
        raise QuantityError(
            f'invalid percentage {_show(value)}: expected a string with a % suffix, e.g. "1%"',
            suggestions,
        )

    @classmethod
    def from_text(cls, text: str, *, suggest: bool = True) -> Self:
        _check_length("percentage", text)
        match = _PERCENT_RE.fullmatch(text)
        if match is None:
            suggestions = _percent_suggestions(text) if suggest else []
            raise QuantityError(
                f"invalid percentage {_show(text)}: {_PERCENT_EXPECTED}", suggestions
            )
        return cls._from_amount(text, Fraction(match["number"]))

    @classmethod
    def _from_amount(cls, value: object, percent: Fraction) -> Self:
        if not 0 <= percent <= 100:
            raise QuantityError(f"invalid percentage {_show(value)}: must be between 0% and 100%")
        return cls(_to_decimal(percent))


def _percent_suggestions(text: str) -> list[str]:
    """Likely intended spellings of "1 %", "1", "1pct" or "1percent": "1%"."""
    squeezed = re.sub(r"\s+", "", text).lower()
    squeezed = re.sub(r"(%|pct|percent)$", "", squeezed)
    return _valid_spellings(Percent, [squeezed + "%"])


def _percent_number_suggestions(value: int | float) -> list[str]:
    """For ``errorRate: 0.5``: "0.5%", or "50%" if it was meant as a fraction."""
    try:
        exact = _exact(value)
    except ValueError:
        return []
    candidates = [_decimal_text(exact) + "%"]
    if 0 < exact < 1:
        candidates.append(_decimal_text(exact * 100) + "%")
    return _valid_spellings(Percent, candidates)


def parse_percent(value: object) -> Percent:
    """Parse a percentage (see `Percent`); raises `QuantityError` (a `ValueError`)."""
    return Percent.parse(value)
