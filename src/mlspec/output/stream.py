"""Compiled artifacts, one at a time: checked, emitted as YAML and handed to a sink.

Nothing holds the whole compiled tree at once (at N = 5000 tenants that was 2.5 GiB):
the artifacts of one compiler for one environment are alive at a time, and their bytes
go straight to a sink — the dict of `api.compile_spec`, the staging tree of
`api.compile_to` (`writer.TreeWriter`), or the comparison of `api.drift`. The checks
are the same as before anything is written (checks.py); the caller throws the sink's
content away when any of them failed.

Equal objects (most objects are the same in every environment) are checked and emitted
once: the stream remembers, by a digest of their canonical JSON, the schema problems
and bytes of every object since the last `forget`. The caller forgets after each
compiler, so the memory is bounded by one compiler's output in every environment.
The schema checks may also run elsewhere (`verdicts`, in the compile worker of
compilers/ahead.py): `add` then takes their verdict instead of checking again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from mlspec.compilers.base import Artifact
from mlspec.diagnostics import Diagnostic, Location, has_errors
from mlspec.gitops.layout import is_kubernetes_object
from mlspec.output.checks import (
    check_placement,
    fingerprint,
    schema_diagnostics,
    schema_problems,
)
from mlspec.output.emit import dump_yaml
from mlspec.timing import stage

Locate = Callable[[str], Location | None]
Verdict = tuple[bytes, list[Any]]  # an object's digest and its schema problems


class FileSink(Protocol):
    """Where emitted files go: ``add`` once per path."""

    def add(self, path: str, content: bytes) -> None: ...


class MemorySink:
    """The files in a dict (what `compile_spec` returns)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def add(self, path: str, content: bytes) -> None:
        self.files[path] = content


@dataclass
class _Seen:
    problems: list[Any]
    content: bytes | None = None  # emitted when first needed


class ArtifactStream:
    """Check each artifact, and while no error has been seen, emit it into ``sink``."""

    def __init__(self, sink: FileSink, locate: Mapping[str, Locate]) -> None:
        self.sink = sink
        self.locate = locate
        self.diagnostics: list[Diagnostic] = []
        self.sources: dict[str, str] = {}  # emitted file -> spec pointer it came from
        self.objects: dict[str, list[str]] = {}  # env -> paths of its Kubernetes objects
        self.writing = True
        self._placed: dict[str, dict[str, str]] = {}  # env -> path -> source
        self._seen: dict[bytes, _Seen] = {}
        self._judged: tuple[str, dict[bytes, list[Any]]] = ("", {})  # see `verdicts`

    def forget(self) -> None:
        """Drop the memory of equal objects (between compilers: they share none)."""
        self._seen.clear()

    def halt(self) -> None:
        """Stop emitting: something failed, the sink's content will be thrown away."""
        self.writing = False

    def verdicts(self, group: str, artifacts: list[Artifact]) -> list[Verdict]:
        """The schema checks of ``artifacts`` alone, for `add` to take instead of checking
        them itself (the compile worker runs them beside the stream: compilers/ahead.py).
        Equal objects are checked once within a ``group`` (one compiler's output)."""
        name, memo = self._judged
        if name != group:
            memo = {}
            self._judged = (group, memo)
        found: list[Verdict] = []
        with stage("check"):
            for artifact in artifacts:
                key = _digest(artifact.object)
                problems = memo.get(key)
                if problems is None:
                    problems = memo[key] = schema_problems(artifact.object)
                found.append((key, problems))
        return found

    def add(self, env: str, artifact: Artifact, verdict: Verdict | None = None) -> None:
        """Check ``artifact`` (its schema already, when ``verdict`` is given) and, while
        nothing failed, emit it."""
        locate = self.locate[env]
        placed = self._placed.setdefault(env, {})
        with stage("check"):
            collided = f"{env}/{artifact.path}" in placed
            found = check_placement(env, artifact, placed, locate)
            seen = self._check_schema(artifact.object, verdict)
            found += schema_diagnostics(env, artifact, seen.problems, locate)
        if is_kubernetes_object(artifact.object):
            self.objects.setdefault(env, []).append(artifact.path)
        if found:
            self.diagnostics += found
            if has_errors(found):
                self.halt()
        if self.writing and not collided:
            self._emit(f"{env}/{artifact.path}", artifact, seen)

    def _check_schema(self, obj: dict[str, Any], verdict: Verdict | None) -> _Seen:
        key = _digest(obj) if verdict is None else verdict[0]
        seen = self._seen.get(key)
        if seen is None:
            problems = schema_problems(obj) if verdict is None else verdict[1]
            seen = self._seen[key] = _Seen(problems)
        return seen

    def _emit(self, path: str, artifact: Artifact, seen: _Seen) -> None:
        if seen.content is None:
            with stage("emit"):
                seen.content = dump_yaml(artifact.object).encode()
        with stage("write"):
            self.sink.add(path, seen.content)
        self.sources[path] = artifact.source


def _digest(obj: dict[str, Any]) -> bytes:
    return hashlib.sha256(fingerprint(obj).encode("utf-8", "surrogatepass")).digest()
