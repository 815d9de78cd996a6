"""deny / warn / exception results -> located diagnostics.

A result is a string (the message) or an object::

    {"msg": "...", "object": <where>, "field": <what>, "hint": "..."}   # all but msg optional

``object`` names the spec object: its ``source.pointer`` ("/tenants/fraud"), the same
without the leading slash ("tenants/fraud"), or the input object itself. ``field`` is a
path inside it: dotted ("quota.gpu"), a JSON pointer ("/steps/train/image") or an
array (["steps", "train", "image"]), in the spec's camelCase. The diagnostic lands on
that line; a field the spec does not write lands on the nearest enclosing key.

An ``exception`` rule in the same package suppresses results: ``["name"]`` (conftest:
the rules ``deny_name`` / ``warn_name``, or a rule called ``name``), or
``{"object": ..., "field": ..., "rule": ..., "msg": why}`` (results about that object,
and that field and rule when given). Suppressed results are counted, not shown.

An evaluation error in any of these rules fails the run (exit 2): in OPA it would make
the rule silently undefined, which for a deny is a pass.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from mlspec.diagnostics import Diagnostic, MlspecError, Severity, safe_text, sorted_unique
from mlspec.policy.engine import Outcome
from mlspec.policy.modules import RuleRef
from mlspec.spec.source import SourceMap, escape_token

_SEVERITY = {"deny": Severity.ERROR, "warn": Severity.WARNING}
_CODE = {"deny": "MLS701", "warn": "MLS702"}


@dataclass(frozen=True)
class Finding:
    """One deny or warn result, resolved to a spec pointer."""

    rule: RuleRef
    message: str
    object_pointer: str
    field_pointer: str | None
    hint: str | None

    @property
    def pointer(self) -> str:
        return self.object_pointer + (self.field_pointer or "")


@dataclass(frozen=True)
class _Exception:
    rules: frozenset[str]  # empty: any rule
    object_pointer: str | None
    field_pointer: str | None

    def matches(self, finding: Finding) -> bool:
        if self.rules and not _names_rule(self.rules, finding.rule.name):
            return False
        if self.object_pointer is not None and self.object_pointer != finding.object_pointer:
            return False
        return self.field_pointer is None or self.field_pointer == finding.field_pointer


def findings(outcomes: Sequence[Outcome]) -> tuple[list[Finding], list[Finding]]:
    """The findings of one environment's outcomes: kept, and suppressed by exceptions."""
    for outcome in outcomes:
        if outcome.error is not None:
            raise MlspecError(_evaluation_error(outcome))
    found: list[Finding] = []
    exceptions: dict[str, list[_Exception]] = defaultdict(list)
    for outcome in outcomes:
        items = _items(outcome)
        if outcome.rule.kind == "exception":
            exceptions[outcome.rule.package] += [_exception(outcome.rule, i) for i in items]
        else:
            found += [_finding(outcome.rule, item) for item in items]
    kept: list[Finding] = []
    suppressed: list[Finding] = []
    for finding in found:
        excepted = any(e.matches(finding) for e in exceptions[finding.rule.package])
        (suppressed if excepted else kept).append(finding)
    return kept, suppressed


def diagnostics(found: Iterable[Finding], sources: SourceMap) -> list[Diagnostic]:
    return sorted_unique(_diagnostic(finding, sources) for finding in found)


def _diagnostic(finding: Finding, sources: SourceMap) -> Diagnostic:
    kind = finding.rule.kind
    message = f"{finding.message} (policy {finding.rule.package})"
    return Diagnostic(
        _CODE[kind],
        message,
        sources.key_location(finding.pointer),
        finding.pointer,
        finding.hint,
        _SEVERITY[kind],
    )


def merge_environments(per_env: dict[str, list[Diagnostic]]) -> list[Diagnostic]:
    """A result seen in every environment is reported once; others name theirs."""
    if not per_env:
        return []
    everywhere = set.intersection(*(set(found) for found in per_env.values()))
    merged = list(everywhere)
    for env, found in sorted(per_env.items()):
        for diag in found:
            if diag not in everywhere:
                message = f"{diag.message} (environment {env})"
                merged.append(
                    Diagnostic(
                        diag.code, message, diag.location, diag.pointer, diag.hint, diag.severity
                    )
                )
    return sorted_unique(merged)


def _items(outcome: Outcome) -> list[Any]:
    if not outcome.defined:
        return []
    if not isinstance(outcome.value, list):
        raise MlspecError(
            _malformed(
                outcome.rule,
                f"`{outcome.rule.name}` must be a set of results; "
                f"write `{outcome.rule.name} contains result if {{ ... }}`",
            )
        )
    return outcome.value


def _finding(rule: RuleRef, item: Any) -> Finding:
    if isinstance(item, str):
        return Finding(rule, safe_text(item, 500), "", None, None)
    if not isinstance(item, dict) or not isinstance(item.get("msg"), str):
        raise MlspecError(_malformed(rule, "a result must be a string or an object with `msg`"))
    hint = item.get("hint")
    if hint is not None and not isinstance(hint, str):
        raise MlspecError(_malformed(rule, "a result's `hint` must be a string"))
    field = _field_pointer(rule, item.get("field"))
    message = safe_text(item["msg"], 500)
    return Finding(rule, message, _object_pointer(rule, item.get("object")), field, hint)


def _exception(rule: RuleRef, item: Any) -> _Exception:
    if isinstance(item, str):
        return _Exception(frozenset([item]), None, None)
    if isinstance(item, list) and all(isinstance(name, str) for name in item):
        return _Exception(frozenset(item), None, None)
    if isinstance(item, dict) and "object" in item:
        names = item.get("rule")
        if names is not None and not isinstance(names, str):
            raise MlspecError(_malformed(rule, "an exception's `rule` must be a string"))
        where = _object_pointer(rule, item["object"])
        field = _field_pointer(rule, item.get("field"))
        return _Exception(frozenset([names] if names else []), where, field)
    raise MlspecError(
        _malformed(rule, "an exception is a list of rule names or an object with `object`")
    )


def _names_rule(names: frozenset[str], rule: str) -> bool:
    """conftest: the name ``x`` stands for the rules ``deny_x`` and ``warn_x``."""
    _, underscore, suffix = rule.partition("_")
    return rule in names or (bool(underscore) and suffix in names)


def _object_pointer(rule: RuleRef, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        source = value.get("source")
        value = source.get("pointer") if isinstance(source, dict) else None
    if not isinstance(value, str):
        raise MlspecError(
            _malformed(rule, "a result's `object` must be a pointer or an input object")
        )
    stripped = value.strip("/")
    return "/" + stripped if stripped else ""


def _field_pointer(rule: RuleRef, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("/"):
            return value
        return "".join("/" + escape_token(part) for part in value.split("."))
    if isinstance(value, list) and all(_token(part) for part in value):
        return "".join("/" + escape_token(part) for part in value)
    raise MlspecError(
        _malformed(rule, "a result's `field` must be a dotted path, a pointer or an array")
    )


def _token(part: Any) -> bool:
    return isinstance(part, str) or (isinstance(part, int) and not isinstance(part, bool))


def _evaluation_error(outcome: Outcome) -> Diagnostic:
    message = (
        f"policy rule {outcome.rule.package}.{outcome.rule.name} failed: "
        f"{safe_text(outcome.error, 300)}"
    )
    hint = "a policy error is never a pass: fix the rule, or guard the failing builtin"
    return Diagnostic("MLS713", message, outcome.location or outcome.rule.location, hint=hint)


def _malformed(rule: RuleRef, problem: str) -> Diagnostic:
    message = f"policy rule {rule.package}.{rule.name} returned a malformed result: {problem}"
    return Diagnostic("MLS715", message, rule.location)
