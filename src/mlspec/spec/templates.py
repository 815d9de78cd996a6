"""Pipeline templates: `pipelines.<p>.template` + `with:` expand `templates.<t>`.

Expansion works on the loaded data, before validation, so the expanded pipeline
is validated like a hand-written one while its `SourceMap` points every step
value at the template line it came from.

String values render once in a sandboxed Jinja environment with StrictUndefined.
Only ``{{ expressions }}`` are allowed (no ``{% statements %}``: no loops to blow
up), and ``{{ params.x }}``, ``{{ inputs.x }}``, ``{{ outputs.x }}`` stay symbolic
for the pipeline compiler. A string that is exactly one ``{{ name }}`` takes the
`with:` value with its type, so ``count: "{{ gpus }}"`` stays an integer.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from mlspec.diagnostics import Diagnostic, safe_text
from mlspec.spec.source import SourceMap, escape_token

SYMBOLIC_NAMESPACES = ("params", "inputs", "outputs")
PLACEHOLDER = re.compile(r"\{\{\s*(params|inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_WHOLE_VARIABLE = re.compile(r"^\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}$")
_MAX_RENDERED = 64 * 1024


class _Symbolic:
    """``params`` / ``inputs`` / ``outputs``: attribute access renders a placeholder."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return "{{ %s.%s }}" % (self._namespace, name)  # noqa: UP031 - braces read better

    def __getitem__(self, name: str) -> str:
        return self.__getattr__(name)


class _Sandbox(SandboxedEnvironment):
    """A sandbox that also caps the size of ``*`` and ``**`` results."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator_: str, left: Any, right: Any
    ) -> Any:
        if operator_ == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator_ == "**" and _bits(left) * abs(_as_int(right)) > _MAX_RESULT_BITS:
            raise SecurityError("result too large")
        if operator_ == "*" and _sized(left, right) > _MAX_RENDERED:
            raise SecurityError("result too large")
        op: Callable[[Any, Any], Any] = operator.pow if operator_ == "**" else operator.mul
        return op(left, right)


_MAX_RESULT_BITS = 4096
# Filters that cannot blow up: no padding (center, indent, wordwrap, format) and no
# joining or replacing (which multiply the size of their arguments).
SAFE_FILTERS = frozenset(
    {
        "capitalize",
        "d",
        "default",
        "first",
        "float",
        "int",
        "last",
        "length",
        "list",
        "lower",
        "string",
        "title",
        "trim",
        "truncate",
        "upper",
    }
)


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 64


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) else 64


def _sized(left: Any, right: Any) -> int:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(count, int):
            return len(seq) * count
    return 0


@functools.lru_cache(maxsize=1)
def _environment() -> _Sandbox:
    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters = {name: f for name, f in env.filters.items() if name in SAFE_FILTERS}
    return env


@functools.lru_cache(maxsize=8192)
def _compile(text: str) -> tuple[jinja2.Template, frozenset[str]]:
    if "{%" in text:
        raise TemplateSyntaxError("only {{ expressions }} are allowed, not {% statements %}", 1)
    env = _environment()
    try:
        tree = env.parse(text)
        return env.from_string(tree), frozenset(meta.find_undeclared_variables(tree))
    except TemplateSyntaxError as exc:
        refused = re.match(r"No filter named '(\w+)'", exc.message or "")
        if refused and refused.group(1) in jinja2.filters.FILTERS:
            raise SecurityError(f"the filter `{refused.group(1)}` is not allowed") from exc
        raise


@dataclass
class _Expansion:
    pipeline: str
    template: str
    values: dict[str, Any]
    sources: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def render(self, value: Any, ptr: str) -> Any:
        if isinstance(value, dict):
            return {k: self.render(v, f"{ptr}/{escape_token(k)}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, f"{ptr}/{i}") for i, v in enumerate(value)]
        if isinstance(value, str) and "{" in value:
            return self._render_string(value, ptr)
        return value

    def _render_string(self, text: str, ptr: str) -> Any:
        whole = _WHOLE_VARIABLE.match(text)
        if whole and whole.group(1) in self.values:
            self.used.add(whole.group(1))
            return self.values[whole.group(1)]
        try:
            template, names = _compile(text)
            self.used.update(names)
            rendered = template.render(self._context())
        except UndefinedError as exc:
            self._error("MLS502", str(exc.message or exc), ptr, self._undefined_hint(text))
            return text
        except (SecurityError, AttributeError) as exc:
            self._error("MLS504", f"unsafe template expression: {exc}", ptr)
            return text
        except TemplateSyntaxError as exc:
            self._error("MLS501", f"template syntax error: {exc.message}", ptr)
            return text
        except (TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            self._error("MLS501", f"template error: {safe_text(exc, 120)}", ptr)
            return text
        if len(rendered) > _MAX_RENDERED:
            self._error("MLS504", f"a rendered value over {_MAX_RENDERED} characters", ptr)
            return text
        return rendered

    def _context(self) -> dict[str, Any]:
        symbolic = {name: _Symbolic(name) for name in SYMBOLIC_NAMESPACES}
        return {**self.values, **symbolic}

    def _undefined_hint(self, text: str) -> str | None:
        try:
            _, names = _compile(text)
        except TemplateError:
            return None
        missing = sorted(names - set(self.values) - set(SYMBOLIC_NAMESPACES))
        if not missing:
            return None
        close = difflib.get_close_matches(missing[0], list(self.values), n=1)
        if close:
            return f"did you mean `{close[0]}`?"
        return f"add `{missing[0]}` to `with:` of pipeline {self.pipeline}"

    def _error(self, code: str, message: str, ptr: str, hint: str | None = None) -> None:
        self.diagnostics.append(
            Diagnostic(
                code,
                f"template {self.template} (used by pipeline {self.pipeline}): {message}",
                self.sources.value_location(ptr),
                ptr,
                hint,
            )
        )


def expand_templates(
    data: dict[str, Any], sources: SourceMap
) -> tuple[dict[str, Any], SourceMap, list[Diagnostic]]:
    """Expand every pipeline that names a template. Untouched data is shared."""
    pipelines, templates = data.get("pipelines"), data.get("templates")
    if not isinstance(pipelines, dict) or not isinstance(templates, dict):
        return data, sources, []
    out_sources = sources.copy()
    diagnostics: list[Diagnostic] = []
    expanded = dict(pipelines)
    for name, pipeline in pipelines.items():
        template_name = pipeline.get("template") if isinstance(pipeline, dict) else None
        if not isinstance(template_name, str) or "steps" in pipeline:
            continue
        template = templates.get(template_name)
        if not isinstance(template, dict):
            continue
        result = _expand_one(name, pipeline, template_name, template, sources, out_sources)
        expanded[name], found = result
        diagnostics.extend(found)
    return {**data, "pipelines": expanded}, out_sources, diagnostics


def _expand_one(
    name: str,
    pipeline: dict[str, Any],
    template_name: str,
    template: dict[str, Any],
    sources: SourceMap,
    out_sources: SourceMap,
) -> tuple[dict[str, Any], list[Diagnostic]]:
    values = pipeline.get("with") if isinstance(pipeline.get("with"), dict) else {}
    assert isinstance(values, dict)
    template_ptr = f"/templates/{escape_token(template_name)}"
    pipeline_ptr = f"/pipelines/{escape_token(name)}"
    expansion = _Expansion(name, template_name, values, sources)
    steps = expansion.render(template.get("steps"), f"{template_ptr}/steps")
    out_sources.graft(f"{pipeline_ptr}/steps", sources.subtree(f"{template_ptr}/steps"))
    parameters = _merge_parameters(
        template, pipeline, template_ptr, pipeline_ptr, sources, out_sources
    )
    result = {**pipeline, "steps": steps}
    if parameters is not None:
        result["parameters"] = parameters
    return result, expansion.diagnostics + _unused_values(expansion, pipeline_ptr)


def _merge_parameters(
    template: dict[str, Any],
    pipeline: dict[str, Any],
    template_ptr: str,
    pipeline_ptr: str,
    sources: SourceMap,
    out_sources: SourceMap,
) -> dict[str, Any] | None:
    """Template parameters, each overridden field by field by the pipeline's own."""
    base, own = template.get("parameters"), pipeline.get("parameters", {})
    if not isinstance(base, dict) or not isinstance(own, dict):
        return None
    merged: dict[str, Any] = dict(base)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    own_sources = sources.subtree(f"{pipeline_ptr}/parameters")
    out_sources.graft(f"{pipeline_ptr}/parameters", sources.subtree(f"{template_ptr}/parameters"))
    out_sources.graft(f"{pipeline_ptr}/parameters", own_sources)
    return merged


def _unused_values(expansion: _Expansion, pipeline_ptr: str) -> list[Diagnostic]:
    diagnostics = []
    for key in sorted(set(expansion.values) - expansion.used):
        ptr = f"{pipeline_ptr}/with/{escape_token(key)}"
        close = difflib.get_close_matches(key, sorted(expansion.used), n=1)
        diagnostics.append(
            Diagnostic(
                "MLS503",
                f"`{safe_text(key)}` is not used by template {expansion.template}",
                expansion.sources.key_location(ptr),
                ptr,
                f"did you mean `{close[0]}`?" if close else "remove it",
            )
        )
    return diagnostics


def placeholders(text: str) -> list[tuple[str, str]]:
    """The symbolic placeholders in a step string: ``[("params", "data_uri"), ...]``."""
    return PLACEHOLDER.findall(text)
