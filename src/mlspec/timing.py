"""Stage timings for `--timings` and the benchmarks.

A recorder is installed for the duration of one command (`recording()`); stages
anywhere in the pipeline mark themselves with `stage("name")`. When no recorder is
installed, `stage` costs one context-variable lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[dict[str, float] | None] = ContextVar("mlspec_timings", default=None)


@contextmanager
def recording() -> Iterator[dict[str, float]]:
    """Record the stages run inside the block: name -> seconds, in first-run order."""
    stages: dict[str, float] = {}
    token = _CURRENT.set(stages)
    try:
        yield stages
    finally:
        _CURRENT.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    stages = _CURRENT.get()
    if stages is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - start


def add_time(name: str, seconds: float) -> None:
    """Count ``seconds`` spent elsewhere (in a worker process) to the stage ``name``."""
    stages = _CURRENT.get()
    if stages is not None:
        stages[name] = stages.get(name, 0.0) + seconds


def render(stages: dict[str, float]) -> str:
    width = max((len(name) for name in stages), default=5)
    lines = [f"{name:<{width}}  {seconds * 1000:9.1f} ms" for name, seconds in stages.items()]
    return "\n".join(["stage timings:", *lines]) + "\n"
