"""The embedded engine: rego-cpp through regopy, in a bounded child process.

One evaluation loads the modules and the data once, then, for each input document
(one per environment), queries each rule and records an `Outcome`: its value, that it
is undefined, or the error it raised. Deciding what an error means is the caller's
job (a `deny` that errs fails validation; a test that errs fails the test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.policy import DEFAULT_TIMEOUT
from mlspec.policy.modules import (
    PolicyModule,
    PolicySet,
    RuleRef,
    function_arities,
    offset_location,
)
from mlspec.policy.modules import whole_input_mock as find_whole_input_mock
from mlspec.policy.sandbox import start_bounded

if TYPE_CHECKING:
    from mlspec.policy.native import RegoProblem


@dataclass(frozen=True)
class Outcome:
    """What querying one rule gave."""

    rule: RuleRef
    defined: bool
    value: Any = None
    error: str | None = None
    location: Location | None = None  # of the error: the rule, or where rego-cpp points


class Pending(Protocol):
    """An evaluation under way."""

    def result(self) -> dict[str, list[Outcome]]: ...

    def cancel(self) -> None:
        """Stop it, if it runs still: nobody will ask for its result."""
        ...


class Engine(Protocol):
    """Evaluates rules of a policy set against input documents (key -> document)."""

    name: str

    def evaluate(
        self,
        policies: PolicySet,
        documents: Mapping[str, Any],
        rules: Sequence[RuleRef],
        what: str,
    ) -> dict[str, list[Outcome]]: ...

    def start(
        self,
        policies: PolicySet,
        documents: Mapping[str, Callable[[], Any]],
        rules: Sequence[RuleRef],
        what: str,
    ) -> Pending:
        """Like `evaluate`, on documents built on demand; the evaluation may run while
        the caller goes on, until it asks for ``result()``."""
        ...


class EmbeddedEngine:
    """rego-cpp (regopy): no server, no network; every evaluation within ``timeout``."""

    name = "embedded (rego-cpp)"

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def evaluate(
        self,
        policies: PolicySet,
        documents: Mapping[str, Any],
        rules: Sequence[RuleRef],
        what: str = "evaluating policies",
    ) -> dict[str, list[Outcome]]:
        built = {key: partial(_given, document) for key, document in documents.items()}
        return self.start(policies, built, rules, what).result()

    def start(
        self,
        policies: PolicySet,
        documents: Mapping[str, Callable[[], Any]],
        rules: Sequence[RuleRef],
        what: str = "evaluating policies",
    ) -> Pending:
        """Evaluate in a child process, started now; the child builds the documents
        itself, so the caller pays neither for building nor for handing them over. The
        child may use ``timeout`` seconds of CPU time per document."""
        for module in policies.modules:
            _refuse_whole_input_mock(module)
        _refuse_arity_clashes(policies.modules)
        import mlspec.policy.native  # noqa: F401  (loaded once, here, not in every child)

        work = partial(evaluate_here, policies, dict(documents), list(rules))
        budget = self.timeout * max(1, len(documents))  # the timeout is per document
        return start_bounded(work, budget, what)


def _given(document: Any) -> Any:
    return document


class Deferred:
    """A `Pending` for engines that work when the result is asked for (the OPA server:
    waiting on the network costs this process nothing anyway)."""

    def __init__(self, work: Callable[[], dict[str, list[Outcome]]]) -> None:
        self._work = work
        self._value: dict[str, list[Outcome]] | None = None

    def result(self) -> dict[str, list[Outcome]]:
        """The evaluation, done on the first call (several environments may share it)."""
        if self._value is None:
            self._value = self._work()
        return self._value

    def cancel(self) -> None:
        """Nothing runs before `result`."""


def evaluate_here(
    policies: PolicySet, documents: dict[str, Callable[[], Any]], rules: list[RuleRef]
) -> dict[str, list[Outcome]]:
    """The evaluation itself, in this process (the child, when called by the engine)."""
    from mlspec.policy.native import Interpreter

    if not rules:
        return {key: [] for key in documents}
    interpreter = Interpreter()
    modules = {module.display: module for module in policies.modules}
    for module in policies.modules:
        _fail_on(interpreter.add_module(module.display, module.text), modules, module)
    if policies.data and interpreter.add_data(policies.data):
        raise MlspecError(Diagnostic("MLS716", "rego-cpp refused the --data document"))
    _fail_on(interpreter.build([rule.path for rule in rules]), modules, None)
    results: dict[str, list[Outcome]] = {}
    for key, build in documents.items():
        document = build()
        interpreter.set_input({} if document is None else document)
        results[key] = [_outcome(interpreter, rule, modules) for rule in rules]
    return results


def _fail_on(
    problems: Sequence[RegoProblem],
    modules: Mapping[str, PolicyModule],
    module: PolicyModule | None,
) -> None:
    """A parse or compile error: located in the module rego-cpp names, else ``module``."""
    if not problems:
        return
    first = problems[0]
    where = modules.get(first.module or "") or module
    if where is None:
        raise MlspecError(Diagnostic("MLS710", f"policies do not compile: {first.message}"))
    raise MlspecError(_compile_error(where, first.offset, first.message))


def _outcome(interpreter: Any, rule: RuleRef, modules: Mapping[str, PolicyModule]) -> Outcome:
    answer = interpreter.query_rule(rule.path)
    if answer.error is None:
        return Outcome(rule, answer.defined, answer.value)
    module = modules.get(answer.module or "")
    location = rule.location
    if module is not None and answer.offset is not None:
        location = byte_location(module, answer.offset)
    return Outcome(rule, False, error=answer.error, location=location)


def byte_location(module: PolicyModule, offset: int) -> Location:
    """rego-cpp counts bytes; diagnostics count characters."""
    prefix = module.text.encode("utf-8")[:offset].decode("utf-8", errors="ignore")
    return offset_location(module.display, module.text, len(prefix))


def _compile_error(module: PolicyModule, offset: int | None, message: str) -> Diagnostic:
    location = (
        byte_location(module, offset) if offset is not None else Location(module.display, 1, 1)
    )
    hint = None
    if message == "Invalid collection":
        hint = "rego-cpp 1.5 cannot read `some k, v in x` in a comprehension: `some k; v := x[k]`"
    return Diagnostic("MLS710", f"policy does not compile: {message}", location, hint=hint)


def _refuse_whole_input_mock(module: PolicyModule) -> None:
    where = find_whole_input_mock(module)
    if where is None:
        return
    message = (
        "`with input as ...` replaces the whole input, which rego-cpp 1.5 cannot evaluate "
        "when the rule under test uses another rule (it crashes)"
    )
    hint = "mock the parts the test needs: `with input.tenants as {...}`"
    raise MlspecError(Diagnostic("MLS710", message, where, hint=hint))


def _refuse_arity_clashes(modules: Sequence[PolicyModule]) -> None:
    """rego-cpp 1.5 mixes up functions of the same name and different numbers of
    arguments in different packages (wrong results, or a crash): refuse them up front."""
    seen: dict[str, tuple[int, Location, str]] = {}
    for module in modules:
        for name, (arity, location) in function_arities(module).items():
            first = seen.setdefault(name, (arity, location, module.package))
            if first[0] == arity:
                continue
            message = (
                f"function `{name}` takes {arity} argument(s) here and {first[0]} in package "
                f"{first[2]}; rego-cpp 1.5 confuses such functions across packages"
            )
            hint = f"rename one of them (for example `{module.package.rsplit('.', 1)[-1]}_{name}`)"
            raise MlspecError(
                Diagnostic("MLS710", message, location, hint=hint, related=(first[1],))
            )
