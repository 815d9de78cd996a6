"""Plan output: terraform-style text for people, JSON for machines.

Both are pure functions of the plan: the same registry state and spec print the same
bytes. Spec version numbers are shown with the MLflow number they map to, when MLflow
has assigned one (``version 7 (MLflow 1)``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from mlspec.diagnostics import Diagnostic, safe_text
from mlspec.registry.desired import TAG_PREFIX, TENANT_TAG
from mlspec.registry.plan import (
    Action,
    CreateModel,
    CreateVersion,
    DeleteTag,
    Plan,
    SetAlias,
    SetDescription,
    SetTag,
)
from mlspec.reporting import as_dict

PLAN_FORMAT = "mlspec.dev/registry-plan/v1"
_SIGN = {"add": "+", "change": "~", "destroy": "-"}


@dataclasses.dataclass(frozen=True)
class Header:
    """What the plan is about: shown above the changes."""

    environment: str
    tracking_uri: str  # already redacted
    origin: str  # where the URI came from: "--tracking-uri", "the spec" or "the default"


def render_text(plan: Plan, header: Header) -> str:
    lines = [
        f"MLflow registry {header.tracking_uri} "
        f"(environment {header.environment}, from {header.origin})",
        "",
    ]
    model = None
    for action in plan.actions:
        if action.model != model:
            model = action.model
            lines.append(f"  # registered model {model}")
        lines.append(f"  {_SIGN[action.change]} {describe(action)}")
        lines += [f"      {detail}" for detail in details(action)]
    if plan.actions:
        lines.append("")
    lines.append(summary_line(plan))
    return "\n".join(lines) + "\n"


def summary_line(plan: Plan) -> str:
    if plan.in_sync:
        return "No changes. The registry matches the spec."
    counts = plan.counts()
    return (
        f"Plan: {counts['add']} to add, {counts['change']} to change, "
        f"{counts['destroy']} to destroy."
    )


def describe(action: Action) -> str:
    """One line per action, e.g. ``alias fraud-detector@champion: version 7 (MLflow 1) ->
    version 8 (MLflow 2)``."""
    if isinstance(action, CreateModel):
        tenant = action.tags.get(TENANT_TAG, "?")
        return f"create registered model {action.model} (tenant {tenant})"
    if isinstance(action, SetDescription):
        return f"description of {action.model}: {_q(action.old)} -> {_q(action.new)}"
    if isinstance(action, CreateVersion):
        return f"create version {action.spec_version} of {action.model} from {_q(action.source)}"
    if isinstance(action, SetTag | DeleteTag):
        return _describe_tag(action)
    if isinstance(action, SetAlias):
        target = _version(action.spec_version, action.mlflow_version)
        if action.old_version is None:
            return f"alias {action.model}@{action.alias} -> {target}"
        old = _version(action.old_spec_version, action.old_version)
        return f"alias {action.model}@{action.alias}: {old} -> {target}"
    old = _version(action.old_spec_version, action.old_version)
    return f"alias {action.model}@{action.alias} (now {old})"


def details(action: Action) -> list[str]:
    """The attributes a create sets, one per line; mlspec's own tags are left out."""
    if not isinstance(action, CreateModel | CreateVersion):
        return []
    lines = []
    if isinstance(action, CreateModel) and action.description is not None:
        lines.append(f"description = {_q(action.description)}")
    user_tags = {k: v for k, v in action.tags.items() if not k.startswith(TAG_PREFIX)}
    return lines + [f"tag {_q(k)} = {_q(v)}" for k, v in sorted(user_tags.items())]


def _describe_tag(action: SetTag | DeleteTag) -> str:
    owner = action.model
    if action.spec_version is not None:
        owner += f" {_version(action.spec_version, action.mlflow_version)}"
    if isinstance(action, DeleteTag):
        return f"tag {_q(action.key)} of {owner} (was {_q(action.old)})"
    if action.old is None:
        return f"tag {_q(action.key)} of {owner} = {_q(action.new)}"
    return f"tag {_q(action.key)} of {owner}: {_q(action.old)} -> {_q(action.new)}"


def _version(spec_version: int | None, mlflow_version: int | None) -> str:
    if spec_version is None:
        return f"MLflow version {mlflow_version} (not in the spec)"
    if mlflow_version is None:
        return f"version {spec_version} (MLflow number assigned on create)"
    return f"version {spec_version} (MLflow {mlflow_version})"


def _q(value: str) -> str:
    return json.dumps(safe_text(value, 80), ensure_ascii=False)


# --- JSON --------------------------------------------------------------------------------


def render_json(
    plan: Plan,
    header: Header,
    diagnostics: Sequence[Diagnostic],
    applied: Mapping[str, int] | None = None,
) -> str:
    """The plan as one JSON document; ``applied`` (done/planned/not_run) after an apply."""
    document: dict[str, Any] = {
        "format": PLAN_FORMAT,
        "environment": header.environment,
        "tracking_uri": header.tracking_uri,
        "tracking_uri_from": header.origin,
        "in_sync": plan.in_sync,
        "summary": plan.counts(),
        "changes": [action_dict(action) for action in plan.actions],
        "diagnostics": [as_dict(d) for d in diagnostics],
    }
    if applied is not None:
        document["applied"] = dict(applied)
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def action_dict(action: Action) -> dict[str, Any]:
    data = {k: v for k, v in dataclasses.asdict(action).items() if v is not None}
    return {"op": _op_name(action), "change": action.change, **data}


def _op_name(action: Action) -> str:
    name = type(action).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
