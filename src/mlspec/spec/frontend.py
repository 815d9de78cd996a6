"""The front end: one spec file in, one validated `Platform` per environment out.

    read -> load (strict YAML) -> per environment: patch -> expand templates
         -> validate (pydantic) -> check references

Nothing here imports a compiler, kfp or mlflow: `mlspec validate` stays fast.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlspec.analysis import check_capacity
from mlspec.diagnostics import Diagnostic, Location, MlspecError, has_errors, sorted_unique
from mlspec.gcpause import collection_paused
from mlspec.graph import Elements, extract
from mlspec.graph_checks import check_graph
from mlspec.spec.loader import DEFAULT_LIMITS, Limits, load_bytes
from mlspec.spec.model import Platform
from mlspec.spec.patch import apply_patch, check_patch, environment_patch
from mlspec.spec.references import check_references
from mlspec.spec.source import SourceMap
from mlspec.spec.templates import expand_templates
from mlspec.spec.validate import validate_platform
from mlspec.timing import stage

DEFAULT_ENVIRONMENT = "default"


@dataclass(frozen=True)
class SpecFile:
    """The bytes of a spec and how we name it in messages and provenance."""

    display: str  # as the user wrote the path: used in diagnostics
    name: str  # the file name alone: used in provenance, so output does not depend on cwd
    raw: bytes

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(self.raw).hexdigest()

    @classmethod
    def read(cls, path: str | Path) -> SpecFile:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            message = f"cannot read {path}: {exc.strerror or exc}"
            raise MlspecError(Diagnostic("MLS901", message, Location(str(path), 1, 1))) from exc
        return cls(str(path), Path(path).name, raw)


@dataclass(frozen=True)
class EnvironmentSpec:
    """The validated platform as one environment sees it."""

    name: str
    platform: Platform
    sources: SourceMap
    elements: Elements | None = None  # its graph's nodes and edges, as validation built them

    @property
    def graph_elements(self) -> Elements:
        """The nodes and edges of this environment's graph: those validation built, or
        built now (an environment made without them)."""
        return self.elements if self.elements is not None else extract(self.platform, self.sources)

    @property
    def cluster(self) -> str | None:
        environment = self.platform.environments.get(self.name)
        return environment.cluster if environment else None


@dataclass
class Validated:
    spec: SpecFile
    environments: dict[str, EnvironmentSpec] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    document: dict[str, Any] | None = None  # as loaded: before patches and templates

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics)


def validate_spec(
    spec: SpecFile,
    environments: Sequence[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    on_valid: Callable[[EnvironmentSpec], None] | None = None,
) -> Validated:
    """Validate ``spec`` for the named environments (all of them when empty).

    ``on_valid`` is told of each environment as soon as it is valid, before the next
    one is validated (the policies start there: their evaluation then overlaps the
    rest of the validation). Another environment may still turn out invalid.
    """
    with collection_paused():  # trees of dicts, lists and models: no cycles (gcpause.py)
        return _validate_spec(spec, environments, limits, on_valid)


def _validate_spec(
    spec: SpecFile,
    environments: Sequence[str],
    limits: Limits,
    on_valid: Callable[[EnvironmentSpec], None] | None,
) -> Validated:
    with stage("load"):
        loaded = load_bytes(spec.raw, spec.display, limits)
    if loaded.data is None:
        return Validated(spec, diagnostics=sorted_unique(loaded.diagnostics))
    names, problems = _environment_names(loaded.data, loaded.sources, environments, spec.display)
    if problems:
        return Validated(spec, diagnostics=problems)
    result = Validated(spec, document=loaded.data)
    per_env: dict[str, list[Diagnostic]] = {}
    for name in names:
        env, found = _validate_environment(loaded.data, loaded.sources, name)
        per_env[name] = found
        if env is not None and not has_errors(found):
            result.environments[name] = env
            if on_valid is not None:
                on_valid(result.environments[name])
    result.diagnostics = _merge_environment_diagnostics(per_env)
    return result


def _environment_names(
    data: dict[str, Any], sources: SourceMap, wanted: Sequence[str], file: str
) -> tuple[list[str], list[Diagnostic]]:
    declared = data.get("environments")
    known = sorted(declared) if isinstance(declared, dict) and declared else [DEFAULT_ENVIRONMENT]
    unknown = [name for name in wanted if name not in known]
    if not unknown:
        return (sorted(set(wanted)) or known), []
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f"did you mean `{close[0]}`?" if close else "environments: " + ", ".join(known)
    location = sources.key_location("/environments") or Location(file, 1, 1)
    message = f"unknown environment `{unknown[0]}`"
    return [], [Diagnostic("MLS401", message, location, "/environments", hint)]


def _validate_environment(
    data: dict[str, Any], sources: SourceMap, env: str
) -> tuple[EnvironmentSpec | None, list[Diagnostic]]:
    """The environment's platform (None if it could not be built) and its problems."""
    found = environment_patch(data, env)
    if found is not None:
        patch, patch_ptr = found
        problems = check_patch(patch, patch_ptr, sources)
        if problems:
            return None, problems
        data, sources = apply_patch(data, sources, patch, patch_ptr)
    with stage("templates"):
        data, sources, diagnostics = expand_templates(data, sources)
    with stage("validate"):
        platform, problems = validate_platform(data, sources)
    diagnostics += problems
    if platform is None:
        return None, diagnostics
    with stage("references"):
        references = _without_echoes(check_references(platform, sources), diagnostics)
    diagnostics += references
    elements = None
    if not has_errors(references):  # the graph needs every reference resolved
        with stage("graph"):
            elements = extract(platform, sources)
            diagnostics += check_graph(platform, sources, elements)
            diagnostics += check_capacity(platform, sources)
    return EnvironmentSpec(env, platform, sources, elements), diagnostics


def _without_echoes(found: list[Diagnostic], template_errors: list[Diagnostic]) -> list[Diagnostic]:
    """A template string that failed to render stays raw: its `{{ ... }}` must not be
    reported a second time as an unknown placeholder."""
    failed = {d.location for d in template_errors if d.code.startswith("MLS5")}
    return [d for d in found if not (d.code == "MLS309" and d.location in failed)]


def _merge_environment_diagnostics(per_env: dict[str, list[Diagnostic]]) -> list[Diagnostic]:
    """A problem seen in every environment is reported once; others name theirs."""
    everywhere = set.intersection(*(set(d) for d in per_env.values())) if per_env else set()
    merged: list[Diagnostic] = list(everywhere)
    for env, diagnostics in sorted(per_env.items()):
        for diag in diagnostics:
            if diag not in everywhere:
                merged.append(_in_environment(diag, env))
    return sorted_unique(merged)


def _in_environment(diag: Diagnostic, env: str) -> Diagnostic:
    return Diagnostic(
        diag.code,
        f"{diag.message} (environment {env})",
        diag.location,
        diag.pointer,
        diag.hint,
        diag.severity,
        diag.related,
    )
