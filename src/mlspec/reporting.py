"""Diagnostic reporters: one class per output format.

The CLI picks a reporter by ``--format``; each turns a list of diagnostics (and a
one-line summary) into text. Reporters never decide exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import ClassVar, Protocol

from mlspec.diagnostics import Diagnostic, Severity

FORMATS = ("text", "json", "github", "sarif")


class Reporter(Protocol):
    def render(self, diagnostics: Sequence[Diagnostic], summary: str) -> str: ...


def counts(diagnostics: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diagnostics if d.is_error)
    return errors, len(diagnostics) - errors


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class TextReporter:
    """``file:line:col: error[MLS101]: message`` lines, coloured on a terminal."""

    _COLOURS: ClassVar[dict[Severity, str]] = {Severity.ERROR: "31", Severity.WARNING: "33"}

    def __init__(self, colour: bool = False) -> None:
        self.colour = colour

    def _paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def render(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        lines = [self._line(d) for d in diagnostics]
        errors, warnings = counts(diagnostics)
        if errors or warnings:
            tally = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
            lines.append(self._paint(tally, "1"))
        if summary:
            lines.append(summary)
        return "\n".join(lines) + "\n" if lines else ""

    def _line(self, d: Diagnostic) -> str:
        where = f"{d.location}: " if d.location else ""
        severity = self._paint(f"{d.severity.value}[{d.code}]", self._COLOURS[d.severity])
        text = f"{where}{severity}: {d.message}"
        if d.hint:
            text += "\n    " + self._paint(f"hint: {d.hint}", "2")
        for related in d.related:
            text += f"\n    see {related}"
        return text


class JsonReporter:
    def render(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        errors, warnings = counts(diagnostics)
        document = {
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "summary": summary,
            "diagnostics": [as_dict(d) for d in diagnostics],
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def as_dict(d: Diagnostic) -> dict[str, object]:
    loc = d.location
    return {
        "code": d.code,
        "severity": d.severity.value,
        "message": d.message,
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "column": loc.col if loc else None,
        "pointer": d.pointer,
        "hint": d.hint,
        "related": [str(r) for r in d.related],
    }


class GithubReporter:
    """GitHub Actions workflow commands: annotations on the pull request's lines."""

    def render(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        lines = [self._line(d) for d in diagnostics]
        if summary:
            lines.append(summary)
        return "\n".join(lines) + "\n" if lines else ""

    def _line(self, d: Diagnostic) -> str:
        command = "error" if d.is_error else "warning"
        props = [f"title={_escape_property(d.code)}"]
        if d.location:
            props = [
                f"file={_escape_property(d.location.file)}",
                f"line={d.location.line}",
                f"col={d.location.col}",
                *props,
            ]
        message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
        return f"::{command} {','.join(props)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class SarifReporter:
    """SARIF 2.1.0, for GitHub code scanning (`upload-sarif`) and other SAST dashboards."""

    SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
    INFO_URI = "https://mlspec.dev"

    def render(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        codes = sorted({d.code for d in diagnostics})
        run = {
            "tool": {
                "driver": {
                    "name": "mlspec",
                    "informationUri": self.INFO_URI,
                    "rules": [{"id": code, "name": code} for code in codes],
                }
            },
            "results": [self._result(d, codes.index(d.code)) for d in diagnostics],
        }
        document = {"$schema": self.SCHEMA, "version": "2.1.0", "runs": [run]}
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def _result(self, d: Diagnostic, rule_index: int) -> dict[str, object]:
        text = d.message + (f" (hint: {d.hint})" if d.hint else "")
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": rule_index,
            "level": "error" if d.is_error else "warning",
            "message": {"text": text},
        }
        if d.location is not None:
            region = {"startLine": d.location.line, "startColumn": d.location.col}
            artifact = {"uri": d.location.file}
            result["locations"] = [
                {"physicalLocation": {"artifactLocation": artifact, "region": region}}
            ]
        return result


def reporter_for(name: str, colour: bool = False) -> Reporter:
    if name == "json":
        return JsonReporter()
    if name == "github":
        return GithubReporter()
    if name == "sarif":
        return SarifReporter()
    return TextReporter(colour)
