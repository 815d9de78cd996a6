"""Check every Kubernetes object mlspec writes against its upstream schema, strictly.

Custom resources are checked against the upstream CRDs shipped in ``mlspec/crds/``
(provenance in ``mlspec/crds/SOURCES.md``); core kinds against the strict JSON schemas
of the ``kubernetes-validate`` package for `KUBERNETES_VERSION`. "Strictly" means what
``kubeconform -strict`` means: a field the schema does not know is an error, because the
API server would silently prune it and the output would not mean what mlspec intended.

This module chooses the schema of an object and runs it; the parts live beside it:

* `mlspec.output.strictcrd`: the CRD table, and how a CRD's ``openAPIV3Schema`` becomes
  strict JSON Schema (unknown fields are errors, int-or-string, nullable...), shipped
  precompiled;
* ``metadata`` (CRDs leave it as a bare ``type: object``) is checked against the strict
  Kubernetes ``ObjectMeta`` schema, and `mlspec.output.k8snames` checks name, namespace,
  label and annotation syntax, which no JSON schema expresses;
* `mlspec.output.fastcheck` validates, with `jsonschema` as the fallback for a schema it
  cannot handle; ``pattern`` is matched with RE2, as the API server does
  (`mlspec.output.gopatterns`);
* `mlspec.output.schemamessages` turns validation errors into `SchemaProblem`s.

Not checked: CEL rules (``x-kubernetes-validations``), admission webhooks (except the
names in `mlspec.output.k8snames`), ``format`` and uniqueness of list-map keys.

Schemas are loaded lazily, once per process, and only for the kinds actually checked:
the InferenceService CRD alone is 2 MB of YAML.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mlspec.output.fastcheck import FastValidator, UnsupportedSchemaError
from mlspec.output.gopatterns import QUANTITY_PATTERN, go_search
from mlspec.output.k8snames import metadata_problems
from mlspec.output.schemamessages import SchemaProblem, error_problems, show
from mlspec.output.strictcrd import CRD_FILES as CRD_FILES
from mlspec.output.strictcrd import DEFINITIONS_ID, OBJECT_META_REF, crd_versions, regenerate
from mlspec.output.strictcrd import STRICT_DIR as STRICT_DIR
from mlspec.output.strictcrd import compile_crd as compile_crd
from mlspec.output.strictcrd import compiled_crd_files as compiled_crd_files

if TYPE_CHECKING:
    from referencing import Registry

__all__ = ["KUBERNETES_VERSION", "SchemaProblem", "check_object", "check_objects"]

# Schemas for core kinds. 1.37 only adds (mostly alpha) fields over 1.36, so output that
# passes against 1.36 also applies to 1.37; bump together with the kubernetes-validate pin.
KUBERNETES_VERSION = "1.36"

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def check_object(obj: dict[str, Any]) -> list[SchemaProblem]:
    """Every schema problem of one object, sorted; ``[]`` means it is valid.

    Never raises: a crash in the checker is reported as a problem, never as a pass.
    """
    try:
        problems = set(_check(obj))
    except Exception as exc:  # a crash must fail the check, whatever it was
        return [SchemaProblem("", f"schema check crashed: {type(exc).__name__}: {exc}")]
    return sorted(problems, key=lambda p: (p.path, p.message))


def check_objects(objs: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, list[SchemaProblem]]:
    """Check ``(file path, object)`` pairs; every path is a key, ``[]`` when all passed."""
    results: dict[str, list[SchemaProblem]] = {}
    for path, obj in objs:
        results.setdefault(path, []).extend(check_object(obj))
    return results


# --- choosing the schema --------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    """A ready validator for one (apiVersion, kind), or why there is none."""

    validator: Any = None
    refusal: SchemaProblem | None = None


def _check(obj: Any) -> Iterator[SchemaProblem]:
    if not isinstance(obj, dict):
        yield SchemaProblem("", f"expected a mapping, got {show(obj)}")
        return
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for field, value in (("apiVersion", api_version), ("kind", kind)):
        if not isinstance(value, str) or not value:
            yield SchemaProblem(f"/{field}", f"must be a non-empty string, got {show(value)}")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        return
    schema = _schema(api_version, kind)
    if schema.refusal is not None:
        yield schema.refusal
        return
    for error in schema.validator.iter_errors(obj):
        yield from error_problems(error)
    yield from metadata_problems(obj, api_version.rpartition("/")[0], kind)


@functools.cache
def _schema(api_version: str, kind: str) -> _Schema:
    group, _, version = api_version.rpartition("/")
    if (group, kind) in CRD_FILES:
        return _crd_schema(group, version, kind)
    core = _core_schema(group, version, kind)
    if core is not None:
        return _Schema(_validator(core))
    return _refuse("", f"no schema for {api_version} {kind}; mlspec cannot check it")


def _refuse(path: str, message: str) -> _Schema:
    return _Schema(refusal=SchemaProblem(path, message))


def _crd_schema(group: str, version: str, kind: str) -> _Schema:
    versions = crd_versions(group, kind)
    usable = [name for name, v in versions.items() if v["served"] and not v["deprecated"]]
    storage = [name for name in usable if versions[name]["storage"]] or usable
    use = f"; use {group}/{storage[0]}" if storage else ""
    chosen = versions.get(version)
    if chosen is None:
        return _refuse("/apiVersion", f"no schema for {group}/{version} {kind}{use}")
    if not chosen["served"]:
        return _refuse("/apiVersion", f"{group}/{version} {kind} is not served{use}")
    if chosen["deprecated"]:
        return _refuse("/apiVersion", f"{group}/{version} {kind} is deprecated{use}")
    schema = chosen["schema"]
    schema["properties"]["metadata"] = {"$ref": OBJECT_META_REF}
    return _Schema(_validator(schema))


def _core_schema(group: str, version: str, kind: str) -> dict[str, Any] | None:
    """kubernetes-validate's strict schema for a core kind, if it has one for exactly
    this group/version/kind (its file names drop the group's domain, so check)."""
    prefix = f"{group.split('.')[0]}-" if group else ""
    text = _k8s_schema_text(f"{kind.lower()}-{prefix}{version}.json")
    if text is None:
        return None
    schema = cast(dict[str, Any], json.loads(text))
    wanted = {"group": group, "version": version, "kind": kind}
    return schema if wanted in schema.get("x-kubernetes-group-version-kind", []) else None


def _k8s_schema_text(name: str) -> str | None:
    file = _k8s_schema_dir() / name
    return file.read_text(encoding="utf-8") if file.is_file() else None


@functools.cache
def _k8s_schema_dir() -> Traversable:
    """kubernetes-validate's schemas for `KUBERNETES_VERSION`, found without importing the
    package when it is a plain directory (its ``__init__`` imports jsonschema: 0.2 s)."""
    folder = ("kubernetes-json-schema", f"v{KUBERNETES_VERSION}.0-local-strict")
    spec = importlib.util.find_spec("kubernetes_validate")
    for location in (spec and spec.submodule_search_locations) or ():
        if Path(location, *folder).is_dir():
            return Path(location, *folder)
    return resources.files("kubernetes_validate").joinpath(*folder)


@functools.lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    """Kubernetes definitions (``ObjectMeta``, ``PodSpec``...) that the schemas ``$ref``."""
    text = _k8s_schema_text("_definitions.json")
    if text is None:
        raise RuntimeError(f"kubernetes-validate has no schemas for {KUBERNETES_VERSION}")
    definitions = cast(dict[str, Any], json.loads(text))
    # Upstream accepts any string as a quantity; the API server does not.
    definitions["$defs"][_QUANTITY]["pattern"] = QUANTITY_PATTERN
    return definitions


def _validator(schema: dict[str, Any]) -> Any:
    """The fast interpreter of Kubernetes' keyword subset; `jsonschema` for a schema that
    needs more."""
    try:
        return FastValidator(schema, _definitions()["$defs"], go_search)
    except UnsupportedSchemaError:
        return _jsonschema_validator(schema)


def _jsonschema_validator(schema: dict[str, Any]) -> Any:
    """`jsonschema`'s validator with Go patterns (format checking off: formats are
    annotations in 2020-12). Imported here: no shipped schema needs it, and importing it
    costs a tenth of a second."""
    return _strict_validator_class()(schema, registry=_registry())


@functools.cache
def _strict_validator_class() -> Any:
    import jsonschema  # type: ignore[import-untyped]

    def go_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
        """The ``pattern`` keyword with Go (RE2) semantics, as the API server applies it."""
        if isinstance(instance, str) and not go_search(pattern)(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, validators={"pattern": go_pattern}
    )


@functools.lru_cache(maxsize=1)
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource

    registry: Registry[Any] = Registry().with_resource(
        DEFINITIONS_ID, Resource.from_contents(_definitions())
    )
    return registry


if __name__ == "__main__":
    regenerate()
