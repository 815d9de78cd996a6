"""Five-field cron expressions, as Kubernetes CronJobs and KFP recurring runs read them."""

from __future__ import annotations

import re

_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i + 1
            for i, m in enumerate(
                ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
            )
        },
    ),
    (
        "day of week",
        0,
        7,
        {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
    ),
)
_ATOM = re.compile(r"^(\*|[0-9A-Za-z]+(?:-[0-9A-Za-z]+)?)(?:/([0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a valid five-field cron schedule, or None."""
    text = expression.strip()
    if text in _MACROS:
        return None
    fields = text.split()
    if len(fields) != 5:
        return f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        problem = _field_problem(value, low, high, names)
        if problem:
            return f"{name} field {value!r}: {problem}"
    return None


def _field_problem(value: str, low: int, high: int, names: dict[str, int]) -> str | None:
    for part in value.split(","):
        match = _ATOM.match(part)
        if match is None:
            return "expected *, a number, a range a-b, or a step */n"
        base, step = match.groups()
        if step is not None and int(step) == 0:
            return "a step of 0 never fires"
        if base == "*":
            continue
        bounds = [_number(token, names) for token in base.split("-")]
        if any(b is None or not low <= b <= high for b in bounds):
            return f"values must be between {low} and {high}"
        if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
            return "a range must go from low to high"
    return None


def _number(token: str, names: dict[str, int]) -> int | None:
    if token.isdigit():
        return int(token)
    return names.get(token.lower())
