"""Apply: run a plan's actions against the registry. No MLflow import here.

The actions of one registered model run in plan order in one worker, because they
depend on each other (a version needs its model, an alias needs the MLflow number its
version got); different models run concurrently on ``workers`` threads.

Failure handling, in three kinds:

* MLflow refuses one action for good (`RegistryRefusedError`): reported at the action's spec
  line; the rest of that model's actions are skipped (they depend on it); other models go on;
* MLflow is unreachable or keeps failing after the retries (`RegistryUnavailableError`):
  everything stops after the actions in flight; exit code 2;
* anything else (a bug, a kill, an injected fault): everything stops, the exception
  propagates. What was done is done and tagged; the next apply plans only the rest,
  because it matches versions by their tags, never by counting (resumable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from mlspec.diagnostics import Diagnostic
from mlspec.registry.plan import Action, CreateVersion, Plan


class RegistryRefusedError(Exception):
    """MLflow refused one action for good (a bad value, a conflict that appeared since
    the plan was read)."""


class RegistryUnavailableError(Exception):
    """MLflow could not be reached, or kept failing after the retries."""


class Executor(Protocol):
    def execute(self, action: Action, versions: Mapping[int, int]) -> int | None:
        """Run one action. ``versions`` maps the model's spec versions to MLflow numbers
        known so far; a `CreateVersion` returns the MLflow number it got."""
        ...


@dataclass
class ApplyResult:
    planned: int
    done: list[Action] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # refusals, by pointer
    unavailable: str | None = None  # why MLflow could not be used, if it could not

    @property
    def not_run(self) -> int:
        return self.planned - len(self.done) - len(self.diagnostics)


def apply_plan(
    plan: Plan,
    executor: Executor,
    workers: int = 1,
    after_each: Callable[[Action], None] | None = None,
) -> ApplyResult:
    """Run ``plan``; ``after_each`` is called (serialised) after every action that succeeded."""
    run = _Run(plan, executor, after_each)
    chains = _chains(plan.actions)
    futures: list[Future[None]] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(run.chain, model, actions) for model, actions in chains]
            for future in futures:
                future.exception()  # wait; the first failure stops the others
    except BaseException:
        run.stop.set()
        raise
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
    return run.result


def _chains(actions: Sequence[Action]) -> list[tuple[str, list[Action]]]:
    chains: dict[str, list[Action]] = {}
    for action in actions:
        chains.setdefault(action.model, []).append(action)
    return list(chains.items())


class _Run:
    def __init__(
        self, plan: Plan, executor: Executor, after_each: Callable[[Action], None] | None
    ) -> None:
        self.plan = plan
        self.executor = executor
        self.after_each = after_each
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.result = ApplyResult(len(plan.actions))

    def chain(self, model: str, actions: list[Action]) -> None:
        versions = {spec: n for (name, spec), n in self.plan.matched.items() if name == model}
        try:
            for action in actions:
                if self.stop.is_set() or not self._one(action, versions):
                    return
        except BaseException:
            self.stop.set()
            raise

    def _one(self, action: Action, versions: dict[int, int]) -> bool:
        """Run one action; False when the rest of this model's chain must not run."""
        try:
            created = self.executor.execute(action, versions)
        except RegistryRefusedError as exc:
            with self.lock:
                self.result.diagnostics.append(_refused(action, str(exc)))
            return False
        except RegistryUnavailableError as exc:
            self.stop.set()
            with self.lock:
                self.result.unavailable = self.result.unavailable or str(exc)
            return False
        if isinstance(action, CreateVersion) and created is not None:
            versions[action.spec_version] = created
        with self.lock:
            self.result.done.append(action)
            if self.after_each is not None:
                self.after_each(action)
        return True


def _refused(action: Action, message: str) -> Diagnostic:
    return Diagnostic(
        "MLS865",
        f"MLflow refused a change to {action.model}: {message}",
        pointer=action.pointer,
        hint="the rest of this model's changes were not applied; fix this and apply again",
    )
