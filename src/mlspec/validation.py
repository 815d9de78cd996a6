"""`validate`: load and check a spec, then run its policies. Nothing else.

This is the entry point of `mlspec validate` (and `mlspec.api.validate`, which is this
function). It lives apart from api.py so that it imports only the front end and the
policy options: validating needs none of what compiling imports (the compilers' plugin
registry, the gitops layout, the output writer and emitter), and every module imported
is start-up time of each `mlspec validate` (tests/test_validation.py holds it to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlspec.diagnostics import sorted_unique
from mlspec.policy import PolicyOptions, PolicyReport
from mlspec.policy import new_run as new_policy_run
from mlspec.spec.frontend import SpecFile, Validated, validate_spec


def validate(
    spec: SpecFile,
    environments: Sequence[str] = (),
    policy: PolicyOptions | None = PolicyOptions(),  # noqa: B008 - frozen, never mutated
) -> Checked:
    """Validate ``spec``; when it is valid, run the policies on every environment (the
    default bundle and ``policy.policy_dirs``; ``policy=None`` skips them). A policy that
    cannot be loaded or evaluated raises MlspecError (exit 2): it is never a pass."""
    run = new_policy_run(policy, len(spec.raw)) if policy is not None else None
    validated = validate_spec(spec, environments, on_valid=run.start if run else None)
    checked = Checked(validated.spec, validated.environments, validated.diagnostics)
    if run is not None and not validated.ok:
        run.cancel()
    elif run is not None:
        checked.policy = run.report()
        checked.diagnostics = sorted_unique(checked.diagnostics + checked.policy.diagnostics)
    return checked


@dataclass
class Checked(Validated):
    """A validated spec and, when policies ran, what they said."""

    policy: PolicyReport | None = None
