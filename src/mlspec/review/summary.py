"""The ML-aware summary of a diff, read from the two typed platforms of an environment.

Each function compares one concern and returns human lines; `summarize` merges
lines that are the same in several environments into one ("(prod, staging)").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlspec.spec.model import Deployment, Platform

Lines = list[str]


def _arrow(before: Any, after: Any) -> str:
    show = {None: "none"}
    return f"{show.get(before, before)} → {show.get(after, after)}"


def aliases(old: Platform, new: Platform) -> Lines:
    lines = []
    for name in sorted(set(old.models) & set(new.models)):
        before, after = old.models[name].aliases, new.models[name].aliases
        for alias in sorted(set(before) | set(after)):
            if before.get(alias) != after.get(alias):
                lines.append(f"`{name}` {alias} {_arrow(before.get(alias), after.get(alias))}")
    return lines


def deployments(old: Platform, new: Platform) -> Lines:
    lines = []
    for name in sorted(set(old.deployments) & set(new.deployments)):
        lines += _deployment(name, old.deployments[name], new.deployments[name])
    return lines


def _deployment(name: str, old: Deployment, new: Deployment) -> Lines:
    lines = []
    if old.version != new.version:
        lines.append(f"`{name}` serves {_arrow(old.version, new.version)}")
    before = old.canary.traffic if old.canary else None
    after = new.canary.traffic if new.canary else None
    if before != after:
        lines.append(f"`{name}` canary traffic {_arrow(_pct(before), _pct(after))}")
    if (old.canary and new.canary) and old.canary.version != new.canary.version:
        lines.append(f"`{name}` canary version {_arrow(old.canary.version, new.canary.version)}")
    for bound in ("min", "max"):
        a, b = getattr(old.replicas, bound), getattr(new.replicas, bound)
        if a != b:
            lines.append(f"`{name}` {bound} replicas {_arrow(a, b)}")
    if _gpu(old) != _gpu(new):
        lines.append(f"`{name}` GPUs {_arrow(_gpu(old), _gpu(new))}")
    return lines


def _pct(value: int | None) -> str | None:
    return None if value is None else f"{value}%"


def _gpu(deployment: Deployment) -> str | None:
    gpu = deployment.resources.gpu if deployment.resources else None
    return f"{gpu.count} x {gpu.pool}" if gpu else None


def quotas(old: Platform, new: Platform) -> Lines:
    lines = []
    for name in sorted(set(old.tenants) & set(new.tenants)):
        before, after = old.tenants[name].quota, new.tenants[name].quota
        for section, label in (("gpu", "GPU quota"), ("borrow", "borrow limit")):
            a, b = getattr(before, section), getattr(after, section)
            for pool in sorted(set(a) | set(b)):
                if a.get(pool, 0) != b.get(pool, 0):
                    lines.append(
                        f"`{name}` {label} {pool} {_arrow(a.get(pool, 0), b.get(pool, 0))}"
                    )
        for resource in ("cpu", "memory"):
            a, b = getattr(before, resource), getattr(after, resource)
            if a != b:
                lines.append(f"`{name}` {resource} quota {_arrow(a, b)}")
    return lines


def pipelines(old: Platform, new: Platform) -> Lines:
    lines = [f"pipeline `{p}` added" for p in sorted(set(new.pipelines) - set(old.pipelines))]
    lines += [f"pipeline `{p}` removed" for p in sorted(set(old.pipelines) - set(new.pipelines))]
    for name in sorted(set(old.pipelines) & set(new.pipelines)):
        a, b = old.pipelines[name].schedule, new.pipelines[name].schedule
        if a != b:
            lines.append(f"pipeline `{name}` schedule {_arrow(a, b)}")
    return lines


def inventory(old: Platform, new: Platform) -> Lines:
    """Tenants, models, deployments and monitors that appeared or went away."""
    lines = []
    for section in ("tenants", "models", "deployments", "monitors"):
        a, b = getattr(old, section), getattr(new, section)
        kind = section[:-1]
        lines += [f"{kind} `{n}` added" for n in sorted(set(b) - set(a))]
        lines += [f"{kind} `{n}` removed" for n in sorted(set(a) - set(b))]
    return lines


SECTIONS: tuple[Callable[[Platform, Platform], Lines], ...] = (
    inventory,
    aliases,
    deployments,
    quotas,
    pipelines,
)


def summarize(pairs: dict[str, tuple[Platform, Platform]]) -> list[str]:
    """Summary lines over every environment, each line once with the environments it is in."""
    seen: dict[str, list[str]] = {}
    for env, (old, new) in sorted(pairs.items()):
        for section in SECTIONS:
            for line in section(old, new):
                seen.setdefault(line, []).append(env)
    every = sorted(pairs)
    return [line if envs == every else f"{line} ({', '.join(envs)})" for line, envs in seen.items()]
