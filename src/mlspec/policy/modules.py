"""Rego sources: discovery, lexical checks, and the rules each module defines.

A policy directory holds ``*.rego`` modules (searched recursively, hidden directories
skipped); ``*_test.rego`` modules hold tests and are loaded only by `mlspec policy test`.
Before any engine sees a module, it is scanned here, with comments and strings blanked:

- its ``package`` must be a dotted name;
- builtins that read the clock, randomness, the network or the environment are refused,
  located at their use (policies are deterministic: RELIABILITY.md rules 5 and 8);
- the rules it defines at the top level (depth 0 of brackets) are listed with the line
  of their first head: `deny`, `warn`, `exception` and `deny_*` / `warn_*` (conftest's
  names) in packages under ``mlspec.*`` are what `mlspec validate` queries; ``test_*``
  rules in test modules are what `mlspec policy test` runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlspec.diagnostics import Diagnostic, Location, MlspecError, safe_text

NAMESPACE = "mlspec"
TEST_SUFFIX = "_test.rego"
RESULT_RULE = re.compile(r"^(deny|warn|exception)$|^(deny|warn)_\w+$")
TEST_RULE = re.compile(r"^test_\w+$")
SKIPPED_TEST_RULE = re.compile(r"^todo_test_\w+$")

_LEXEMES = re.compile(r'#[^\n]*|"(?:\\.|[^"\\\n])*"|`[^`]*`')
_PACKAGE = re.compile(r"^[ \t]*package[ \t]+(\S+)", re.MULTILINE)
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_HEAD = re.compile(r"^[ \t]*(?:default[ \t]+)?([A-Za-z_]\w*)")
_KEYWORDS = frozenset(
    {"package", "import", "else", "if", "contains", "some", "every", "in", "not", "with"}
    | {"as", "true", "false", "null"}
)
_FORBIDDEN = re.compile(
    r"(?<![\w.])(time\.now_ns|rand\.[A-Za-z_]\w*|uuid\.rfc4122|http\.send|opa\.runtime"
    r"|net\.lookup_ip_addr|io\.jwt\.decode_verify"
    r"|crypto\.x509\.parse_and_verify_certificates\w*)(?!\w)"
)
_WHY = {
    "time": "reads the clock",
    "rand": "is random",
    "uuid": "is random",
    "http": "reaches the network",
    "net": "reaches the network",
    "opa": "reads the process environment",
    "io": "reads the clock (token expiry)",
    "crypto": "reads the clock (certificate validity)",
}
_FUNCTION_HEAD = re.compile(r"^[ \t]*([A-Za-z_]\w*)[ \t]*\(", re.MULTILINE)
_INPUT_KEY = re.compile(r"(?<![\w.])input\.([A-Za-z_]\w*)")
_WHOLE_INPUT = re.compile(r"(?<![\w.])input\b(?!\.[A-Za-z_])")
_WHOLE_INPUT_MOCK = re.compile(r"\bwith\s+input\s+as\b")


@dataclass(frozen=True)
class PolicyModule:
    """One .rego file, as read and scanned."""

    display: str  # how diagnostics name it
    text: str
    package: str
    rules: dict[str, Location]  # top-level rule name -> its first head
    is_test: bool
    code: str = field(repr=False, default="")  # the text with comments and strings blanked


@dataclass(frozen=True, order=True)
class RuleRef:
    """A rule the engines query: ``data.<package>.<name>``."""

    package: str
    name: str
    location: Location = field(compare=False)

    @property
    def path(self) -> str:
        return f"data.{self.package}.{self.name}"

    @property
    def kind(self) -> str:
        """deny, warn, exception or test: what the rule's results mean."""
        return self.name.split("_", 1)[0]


@dataclass(frozen=True)
class PolicySet:
    """Modules and the data document, ready for an engine."""

    modules: tuple[PolicyModule, ...]
    data: dict[str, Any] = field(default_factory=dict)


def load_modules(dirs: Sequence[Path], include_tests: bool = False) -> tuple[PolicyModule, ...]:
    """Every module under ``dirs``, in a stable order; tests only when asked."""
    modules: list[PolicyModule] = []
    for path in _discover(dirs):
        is_test = path.name.endswith(TEST_SUFFIX)
        if include_tests or not is_test:
            modules.append(read_module(path, is_test))
    return tuple(modules)


def _discover(dirs: Sequence[Path]) -> list[Path]:
    found: list[Path] = []
    for root in dirs:
        if not root.is_dir():
            message = f"policy directory {root} does not exist or is not a directory"
            raise MlspecError(Diagnostic("MLS710", message, Location(str(root), 1, 1)))
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".rego")]
    return found


def display_path(path: Path) -> str:
    """Relative to the working directory when the file is under it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def read_module(path: Path, is_test: bool = False) -> PolicyModule:
    display = display_path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = f"cannot read policy {display}: {safe_text(exc, 200)}"
        raise MlspecError(Diagnostic("MLS710", message, Location(display, 1, 1))) from exc
    return scan_module(display, text, is_test)


def scan_module(display: str, text: str, is_test: bool = False) -> PolicyModule:
    """Check a module's text and list its rules; raises MlspecError, located."""
    code = _LEXEMES.sub(_blank, text)
    _refuse_nondeterminism(display, code)
    package = _package(display, code)
    return PolicyModule(display, text, package, _rule_heads(display, code), is_test, code)


def _blank(match: re.Match[str]) -> str:
    lexeme = match.group()
    if lexeme.startswith("#"):
        return " " * len(lexeme)
    return lexeme[0] + re.sub(r"[^\n]", " ", lexeme[1:-1]) + lexeme[-1]


def offset_location(display: str, text: str, offset: int) -> Location:
    line = text.count("\n", 0, offset) + 1
    return Location(display, line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _refuse_nondeterminism(display: str, code: str) -> None:
    found = _FORBIDDEN.search(code)
    if found is None:
        return
    name = found.group(1)
    message = (
        f"policy uses `{name}`, which {_WHY[name.split('.', 1)[0]]}: "
        "policies must give the same result for the same spec"
    )
    hint = "pass what the policy needs in the input or with --data"
    location = offset_location(display, code, found.start(1))
    raise MlspecError(Diagnostic("MLS711", message, location, hint=hint))


def _package(display: str, code: str) -> str:
    found = _PACKAGE.search(code)
    if found is None:
        raise MlspecError(
            Diagnostic("MLS710", "policy has no `package` line", Location(display, 1, 1))
        )
    name = found.group(1)
    if not _DOTTED.match(name):
        location = offset_location(display, code, found.start(1))
        message = f"package `{safe_text(name)}` is not a dotted name such as mlspec.images"
        raise MlspecError(Diagnostic("MLS710", message, location))
    return name


def _rule_heads(display: str, code: str) -> dict[str, Location]:
    """Names defined at the top level, each at its first head."""
    heads: dict[str, Location] = {}
    depth = 0
    for number, line in enumerate(code.split("\n"), start=1):
        found = _HEAD.match(line) if depth <= 0 else None
        if found is not None and found.group(1) not in _KEYWORDS:
            heads.setdefault(found.group(1), Location(display, number, found.start(1) + 1))
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
    return heads


def function_arities(module: PolicyModule) -> dict[str, tuple[int, Location]]:
    """Top-level functions of a module: name -> (number of arguments, first head)."""
    depths = _line_depths(module.code)
    found: dict[str, tuple[int, Location]] = {}
    for head in _FUNCTION_HEAD.finditer(module.code):
        line = module.code.count("\n", 0, head.start()) + 1
        if depths[line - 1] > 0 or head.group(1) in _KEYWORDS:
            continue
        location = offset_location(module.display, module.code, head.start(1))
        found.setdefault(head.group(1), (_arity(module.code, head.end()), location))
    return found


def _line_depths(code: str) -> list[int]:
    depths, depth = [], 0
    for line in code.split("\n"):
        depths.append(depth)
        depth += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
    return depths


def _arity(code: str, start: int) -> int:
    """Arguments of the parenthesised list opening just before ``start``."""
    depth, commas, empty = 1, 0, True
    for char in code[start:]:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                break
        elif char == "," and depth == 1:
            commas += 1
        empty = empty and char.isspace()
    return 0 if empty else commas + 1


def input_keys(modules: Iterable[PolicyModule]) -> frozenset[str] | None:
    """The top-level input keys the modules read (``input.tenants``, ``import input.x``),
    or None when one of them uses the input otherwise (``input``, ``input[k]``)."""
    keys: set[str] = set()
    for module in modules:
        if _WHOLE_INPUT.search(module.code):
            return None
        keys |= set(_INPUT_KEY.findall(module.code))
    return frozenset(keys)


def whole_input_mock(module: PolicyModule) -> Location | None:
    """Where a test replaces the whole input (`with input as`), which rego-cpp 1.5 cannot
    evaluate when the rule under test uses another rule (it crashes)."""
    found = _WHOLE_INPUT_MOCK.search(module.code)
    return offset_location(module.display, module.code, found.start()) if found else None


def result_rules(modules: Iterable[PolicyModule]) -> list[RuleRef]:
    """The deny / warn / exception rules to query. None at all is an error (fail closed),
    and so is such a rule outside ``mlspec.*``: it would never run."""
    rules: dict[tuple[str, str], RuleRef] = {}
    for module in modules:
        if module.is_test:
            continue
        for name, location in module.rules.items():
            if not RESULT_RULE.match(name):
                continue
            if not _in_namespace(module.package):
                raise MlspecError(_outside_namespace(module, name, location))
            rules.setdefault((module.package, name), RuleRef(module.package, name, location))
    if not any(rule.kind in ("deny", "warn") for rule in rules.values()):
        raise MlspecError(_no_policies())
    return sorted(rules.values())


def find_tests(modules: Iterable[PolicyModule]) -> tuple[list[RuleRef], list[RuleRef]]:
    """The ``test_*`` rules of test modules, and the ``todo_test_*`` ones (skipped)."""
    tests: dict[tuple[str, str], RuleRef] = {}
    todo: dict[tuple[str, str], RuleRef] = {}
    for module in (m for m in modules if m.is_test):
        for name, location in module.rules.items():
            if TEST_RULE.match(name):
                target = tests
            elif SKIPPED_TEST_RULE.match(name):
                target = todo
            else:
                continue
            target.setdefault((module.package, name), RuleRef(module.package, name, location))
    return sorted(tests.values()), sorted(todo.values())


def _in_namespace(package: str) -> bool:
    return package == NAMESPACE or package.startswith(NAMESPACE + ".")


def _outside_namespace(module: PolicyModule, name: str, location: Location) -> Diagnostic:
    message = (
        f"rule `{name}` is in package `{module.package}`, outside `{NAMESPACE}.*`, "
        "so it would never run"
    )
    hint = f"write `package {NAMESPACE}.<name>`"
    return Diagnostic("MLS712", message, location, hint=hint)


def _no_policies() -> Diagnostic:
    message = "no policies loaded: no `deny` or `warn` rule in any package under mlspec.*"
    hint = "check the --policy directories, or pass --no-policy to skip policies"
    return Diagnostic("MLS712", message, hint=hint)


def load_data(files: Sequence[Path]) -> dict[str, Any]:
    """The ``--data`` documents (JSON, or YAML read as strictly as a spec), merged."""
    merged: dict[str, Any] = {}
    for path in files:
        _merge(merged, _read_data(path), display_path(path))
    return merged


def _read_data(path: Path) -> dict[str, Any]:
    display = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        message = f"cannot read data file {display}: {exc.strerror or exc}"
        raise MlspecError(Diagnostic("MLS716", message, Location(display, 1, 1))) from exc
    if path.suffix == ".json":
        return _json_data(raw, display)
    from mlspec.spec.loader import load_bytes

    loaded = load_bytes(raw, display)
    if loaded.data is None:
        raise MlspecError(loaded.diagnostics[0])
    return loaded.data


def _json_data(raw: bytes, display: str) -> dict[str, Any]:
    import json

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        duplicate = next((k for k in keys if keys.count(k) > 1), None)
        if duplicate is not None:
            raise ValueError(f"duplicate key {duplicate!r}")
        return dict(pairs)

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=unique)
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"data file {display} is not valid JSON: {safe_text(exc, 200)}"
        raise MlspecError(Diagnostic("MLS716", message, Location(display, 1, 1))) from exc
    if not isinstance(value, dict):
        message = f"data file {display} must hold an object (its keys become data.<key>)"
        raise MlspecError(Diagnostic("MLS716", message, Location(display, 1, 1)))
    return value


def _merge(into: dict[str, Any], value: dict[str, Any], display: str, at: str = "data") -> None:
    for key, item in value.items():
        if key not in into:
            into[key] = item
        elif isinstance(into[key], dict) and isinstance(item, dict):
            _merge(into[key], item, display, f"{at}.{key}")
        else:
            message = f"data file {display} sets {at}.{key}, which an earlier data file set"
            raise MlspecError(Diagnostic("MLS716", message, Location(display, 1, 1)))
