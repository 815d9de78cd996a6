"""Pipeline templates: `pipelines.<p>.template` + `with:` expand `templates.<t>`.

Expansion works on the loaded data, before validation, so the expanded pipeline
is validated like a hand-written one while its `SourceMap` points every step
value at the template line it came from.

String values render once in a sandboxed Jinja environment with StrictUndefined.
Only ``{{ expressions }}`` are allowed (no ``{% statements %}``: no loops to blow
up), and ``{{ params.x }}``, ``{{ inputs.x }}``, ``{{ outputs.x }}`` stay symbolic
for the pipeline compiler. A string that is exactly one ``{{ name }}`` takes the
`with:` value with its type, so ``count: "{{ gpus }}"`` stays an integer.

Most strings are text around ``{{ name }}`` and ``{{ params.x }}``: `_render_simple`
renders those without Jinja, with the result Jinja would give (`str` of a plain value,
the placeholder, the text as is). Jinja is imported only for a string that needs more:
``import jinja2`` alone took 50-130 ms of each ``mlspec validate``.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlspec.diagnostics import Diagnostic, safe_text
from mlspec.spec.source import NodeSource, SourceMap, escape_token

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

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

    def __str__(self) -> str:
        """The namespace alone has no text (Python's would be a memory address, which
        differs from run to run: RELIABILITY rule 5)."""
        raise TypeError(f"`{self._namespace}` names no value: write {self._namespace}.NAME")


def _binop(operator_: str, left: Any, right: Any) -> Any:
    """``left * right`` or ``left ** right``, refused when the result would be too large."""
    from jinja2.exceptions import SecurityError

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
def _environment() -> SandboxedEnvironment:
    """The sandbox, made (and Jinja imported) on the first string that needs it."""
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    class Sandbox(SandboxedEnvironment):
        """A sandbox that also caps the size of ``*`` and ``**`` results."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(
            self, context: jinja2.runtime.Context, operator_: str, left: Any, right: Any
        ) -> Any:
            return _binop(operator_, left, right)

    env = Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters = {name: f for name, f in env.filters.items() if name in SAFE_FILTERS}
    return env


@functools.lru_cache(maxsize=8192)
def _compile(text: str) -> tuple[jinja2.Template, frozenset[str]]:
    import jinja2
    from jinja2 import meta
    from jinja2.exceptions import SecurityError, TemplateSyntaxError

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


# What `_render_simple` renders itself: text around `{{ name }}` / `{{ params.name }}`.
# Text is Jinja's "data" as long as it holds no `{{`, `{%` or `{#` (a text that ends in
# `{` before an expression would make one) and no `\r` (Jinja turns it into `\n`).
_SIMPLE_EXPRESSION = re.compile(
    r"\{\{[ \t\n]*(?:(params|inputs|outputs)\.)?([A-Za-z][A-Za-z0-9_]*)[ \t\n]*\}\}"
)
_NOT_TEXT = re.compile(r"\{[{%#]|\r")
# Names that Jinja treats apart, left to it: constants, operators, names it defines
# itself, and its globals (a `with:` value of that name renders, but is not counted as
# used: `meta.find_undeclared_variables` leaves globals out).
_JINJA_WORDS = frozenset(
    {"true", "false", "none", "True", "False", "None"}
    | {"and", "or", "not", "in", "is", "if", "else", "elif"}
    | {"self", "loop", "super", "caller", "varargs", "kwargs"}
    | {"range", "dict", "lipsum", "cycler", "joiner", "namespace"}
)
_PLAIN_TYPES = (str, int, float, bool)  # types whose Jinja rendering is `str(value)`


def _render_simple(text: str, values: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    """What Jinja would render of ``text`` and the names it uses, or None when this is
    not a simple text (then ask Jinja, whose verdict and errors count)."""
    simple = _simple_template(text)
    if simple is None:
        return None
    texts, names, namespaces = simple
    rendered = [texts[0]]
    for name, after in zip(names, texts[1:], strict=True):
        value = values.get(name)
        if type(value) not in _PLAIN_TYPES:
            return None
        rendered += (str(value), after)
    return "".join(rendered), (*names, *namespaces)


@functools.lru_cache(maxsize=8192)
def _simple_template(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    """``text`` cut for `_render_simple`: the texts around its `{{ name }}`s, the names,
    and the symbolic namespaces it uses (their placeholders are part of the texts).
    None when the text is not simple. The same template text is rendered once per
    pipeline that uses it: it is cut once."""
    parts = _SIMPLE_EXPRESSION.split(text)  # text, namespace, name, text, ..., text
    if any(_NOT_TEXT.search(part) for part in parts[::3]):
        return None
    if any(part.endswith("{") for part in parts[:-1:3]):
        return None
    texts, names, namespaces = [parts[0]], [], []
    for i in range(1, len(parts), 3):
        namespace, name, after = parts[i : i + 3]
        if name in _JINJA_WORDS or (not namespace and name in SYMBOLIC_NAMESPACES):
            return None
        if namespace:
            texts[-1] += "{{ %s.%s }}%s" % (namespace, name, after)  # noqa: UP031 - as `_Symbolic`
            namespaces.append(namespace)
        else:
            names.append(name)
            texts.append(after)
    return tuple(texts), tuple(names), tuple(namespaces)


@dataclass
class _Expansion:
    pipeline: str
    template: str
    values: dict[str, Any]
    sources: SourceMap
    diagnostics: list[Diagnostic] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def render(self, value: Any, ptr: str) -> Any:
        if isinstance(value, str):
            return self._render_string(value, ptr) if "{" in value else value
        if isinstance(value, dict):
            return {k: self.render(v, f"{ptr}/{escape_token(k)}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v, f"{ptr}/{i}") for i, v in enumerate(value)]
        return value

    def _render_string(self, text: str, ptr: str) -> Any:
        whole = _WHOLE_VARIABLE.match(text)
        if whole and whole.group(1) in self.values:
            self.used.add(whole.group(1))
            return self.values[whole.group(1)]
        simple = _render_simple(text, self.values)
        if simple is None:
            return self._render_with_jinja(text, ptr)
        rendered, names = simple
        self.used.update(names)
        return self._capped(rendered, text, ptr)

    def _render_with_jinja(self, text: str, ptr: str) -> str:
        from jinja2.exceptions import (
            SecurityError,
            TemplateError,
            TemplateSyntaxError,
            UndefinedError,
        )

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
        return self._capped(rendered, text, ptr)

    def _capped(self, rendered: str, text: str, ptr: str) -> str:
        """The rendered value, or the template text and an error when it is too long."""
        if len(rendered) > _MAX_RENDERED:
            self._error("MLS504", f"a rendered value over {_MAX_RENDERED} characters", ptr)
            return text
        return rendered

    def _context(self) -> dict[str, Any]:
        symbolic = {name: _Symbolic(name) for name in SYMBOLIC_NAMESPACES}
        return {**self.values, **symbolic}

    def _undefined_hint(self, text: str) -> str | None:
        from jinja2.exceptions import TemplateError

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
    subtree = functools.cache(sources.subtree)  # a template's: once, not once per pipeline
    diagnostics: list[Diagnostic] = []
    expanded = dict(pipelines)
    for name, pipeline in pipelines.items():
        template_name = pipeline.get("template") if isinstance(pipeline, dict) else None
        if not isinstance(template_name, str) or "steps" in pipeline:
            continue
        template = templates.get(template_name)
        if not isinstance(template, dict):
            continue
        result = _expand_one(name, pipeline, template_name, template, sources, subtree, out_sources)
        expanded[name], found = result
        diagnostics.extend(found)
    return {**data, "pipelines": expanded}, out_sources, diagnostics


def _expand_one(
    name: str,
    pipeline: dict[str, Any],
    template_name: str,
    template: dict[str, Any],
    sources: SourceMap,
    subtree: Callable[[str], dict[str, NodeSource]],
    out_sources: SourceMap,
) -> tuple[dict[str, Any], list[Diagnostic]]:
    values = pipeline.get("with") if isinstance(pipeline.get("with"), dict) else {}
    assert isinstance(values, dict)
    template_ptr = f"/templates/{escape_token(template_name)}"
    pipeline_ptr = f"/pipelines/{escape_token(name)}"
    expansion = _Expansion(name, template_name, values, sources)
    steps = expansion.render(template.get("steps"), f"{template_ptr}/steps")
    out_sources.graft(f"{pipeline_ptr}/steps", subtree(f"{template_ptr}/steps"))
    parameters = _merge_parameters(
        template, pipeline, template_ptr, pipeline_ptr, subtree, out_sources
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
    subtree: Callable[[str], dict[str, NodeSource]],
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
    own_sources = subtree(f"{pipeline_ptr}/parameters")
    out_sources.graft(f"{pipeline_ptr}/parameters", subtree(f"{template_ptr}/parameters"))
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
