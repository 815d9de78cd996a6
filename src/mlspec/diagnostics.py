"""Diagnostics: errors are data, not exceptions thrown across stages.

Every stage returns its value together with a list of `Diagnostic`s. A diagnostic
names a stable code (``MLS101``), a severity, a message, where in the source it
points (file:line:col plus the JSON pointer of the offending node) and, when we can
tell, a hint on how to fix it.

Code ranges:
    MLS0xx  reading and parsing YAML        MLS5xx  templates
    MLS1xx  schema and types                MLS6xx  graph, selection and capacity
    MLS2xx  names                           MLS7xx  policy
    MLS3xx  references                      MLS8xx  compile and output
    MLS4xx  environments and patches        MLS9xx  mlspec itself (I/O, tools, bugs)

Within MLS8xx: 80x the output checks (paths, secrets, schemas, drift), 81x-82x
serving and monitoring, 83x pipelines and schedules, 84x tenancy, Kueue and GPU
sharing, 86x the model registry. MLS95x are registry reconciliation failures.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Location:
    """A position in a source file; ``line`` and ``col`` are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location | None = None
    pointer: str | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR
    related: tuple[Location, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (
            loc.file if loc else "",
            loc.line if loc else 0,
            loc.col if loc else 0,
            self.code,
            self.message,
        )


class ExitCode(enum.IntEnum):
    """Exit codes across the CLI (RELIABILITY.md)."""

    OK = 0
    INPUT_ERROR = 1
    TOOL_ERROR = 2


class MlspecError(Exception):
    """mlspec could not do its job (I/O, environment, usage). Maps to exit code 2."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sorted_unique(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Stable order for output; the same problem found twice is reported once."""
    seen: set[tuple[str, str, Location | None, str | None]] = set()
    unique: list[Diagnostic] = []
    for diag in diagnostics:
        key = (diag.code, diag.message, diag.location, diag.hint)
        if key not in seen:
            seen.add(key)
            unique.append(diag)
    return sorted(unique, key=Diagnostic.sort_key)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def safe_text(value: object, limit: int = 60) -> str:
    """Render a user value for a message: control characters escaped, length capped."""
    text = str(value)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("\n", "\\n")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
