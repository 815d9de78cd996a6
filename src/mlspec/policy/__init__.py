"""Policy as code: Rego policies over the validated platform (RELIABILITY.md rule 8).

    modules.py   the .rego sources: discovery, lexical checks, rules they define
    inputs.py    the input document (a public contract: policies/README.md)
    engine.py    the embedded engine (regopy, rego-cpp), run in a bounded child process
    remote.py    the same evaluation on an OPA server (opa-python-client)
    results.py   deny / warn / exception results -> located diagnostics
    runner.py    the whole run for `mlspec validate`;  testing.py  `mlspec policy test`

This module stays cheap to import: the engines are imported when policies run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlspec.diagnostics import Diagnostic

if TYPE_CHECKING:
    from mlspec.policy.runner import PolicyRun
    from mlspec.spec.frontend import Validated

DEFAULT_TIMEOUT = 60.0  # CPU seconds per environment evaluated, or for one test run:
# a guard against runaway policies, with room for the ~25 s that 5,000 tenants take
DEFAULT_BUNDLE = Path(__file__).resolve().parent / "bundle"
# Up to this size (about 1,400 tenants), each environment's policies run in a process of
# its own, in parallel (rego-cpp takes some 350 bytes of memory per byte of spec).
PARALLEL_SPEC_BYTES = 3 << 20


@dataclass(frozen=True)
class PolicyOptions:
    """Which policies run, on which engine, within what time."""

    policy_dirs: tuple[Path, ...] = ()  # added to the default bundle
    data_files: tuple[Path, ...] = ()  # JSON or YAML documents merged into `data`
    opa_url: str | None = None  # evaluate on this OPA server instead of the embedded engine
    timeout: float = DEFAULT_TIMEOUT
    default_bundle: bool = True


@dataclass
class PolicyReport:
    """What the policies said: located denies and warnings, and how much ran."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    packages: tuple[str, ...] = ()
    excepted: int = 0  # results suppressed by an `exception` rule


def check(validated: Validated, options: PolicyOptions) -> PolicyReport:
    """Run the policies on every validated environment. Raises MlspecError (exit 2) when
    the policies cannot be loaded or evaluated: a policy error is never a pass."""
    from mlspec.policy.runner import run_policies

    return run_policies(validated, options)


def new_run(options: PolicyOptions, spec_bytes: int) -> PolicyRun:
    """A run to `start` environment by environment as each is validated (see
    `mlspec.spec.frontend.validate_spec`'s ``on_valid``), `launch`, then `report`.
    Environments are evaluated in parallel when the spec is at most
    `PARALLEL_SPEC_BYTES` long, else one after another (memory: see `PolicyRun`)."""
    from mlspec.policy.runner import PolicyRun

    return PolicyRun(options, parallel=spec_bytes <= PARALLEL_SPEC_BYTES)
