"""Desired state: what the MLflow registry should hold, derived from the platform alone.

Pure data, no MLflow import: the `mlflow` compiler writes it into the GitOps tree and
`mlspec registry plan` diffs it against what MLflow holds.

How mlspec marks what it owns (the tags are the whole contract with MLflow):

* a registered model is **owned** when it carries ``mlspec.dev/managed-by: mlspec`` and
  ``mlspec.dev/platform: <metadata.name>``; models without them are never modified;
* a model version belongs to spec version N when it carries ``mlspec.dev/spec-version: N``
  and its ``source`` equals the spec's. MLflow numbers versions itself (1, 2, 3 ... in
  creation order), so spec version 7 may well be MLflow version 1; aliases are set on the
  MLflow number found through that tag, never on the spec number;
* ``mlspec.dev/managed-tags`` lists (as JSON) the user tags mlspec set, so that a tag
  removed from the spec is removed from MLflow while tags others add are left alone.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlspec.diagnostics import Diagnostic, safe_text
from mlspec.spec.model import Model, Platform
from mlspec.spec.source import SourceMap

TAG_PREFIX = "mlspec.dev/"
MANAGED_BY_TAG = "mlspec.dev/managed-by"
MANAGED_BY = "mlspec"
PLATFORM_TAG = "mlspec.dev/platform"
TENANT_TAG = "mlspec.dev/tenant"
SPEC_VERSION_TAG = "mlspec.dev/spec-version"
MANAGED_TAGS_TAG = "mlspec.dev/managed-tags"

REGISTRATIONS_KIND = "ModelRegistrations"

# MLflow's own rules for tag keys (mlflow.utils.validation), checked here so that the
# error points at the spec line instead of coming back from the server.
_TAG_KEY = re.compile(r"^[/\w.\- :]{1,250}$")
_TAG_VALUE_MAX = 100_000
_RESERVED_ALIAS = re.compile(r"^(latest|[vV]\d+)$", re.IGNORECASE)


@dataclass(frozen=True)
class DesiredVersion:
    spec_version: int
    source: str
    tags: Mapping[str, str]  # user tags from the spec
    pointer: str

    def mlflow_tags(self) -> dict[str, str]:
        """Every tag the MLflow version carries: the user's and mlspec's."""
        return {
            **self.tags,
            MANAGED_BY_TAG: MANAGED_BY,
            SPEC_VERSION_TAG: str(self.spec_version),
            MANAGED_TAGS_TAG: managed_tags_value(self.tags),
        }


@dataclass(frozen=True)
class DesiredModel:
    name: str
    tenant: str
    platform: str
    description: str | None  # None: mlspec leaves the description alone
    tags: Mapping[str, str]  # user tags from the spec
    versions: tuple[DesiredVersion, ...]  # by spec version, ascending
    aliases: Mapping[str, int]  # alias -> spec version
    pointer: str

    def mlflow_tags(self) -> dict[str, str]:
        """Every tag the registered model carries: the user's, ownership and bookkeeping."""
        return {
            **self.tags,
            **ownership_tags(self.platform, self.tenant),
            MANAGED_TAGS_TAG: managed_tags_value(self.tags),
        }

    def version(self, spec_version: int) -> DesiredVersion | None:
        return next((v for v in self.versions if v.spec_version == spec_version), None)


@dataclass(frozen=True)
class DesiredState:
    platform: str
    models: tuple[DesiredModel, ...]  # by name

    @property
    def names(self) -> list[str]:
        return [model.name for model in self.models]


def ownership_tags(platform: str, tenant: str) -> dict[str, str]:
    return {MANAGED_BY_TAG: MANAGED_BY, PLATFORM_TAG: platform, TENANT_TAG: tenant}


def managed_tags_value(tags: Mapping[str, str]) -> str:
    return json.dumps(sorted(tags), separators=(",", ":"))


def parse_managed_tags(value: str | None) -> set[str]:
    """The user tag keys mlspec set last time; a damaged value counts as none."""
    try:
        keys = json.loads(value) if value else []
    except ValueError:
        return set()
    return {k for k in keys if isinstance(k, str)} if isinstance(keys, list) else set()


def desired_state(platform: Platform) -> DesiredState:
    name = platform.metadata.name
    models = tuple(
        _desired_model(name, model_name, model)
        for model_name, model in sorted(platform.models.items())
    )
    return DesiredState(name, models)


def _desired_model(platform: str, name: str, model: Model) -> DesiredModel:
    pointer = f"/models/{name}"
    versions = tuple(
        DesiredVersion(int(number), v.source, dict(v.tags), f"{pointer}/versions/{number}")
        for number, v in sorted(model.versions.items(), key=lambda item: int(item[0]))
    )
    return DesiredModel(
        name=name,
        tenant=model.tenant,
        platform=platform,
        description=model.description,
        tags=dict(sorted(model.tags.items())),
        versions=versions,
        aliases=dict(sorted(model.aliases.items())),
        pointer=pointer,
    )


# --- checks: what MLflow would refuse, reported at the spec line ----------------------------


def check_desired(state: DesiredState) -> list[Diagnostic]:
    """Problems MLflow would only report halfway through an apply. Locations are filled in
    by `locate` from the pointers."""
    problems: list[Diagnostic] = []
    for model in state.models:
        problems += _tag_problems(model.tags, f"{model.pointer}/tags")
        for version in model.versions:
            problems += _tag_problems(version.tags, f"{version.pointer}/tags")
        for alias in model.aliases:
            if _RESERVED_ALIAS.match(alias):
                message = f"alias `{alias}` of model {model.name} is reserved by MLflow"
                hint = "MLflow reserves `latest` and `v<number>`; choose another alias name"
                problems.append(
                    _problem("MLS862", message, f"{model.pointer}/aliases/{alias}", hint)
                )
    return problems


def _tag_problems(tags: Mapping[str, str], pointer: str) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    for key, value in tags.items():
        where = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
        problem = _tag_key_problem(key)
        if problem is not None:
            problems.append(_problem("MLS861", f"tag `{safe_text(key)}` {problem}", where))
        elif len(value) > _TAG_VALUE_MAX:
            message = f"tag `{key}` is {len(value)} characters long; MLflow's limit is 100000"
            problems.append(_problem("MLS861", message, where))
    return problems


def _tag_key_problem(key: str) -> str | None:
    if key.startswith(TAG_PREFIX):
        return f"uses the prefix `{TAG_PREFIX}`, which mlspec reserves for its own tags"
    if not _TAG_KEY.match(key):
        return "is not a valid MLflow tag key (1-250 letters, digits, _ - . / : or spaces)"
    normal = posixpath.normpath(key)
    if normal != key or normal == "." or normal.startswith(("..", "/")):
        return "is not a valid MLflow tag key (it must not read as a relative or absolute path)"
    return None


def _problem(code: str, message: str, pointer: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, None, pointer, hint)


# --- the registrations document (the `mlflow` compiler's output) ------------------------


def registrations_spec(state: DesiredState, tracking_uri: str | None) -> dict[str, Any]:
    """The ``spec`` of the ModelRegistrations document: spec version numbers only, since
    the MLflow numbers are MLflow's to assign."""
    spec: dict[str, Any] = {
        "ownership": {MANAGED_BY_TAG: MANAGED_BY, PLATFORM_TAG: state.platform},
        "models": {model.name: _model_document(model) for model in state.models},
    }
    if tracking_uri is not None:
        spec["trackingUri"] = redact_uri(tracking_uri)
    return spec


def _model_document(model: DesiredModel) -> dict[str, Any]:
    document: dict[str, Any] = {
        "tenant": model.tenant,
        "tags": dict(model.tags),
        "versions": [
            {"specVersion": v.spec_version, "source": v.source, "tags": dict(v.tags)}
            for v in model.versions
        ],
        "aliases": dict(model.aliases),
    }
    if model.description is not None:
        document["description"] = model.description
    return document


def redact_uri(uri: str) -> str:
    """A URI as it may be shown or committed: ``user:password@`` and any query masked."""
    return re.sub(r"\?.*$", "?***", scrub(uri))


def scrub(text: str) -> str:
    """Mask the ``user:password@`` of every URI in a message (MLflow's errors echo URLs)."""
    return re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@?#\s]*@", r"\1***@", text)


def locate(diagnostics: Iterable[Diagnostic], sources: SourceMap) -> list[Diagnostic]:
    """Fill in file:line:col from each diagnostic's JSON pointer (the key's line)."""
    located: list[Diagnostic] = []
    for diag in diagnostics:
        if diag.location is None and diag.pointer is not None:
            diag = dataclasses.replace(diag, location=sources.key_location(diag.pointer))
        located.append(diag)
    return located
