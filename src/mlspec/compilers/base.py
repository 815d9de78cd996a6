"""The compiler plugin interface.

A compiler turns the validated platform of one environment into `Artifact`s:
Kubernetes objects (or other documents) with the path they go to and the spec
node they come from. Compilers never write files and never import each other.

Compilers are found through the ``mlspec.compilers`` entry-point group; the
built-in ones are registered there too (see pyproject.toml), so a third-party
compiler plugs in exactly like ours:

    [project.entry-points."mlspec.compilers"]
    my-target = "my_package.compiler:MyCompiler"
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from mlspec.diagnostics import Diagnostic, Location, MlspecError
from mlspec.spec.model import Platform
from mlspec.spec.source import SourceMap

ENTRY_POINT_GROUP = "mlspec.compilers"
MANAGED_BY = {"app.kubernetes.io/managed-by": "mlspec"}
LABEL_TENANT = "mlspec.dev/tenant"
ANNOTATION_SOURCE = "mlspec.dev/source"
ANNOTATION_SOURCE_DIGEST = "mlspec.dev/source-digest"


@dataclass(frozen=True)
class Artifact:
    """One output document.

    ``path`` is relative to the environment's directory (``tenants/fraud/...``);
    ``source`` is the JSON pointer of the spec node it was compiled from.
    """

    path: str
    object: dict[str, Any]
    source: str


def everything(source: str) -> bool:
    """The default of `CompileContext.wants`: every artifact is wanted."""
    return True


@dataclass(frozen=True)
class CompileContext:
    """What a compiler sees of one environment.

    ``wants(source)`` says whether the artifacts compiled from the spec node at JSON
    pointer ``source`` are wanted (``compile --select`` compiles only the selected
    nodes). A compiler may skip building unwanted ones, and should where that is
    costly; whatever it builds anyway is dropped by the caller.
    """

    env: str
    cluster: str | None
    platform: Platform
    sources: SourceMap
    spec_name: str
    wants: Callable[[str], bool] = everything
    _digests: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def provenance(self, source: str, tenant: str | None = None) -> dict[str, dict[str, str]]:
        """Labels and annotations every compiled object carries."""
        labels = dict(MANAGED_BY)
        if tenant is not None:
            labels[LABEL_TENANT] = tenant
        annotations = {
            ANNOTATION_SOURCE: f"{self.spec_name}#{source}",
            ANNOTATION_SOURCE_DIGEST: self.source_digest(source),
        }
        return {"labels": labels, "annotations": annotations}

    def source_digest(self, source: str) -> str:
        """`node_digest` of the node at ``source``, without dumping the whole platform
        (a selected compile needs a few of them): the node's enclosing model is dumped
        as the user wrote it (camelCase, absent fields left out)."""
        digest = self._digests.get(source)
        if digest is None:
            model, rest = _enclosing_model(self.platform, source)
            dumped = model.model_dump(mode="json", by_alias=True, exclude_none=True)
            digest = self._digests[source] = node_digest(dumped, rest)
        return digest

    @functools.cached_property
    def monitors_by_deployment(self) -> dict[str, list[str]]:
        """Deployment -> the names of the monitors watching it, sorted (an index, so that
        per-deployment lookups stay linear in the size of the platform)."""
        index: dict[str, list[str]] = {}
        for name, monitor in sorted(self.platform.monitors.items()):
            index.setdefault(monitor.deployment, []).append(name)
        return index

    def location(self, source: str) -> Location | None:
        return self.sources.value_location(source)


@dataclass
class CompileResult:
    artifacts: list[Artifact] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@runtime_checkable
class Compiler(Protocol):
    """What a compiler plugin implements. A compiler that takes long may also say so
    with a class attribute ``slow = True``: it then runs after the others (see
    compilers/ahead.py)."""

    name: ClassVar[str]

    def compile(self, ctx: CompileContext) -> CompileResult: ...


def tenant_path(tenant: str, kind: str, name: str) -> str:
    return f"tenants/{tenant}/{kind.lower()}-{name}.yaml"


def platform_path(kind: str, name: str) -> str:
    return f"platform/{kind.lower()}-{name}.yaml"


def node_digest(spec_data: dict[str, Any], source: str) -> str:
    """A short, stable digest of the spec node at ``source`` (a JSON pointer)."""
    node: Any = spec_data
    for token in source.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    text = json.dumps(node, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _enclosing_model(platform: Platform, source: str) -> tuple[BaseModel, str]:
    """The innermost model on the way to ``source``, and the rest of the pointer from it."""
    model: BaseModel = platform
    node: Any = platform
    rest: list[str] = []
    for raw in source.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, BaseModel):
            node = getattr(node, _field_names(type(node))[token])
        elif isinstance(node, dict):
            node = node[token]
        elif isinstance(node, list | tuple):
            node = node[int(token)]
        else:
            raise KeyError(source)
        rest.append(raw)
        if isinstance(node, BaseModel):
            model, rest = node, []
    return model, "".join("/" + token for token in rest)


@functools.cache
def _field_names(model: type[BaseModel]) -> dict[str, str]:
    """Alias (as in the spec) -> attribute name."""
    return {(info.alias or name): name for name, info in model.model_fields.items()}


def load_compilers(names: Sequence[str] = ()) -> list[Compiler]:
    """The registered compilers, by name order; only ``names`` when given."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    unknown = sorted(set(names) - set(found))
    if unknown:
        message = f"unknown compiler {unknown[0]!r}; installed: {', '.join(sorted(found))}"
        raise MlspecError(Diagnostic("MLS902", message))
    compilers: list[Compiler] = []
    for name in sorted(names or found):
        compiler = found[name].load()()
        if not isinstance(compiler, Compiler):
            message = f"entry point {name!r} does not provide a compiler"
            raise MlspecError(Diagnostic("MLS902", message))
        compilers.append(compiler)
    return compilers
