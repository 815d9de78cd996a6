"""The plan: which changes make MLflow hold the desired state. Pure: data in, data out.

`make_plan(desired, actual)` compares the desired state (from the spec) with what MLflow
holds (read by `mlflow_client`) and returns the actions, in the order they must run, and
the conflicts it will not touch:

* a registered model that exists without mlspec's ownership tags (or belongs to another
  platform) is reported and skipped, never modified;
* a spec version already registered (by its ``mlspec.dev/spec-version`` tag) with another
  ``source`` is reported: MLflow versions are immutable, the spec needs a new number;
* a spec version registered twice (an old bug, a race of two applies) is a warning; the
  lowest MLflow number is the one aliases point at.

Per model the actions run in this order: create the model, its description and tags,
create versions (ascending spec numbers, so MLflow's numbers follow the spec's order on a
fresh registry), version tags, then aliases. An alias whose version is still to be created
carries no MLflow number yet; the apply resolves it once the version exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from mlspec.diagnostics import Diagnostic, Severity
from mlspec.registry.desired import (
    MANAGED_BY,
    MANAGED_BY_TAG,
    MANAGED_TAGS_TAG,
    PLATFORM_TAG,
    SPEC_VERSION_TAG,
    TAG_PREFIX,
    DesiredModel,
    DesiredState,
    DesiredVersion,
    parse_managed_tags,
)

FAILED = "FAILED_REGISTRATION"

# --- what MLflow holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class ActualVersion:
    number: int  # MLflow's version number
    source: str
    status: str  # READY, PENDING_REGISTRATION or FAILED_REGISTRATION
    tags: Mapping[str, str]

    @property
    def spec_version(self) -> int | None:
        value = self.tags.get(SPEC_VERSION_TAG, "")
        return int(value) if value.isdigit() else None


@dataclass(frozen=True)
class ActualModel:
    name: str
    description: str
    tags: Mapping[str, str]
    aliases: Mapping[str, int]  # alias -> MLflow version number
    versions: tuple[ActualVersion, ...] = ()  # read only for models mlspec owns

    def owned_by(self, platform: str) -> bool:
        return (
            self.tags.get(MANAGED_BY_TAG) == MANAGED_BY and self.tags.get(PLATFORM_TAG) == platform
        )


# --- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateModel:
    change: ClassVar[str] = "add"
    model: str
    pointer: str
    description: str | None
    tags: Mapping[str, str]


@dataclass(frozen=True)
class SetDescription:
    change: ClassVar[str] = "change"
    model: str
    pointer: str
    old: str
    new: str


@dataclass(frozen=True)
class SetTag:
    """Set a tag on the registered model, or on one version when ``spec_version`` is set."""

    model: str
    pointer: str
    key: str
    old: str | None
    new: str
    spec_version: int | None = None
    mlflow_version: int | None = None

    @property
    def change(self) -> str:
        return "add" if self.old is None else "change"


@dataclass(frozen=True)
class DeleteTag:
    change: ClassVar[str] = "destroy"
    model: str
    pointer: str
    key: str
    old: str
    spec_version: int | None = None
    mlflow_version: int | None = None


@dataclass(frozen=True)
class CreateVersion:
    change: ClassVar[str] = "add"
    model: str
    pointer: str
    spec_version: int
    source: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class SetAlias:
    """Point ``alias`` at spec version ``spec_version``: MLflow number ``mlflow_version``,
    or None while that version is still to be created by this plan."""

    model: str
    pointer: str
    alias: str
    spec_version: int
    mlflow_version: int | None
    old_version: int | None  # the MLflow number the alias points at now
    old_spec_version: int | None = None

    @property
    def change(self) -> str:
        return "add" if self.old_version is None else "change"


@dataclass(frozen=True)
class DeleteAlias:
    change: ClassVar[str] = "destroy"
    model: str
    pointer: str
    alias: str
    old_version: int
    old_spec_version: int | None = None


Action = CreateModel | SetDescription | SetTag | DeleteTag | CreateVersion | SetAlias | DeleteAlias


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    # (model, spec version) -> MLflow version number, for every version already registered
    matched: Mapping[tuple[str, int], int] = field(default_factory=dict)

    @property
    def in_sync(self) -> bool:
        return not self.actions

    def counts(self) -> dict[str, int]:
        tally = {"add": 0, "change": 0, "destroy": 0}
        for action in self.actions:
            tally[action.change] += 1
        return tally


# --- the diff --------------------------------------------------------------------------------


def make_plan(desired: DesiredState, actual: Mapping[str, ActualModel]) -> Plan:
    """The actions that make ``actual`` (keyed by model name) hold ``desired``."""
    actions: list[Action] = []
    diagnostics: list[Diagnostic] = []
    matched: dict[tuple[str, int], int] = {}
    for model in desired.models:
        found = actual.get(model.name)
        if found is None:
            actions += _create_all(model)
        elif not found.owned_by(desired.platform):
            diagnostics.append(_foreign(model, found, desired.platform))
        else:
            versions, conflicted, problems = match_versions(model, found)
            matched.update({(model.name, n): v.number for n, v in versions.items()})
            diagnostics += problems
            actions += _update(model, found, versions, conflicted)
    return Plan(tuple(actions), tuple(diagnostics), matched)


def _create_all(model: DesiredModel) -> list[Action]:
    actions: list[Action] = [
        CreateModel(model.name, model.pointer, model.description, model.mlflow_tags())
    ]
    actions += [_create_version(model, version) for version in model.versions]
    actions += [
        SetAlias(model.name, f"{model.pointer}/aliases/{alias}", alias, spec, None, None)
        for alias, spec in model.aliases.items()
    ]
    return actions


def _create_version(model: DesiredModel, version: DesiredVersion) -> CreateVersion:
    return CreateVersion(
        model.name, version.pointer, version.spec_version, version.source, version.mlflow_tags()
    )


def _update(
    model: DesiredModel,
    found: ActualModel,
    versions: Mapping[int, ActualVersion],
    conflicted: set[int],
) -> list[Action]:
    actions: list[Action] = []
    if model.description is not None and model.description != found.description:
        pointer = f"{model.pointer}/description"
        actions.append(SetDescription(model.name, pointer, found.description, model.description))
    actions += _tag_changes(model.name, model.pointer, model.mlflow_tags(), found.tags)
    missing = [v for v in model.versions if v.spec_version not in set(versions) | conflicted]
    actions += [_create_version(model, version) for version in missing]
    for version in model.versions:
        actual = versions.get(version.spec_version)
        if actual is not None:
            target = (version.spec_version, actual.number)
            desired = version.mlflow_tags()
            actions += _tag_changes(model.name, version.pointer, desired, actual.tags, target)
    return actions + _alias_changes(model, found, versions, conflicted)


def _tag_changes(
    model: str,
    pointer: str,
    desired: Mapping[str, str],
    actual: Mapping[str, str],
    version: tuple[int, int] | None = None,
) -> list[Action]:
    """Set what differs; delete user tags mlspec set before that the spec no longer has.

    ``version`` is (spec version, MLflow version) for a version's tags, None for the model's.
    """
    spec_version, mlflow_version = version if version is not None else (None, None)
    where = f"{pointer}/tags"
    changes: list[Action] = [
        SetTag(model, where, key, actual.get(key), value, spec_version, mlflow_version)
        for key, value in sorted(desired.items())
        if actual.get(key) != value
    ]
    previously = parse_managed_tags(actual.get(MANAGED_TAGS_TAG))
    stale = sorted(k for k in previously - set(desired) if k in actual and not _reserved(k))
    changes += [
        DeleteTag(model, where, key, actual[key], spec_version, mlflow_version) for key in stale
    ]
    return changes


def _reserved(key: str) -> bool:
    return key.startswith(TAG_PREFIX)


def _alias_changes(
    model: DesiredModel,
    found: ActualModel,
    versions: Mapping[int, ActualVersion],
    conflicted: set[int],
) -> list[Action]:
    spec_of = {v.number: spec for spec, v in versions.items()}
    changes: list[Action] = []
    for alias, spec in model.aliases.items():
        target = versions.get(spec)
        current = found.aliases.get(alias)
        if spec in conflicted or (target is not None and target.number == current):
            continue
        number = target.number if target is not None else None
        pointer = f"{model.pointer}/aliases/{alias}"
        old_spec = spec_of.get(current) if current is not None else None
        changes.append(SetAlias(model.name, pointer, alias, spec, number, current, old_spec))
    for alias, current in sorted(found.aliases.items()):
        if alias not in model.aliases:
            old_spec = spec_of.get(current)
            changes.append(DeleteAlias(model.name, model.pointer, alias, current, old_spec))
    return changes


# --- matching versions: by the spec-version tag and the source, never by number alone -------


def match_versions(
    model: DesiredModel, found: ActualModel
) -> tuple[dict[int, ActualVersion], set[int], list[Diagnostic]]:
    """Spec version -> the MLflow version that holds it; the spec versions a conflict
    blocks (no create, no alias to them); and the problems found."""
    by_spec: dict[int, list[ActualVersion]] = {}
    for version in sorted(found.versions, key=lambda v: v.number):
        if version.status != FAILED and version.spec_version is not None:
            by_spec.setdefault(version.spec_version, []).append(version)
    matched: dict[int, ActualVersion] = {}
    conflicted: set[int] = set()
    problems: list[Diagnostic] = []
    for wanted in model.versions:
        candidates = by_spec.get(wanted.spec_version, [])
        same = [v for v in candidates if v.source == wanted.source]
        if same:
            matched[wanted.spec_version] = same[0]
            if len(same) > 1:
                problems.append(_duplicates(model, wanted, same))
        elif candidates:
            conflicted.add(wanted.spec_version)
            problems.append(_moved_source(model, wanted, candidates[0]))
    return matched, conflicted, problems


def _foreign(model: DesiredModel, found: ActualModel, platform: str) -> Diagnostic:
    owner = found.tags.get(PLATFORM_TAG) if found.tags.get(MANAGED_BY_TAG) == MANAGED_BY else None
    whose = f"by mlspec platform `{owner}`" if owner else "outside mlspec"
    return Diagnostic(
        "MLS860",
        f"registered model {model.name} already exists in MLflow, managed {whose}; "
        "mlspec leaves it alone",
        pointer=model.pointer,
        hint=(
            "rename the model in the spec, or, to hand it over to mlspec, tag it in MLflow "
            f"with {MANAGED_BY_TAG}={MANAGED_BY} and {PLATFORM_TAG}={platform}"
        ),
    )


def _moved_source(model: DesiredModel, wanted: DesiredVersion, held: ActualVersion) -> Diagnostic:
    return Diagnostic(
        "MLS863",
        f"version {wanted.spec_version} of {model.name} is registered in MLflow "
        f"(MLflow version {held.number}) with source {held.source}, not {wanted.source}",
        pointer=f"{wanted.pointer}/source",
        hint="model versions are immutable: give the new source a new version number",
    )


def _duplicates(
    model: DesiredModel, wanted: DesiredVersion, same: list[ActualVersion]
) -> Diagnostic:
    numbers = ", ".join(str(v.number) for v in same)
    return Diagnostic(
        "MLS864",
        f"version {wanted.spec_version} of {model.name} is registered {len(same)} times "
        f"(MLflow versions {numbers}); aliases use version {same[0].number}",
        pointer=wanted.pointer,
        hint="delete the extra MLflow versions by hand once nothing uses them",
        severity=Severity.WARNING,
    )
