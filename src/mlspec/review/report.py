"""Build a `Diff` from two specs, and render it as text, markdown or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby

from mlspec.api import Compiled, compile_spec
from mlspec.diagnostics import Diagnostic
from mlspec.policy import PolicyOptions
from mlspec.review.diff import MISSING, Diff, FieldChange, ObjectChange, object_changes
from mlspec.review.summary import summarize
from mlspec.spec.frontend import SpecFile
from mlspec.spec.model import Platform

FORMATS = ("text", "markdown", "json")


def diff_specs(
    base: SpecFile, head: SpecFile, environments: Sequence[str] = ()
) -> tuple[Diff | None, Compiled, Compiled]:
    """Compile both sides in memory; None when either does not compile."""
    # the same file name on both sides: provenance annotations carry it
    head = SpecFile(head.display, base.name, head.raw)
    policy = PolicyOptions()
    old = compile_spec(base, environments, policy=policy)
    new = compile_spec(head, environments, policy=policy)
    if not (old.ok and new.ok):
        return None, old, new
    both = sorted(set(old.validated.environments) & set(new.validated.environments))
    pairs = {
        env: (old.validated.environments[env].platform, new.validated.environments[env].platform)
        for env in both
    }
    summary = summarize(pairs) + _policy_changes(old.diagnostics, new.diagnostics)
    result = Diff(summary=summary, objects=object_changes(old.files, new.files))
    result.costs = _cost_changes(pairs)
    return result, old, new


def _policy_changes(before: list[Diagnostic], after: list[Diagnostic]) -> list[str]:
    """Policy results (warnings: a deny stops the compile) that appeared or went away."""

    def results(found: list[Diagnostic]) -> set[str]:
        return {d.message for d in found if d.code.startswith("MLS7")}

    old, new = results(before), results(after)
    lines = [f"policy now warns: {message}" for message in sorted(new - old)]
    return lines + [f"policy no longer warns: {message}" for message in sorted(old - new)]


def _cost_changes(
    pairs: dict[str, tuple[Platform, Platform]],
) -> list[tuple[str, str, float, float]]:
    from mlspec.analysis import figures

    rows = []
    for env, (old, new) in sorted(pairs.items()):
        before, after = figures(old)["tenants"], figures(new)["tenants"]
        for tenant in sorted(set(before) | set(after)):
            a = before.get(tenant, {}).get("monthlyCost", 0.0)
            b = after.get(tenant, {}).get("monthlyCost", 0.0)
            if round(a, 2) != round(b, 2):
                rows.append((env, tenant, float(a), float(b)))
    return rows


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _delta(before: float, after: float) -> str:
    sign = "+" if after >= before else "-"
    return f"{sign}{_money(abs(after - before))}"


def _value(value: object) -> str:
    return MISSING if value == MISSING else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _field_line(change: FieldChange) -> str:
    if change.lines:
        return f"{change.path}: {change.before} → {change.after}"
    return f"{change.path}: {_value(change.before)} → {_value(change.after)}"


def _object_title(change: ObjectChange) -> str:
    mark = {"added": "+", "removed": "-", "changed": "~"}[change.change]
    return f"{mark} {change.kind} {change.name} ({change.file})"


def _groups(diff: Diff) -> list[tuple[tuple[str, str], list[ObjectChange]]]:
    ordered = sorted(diff.objects, key=lambda c: (c.env, c.tenant, c.kind, c.name, c.file))
    return [(key, list(items)) for key, items in groupby(ordered, key=lambda c: (c.env, c.tenant))]


def render_text(diff: Diff) -> str:
    lines = ["Summary:"] + [f"  {line}" for line in diff.summary or ["no platform-level change"]]
    if diff.costs:
        lines.append("Monthly GPU cost:")
        lines += [
            f"  {env}/{tenant}: {_money(a)} → {_money(b)} ({_delta(a, b)})"
            for env, tenant, a, b in diff.costs
        ]
    for (env, tenant), changes in _groups(diff):
        lines.append(f"{env} / {tenant}:")
        for change in changes:
            lines.append(f"  {_object_title(change)}")
            lines += [f"      {_field_line(f)}" for f in change.fields]
    if not diff.objects:
        lines.append("No compiled object changes.")
    return "\n".join(lines) + "\n"


def render_markdown(diff: Diff) -> str:
    count = len(diff.summary)
    lines = [f"### mlspec diff: {count} platform change{'' if count == 1 else 's'}", ""]
    lines += [f"- {line}" for line in diff.summary] or ["No platform-level change."]
    if diff.costs:
        lines += ["", "**Monthly GPU cost**", "", "| env | tenant | before | after | delta |"]
        lines.append("|---|---|---:|---:|---:|")
        lines += [
            f"| {env} | {tenant} | {_money(a)} | {_money(b)} | {_delta(a, b)} |"
            for env, tenant, a, b in diff.costs
        ]
    for (env, tenant), changes in _groups(diff):
        plural = "" if len(changes) == 1 else "s"
        lines += [
            "",
            f"<details><summary>{env} / {tenant}: {len(changes)} object{plural}</summary>",
            "",
        ]
        for change in changes:
            lines.append(f"- `{_object_title(change)}`")
            lines += [f"  - `{_field_line(f)}`" for f in change.fields]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def render_json(diff: Diff) -> str:
    document = {
        "summary": diff.summary,
        "costs": [
            {"environment": e, "tenant": t, "before": a, "after": b, "delta": round(b - a, 2)}
            for e, t, a, b in diff.costs
        ],
        "objects": [
            {
                "environment": c.env,
                "tenant": c.tenant,
                "kind": c.kind,
                "name": c.name,
                "file": c.file,
                "change": c.change,
                "fields": [
                    {"path": f.path, "before": f.before, "after": f.after} for f in c.fields
                ],
            }
            for c in diff.objects
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
